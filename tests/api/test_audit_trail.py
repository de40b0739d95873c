"""The audit trail through the app: every mutating call recorded with who, what, before, after,
when and its answer (refusals too), and read back through GET /v1/audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from api_examples import OPERATOR_TOKEN, VIEWER_TOKEN, desk_harness
from sqlalchemy import create_engine, text

from hedgemesh.api.adapters.records import StoreUnavailable
from hedgemesh.api.domain.views import AuditResponse, AuditView
from hedgemesh.api.security.audit import MAX_BODY_BYTES, body_value
from hedgemesh.wire import subjects
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.state import TradingStatus


@pytest.fixture
def api(tmp_path):
    return desk_harness(tmp_path)


async def trail(api, **params: Any) -> list[AuditView]:
    async with api.client() as client:
        response = await client.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    return AuditResponse.model_validate_json(response.content).entries


async def test_given_a_limit_change_then_the_trail_shows_who_what_before_and_after(api) -> None:
    started = datetime.now(UTC)
    async with api.client() as client:
        changed = await client.put(
            "/v1/limits/SPX.max_abs_delta", json={"value": 1200, "revision": 1}
        )
    assert changed.status_code == 200, changed.text
    (entry,) = await trail(api)
    assert (entry.actor, entry.role, entry.method, entry.path, entry.status) == (
        "alice",
        "admin",
        "PUT",
        "/v1/limits/SPX.max_abs_delta",
        200,
    )
    assert entry.body == {"value": 1200, "revision": 1}
    assert entry.before == {"value": 1500.0, "revision": 1}
    assert entry.after == {"value": 1200.0, "revision": 2}
    assert started <= entry.at <= datetime.now(UTC)


async def test_given_reads_and_unauthenticated_calls_then_nothing_is_audited(api) -> None:
    async with api.client() as client:
        await client.get("/v1/limits")
        await client.get("/v1/positions?underlying=SPX")
    async with api.client(token=None) as anonymous:
        refused = await anonymous.put("/v1/limits/SPX.max_abs_delta", json={"value": 1})
    assert refused.status_code == 401
    assert await trail(api) == []


async def test_given_refused_changes_then_they_are_audited_with_their_status(api) -> None:
    async with api.client(token=VIEWER_TOKEN) as viewer:
        forbidden = await viewer.put("/v1/limits/SPX.max_abs_delta", json={"value": 1})
    async with api.client() as admin:
        stale = await admin.put("/v1/limits/SPX.max_abs_delta", json={"value": 2, "revision": 9})
        invalid = await admin.put("/v1/limits/SPX.max_abs_delta", json={"value": -5})
        unknown = await admin.put("/v1/limits/SPX.no_such_limit", json={"value": 1})
    assert [r.status_code for r in (forbidden, stale, invalid, unknown)] == [403, 409, 422, 404]
    entries = await trail(api)
    assert [(e.actor, e.status) for e in entries] == [
        ("alice", 404),
        ("alice", 422),
        ("alice", 409),
        ("dashboard", 403),
    ]
    assert entries[2].before == {"value": 1500.0, "revision": 1} and entries[2].after is None
    assert entries[3].before is None and entries[3].body == {"value": 1}
    stored, revision = api.desk.entries[(subjects.KV_LIMITS, "SPX")]
    assert stored.max_abs_delta == 1500.0 and revision == 1  # none of them changed anything


async def test_given_a_halt_then_the_trail_shows_the_trading_state_before_and_after(api) -> None:
    api.model.on_trading_status(TradingStatus(state=TradingState.ACTIVE, changed_by="manager"))
    async with api.client(token=OPERATOR_TOKEN) as client:
        halted = await client.post("/v1/control/halt", json={"reason": "drill"})
    assert halted.status_code == 200
    (entry,) = await trail(api)
    assert (entry.actor, entry.role, entry.path) == ("olga", "operator", "/v1/control/halt")
    assert entry.body == {"reason": "drill"}
    assert entry.before == {"trading_state": "ACTIVE"}
    assert entry.after == {"trading_state": "HALTED"}


async def test_given_many_entries_then_filters_and_paging_by_before_id(api) -> None:
    async with api.client() as admin:
        for value in (1000, 1100, 1200):
            await admin.put("/v1/limits/SPX.max_abs_delta", json={"value": value})
    async with api.client(token=OPERATOR_TOKEN) as operator:
        await operator.post("/v1/control/halt")
        await operator.post("/v1/control/resume")
    assert len(await trail(api)) == 5
    assert [e.path for e in await trail(api, actor="olga")] == [
        "/v1/control/resume",
        "/v1/control/halt",
    ]
    assert len(await trail(api, path="/v1/limits/")) == 3
    assert len(await trail(api, method="PUT", status=200)) == 3
    assert await trail(api, status=500) == []
    first = await trail(api, limit=2)
    second = await trail(api, limit=2, before_id=first[-1].id)
    third = await trail(api, limit=2, before_id=second[-1].id)
    assert [e.id for e in first + second + third] == sorted(
        (e.id for e in await trail(api)), reverse=True
    )
    assert len(third) == 1
    assert [e.body for e in second] == [{"value": 1200}, {"value": 1100}]


def _break_the_trail(api) -> None:
    """A real failure: the audit table is gone from the database the API writes."""
    engine = create_engine(api.store_url)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE api_audit RENAME TO api_audit_gone"))
    engine.dispose()


async def test_given_the_trail_cannot_be_written_then_a_halt_is_refused_503_and_not_sent(
    api, caplog
) -> None:
    api.model.on_trading_status(TradingStatus(state=TradingState.ACTIVE, changed_by="manager"))
    _break_the_trail(api)
    async with api.client(token=OPERATOR_TOKEN) as client:
        halted = await client.post("/v1/control/halt", json={"reason": "drill"})
        changed = await client.put("/v1/agents/gamma-agent/params", json={"enabled": False})
    assert halted.status_code == changed.status_code == 503
    assert halted.json()["error"] == "AUDIT_UNAVAILABLE"
    assert api.desk.commands == []  # the manager never heard of it: nothing changed
    assert (subjects.KV_AGENT_PARAMS, "gamma-agent") not in api.desk.entries
    assert "the audit trail cannot be written" in caplog.text


async def test_given_the_store_fails_after_the_change_then_an_error_says_it_is_unrecorded(
    api, monkeypatch, caplog
) -> None:
    def broken(_entry: Any) -> int:
        raise StoreUnavailable("the store could not write the audit entry: disk full")

    monkeypatch.setattr(api.context.records, "record_audit", broken)
    async with api.client() as client:
        changed = await client.put("/v1/limits/SPX.max_abs_delta", json={"value": 1300})
    assert changed.status_code == 200  # the probe passed, the change was made: say so
    assert "PUT /v1/limits/SPX.max_abs_delta (answered 200) was not stored" in caplog.text


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"", None),
        (b'{"value": 1}', {"value": 1}),
        (b"[1, 2]", [1, 2]),
        (b'{"value": NaN}', '{"value": NaN}'),  # not JSON: kept as text
        (b"\xff\xfe", "\ufffd\ufffd"),
    ],
)
def test_given_a_body_then_the_trail_keeps_its_json_or_its_text(raw: bytes, value: Any) -> None:
    assert body_value(raw, len(raw)) == value


def test_given_an_oversized_body_then_its_head_and_size_are_kept() -> None:
    head = b"x" * MAX_BODY_BYTES
    kept = body_value(head, MAX_BODY_BYTES + 10)
    assert kept.startswith("xxx") and kept.endswith(f"({MAX_BODY_BYTES + 10} bytes)")


async def test_given_an_oversized_body_then_the_audit_keeps_only_its_head(api) -> None:
    async with api.client() as client:
        response = await client.post(
            "/v1/control/halt",
            content=b'{"reason": "' + b"y" * (2 * MAX_BODY_BYTES) + b'"}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422
    (entry,) = await trail(api)
    assert isinstance(entry.body, str) and len(entry.body) < MAX_BODY_BYTES + 64
