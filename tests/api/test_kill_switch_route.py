"""POST /v1/execution/kill-switch: an operator engages execution's kill switch (a `halt` to
execution), audited; a viewer may not; nothing through the API releases it."""

from __future__ import annotations

from api_examples import OPERATOR_TOKEN, VIEWER_TOKEN, desk_harness

from hedgemesh.wire.ops import ControlAction


async def test_given_an_operator_then_the_kill_switch_is_engaged_and_audited(tmp_path) -> None:
    api = desk_harness(tmp_path)
    async with api.client(token=VIEWER_TOKEN) as viewer:
        refused = await viewer.post("/v1/execution/kill-switch", json={"reason": "x"})
    async with api.client(token=OPERATOR_TOKEN) as operator:
        engaged = await operator.post("/v1/execution/kill-switch", json={"reason": "runaway"})
        trail = (await operator.get("/v1/audit")).json()["entries"]
    assert refused.status_code == 403 and engaged.status_code == 200, engaged.text
    (command,) = api.desk.commands
    assert (command.target, command.action, command.issued_by, command.reason) == (
        "execution", ControlAction.HALT, "olga", "runaway"
    )  # fmt: skip
    assert [(e["actor"], e["path"], e["status"]) for e in trail] == [
        ("olga", "/v1/execution/kill-switch", 200),
        ("dashboard", "/v1/execution/kill-switch", 403),
    ]
    async with api.client() as admin:
        assert (await admin.delete("/v1/execution/kill-switch")).status_code == 405
