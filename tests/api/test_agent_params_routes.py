"""GET and PUT /v1/agents/{agent}/params on a fake desk: partial updates by field over KV
`agent_params`, compare-and-set (409), unknown agents (404), refused values (422), roles and
the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from api_examples import OPERATOR_TOKEN, VIEWER_TOKEN, desk_harness

from hedgemesh.api.domain.views import AgentParamsEntry, AuditResponse, ErrorBody
from hedgemesh.wire import subjects
from hedgemesh.wire.params import AgentParams

PATH = "/v1/agents/gamma-agent/params"


@pytest.fixture
def api(tmp_path):
    return desk_harness(tmp_path)


def stored(api, agent: str = "gamma-agent") -> tuple[AgentParams, int] | None:
    entry = api.desk.entries.get((subjects.KV_AGENT_PARAMS, agent))
    return None if entry is None else (AgentParams.model_validate(entry[0].model_dump()), entry[1])


async def put(api, body: Any, token: str = OPERATOR_TOKEN, path: str = PATH) -> Any:
    async with api.client(token=token) as client:
        return await client.put(path, json=body)


def error_of(response: Any) -> ErrorBody:
    return ErrorBody.model_validate_json(response.content)


async def test_given_none_stored_then_get_says_so_with_no_revision(api) -> None:
    async with api.client(token=VIEWER_TOKEN) as client:
        response = await client.get("/v1/agents/vega-agent/params")
    assert response.status_code == 200, response.text
    entry = AgentParamsEntry.model_validate_json(response.content)
    assert entry.agent == "vega-agent" and entry.revision is None
    assert entry.params.overrides() == {} and entry.changed_by is None


async def test_given_changes_by_field_then_each_keeps_the_others_and_null_restores_one(api):
    first = await put(api, {"enabled": False, "max_legs": 3, "revision": 0})
    assert first.status_code == 200, first.text
    assert first.json()["params"]["enabled"] is False and first.json()["changed_by"] == "olga"
    value, revision = stored(api) or pytest.fail("nothing stored")
    assert value.overrides() == {"enabled": False, "max_legs": 3} and value.changed_by == "olga"
    second = await put(api, {"band_fraction": 0.6, "target_fraction": 0.3, "max_legs": None})
    assert second.status_code == 200, second.text
    value, later = stored(api) or pytest.fail("nothing stored")
    assert later > revision and second.json()["revision"] == later
    assert value.overrides() == {"enabled": False, "band_fraction": 0.6, "target_fraction": 0.3}
    third = await put(api, {"band_fraction": 0.5})  # the stored target goes with it
    assert third.status_code == 200, third.text
    async with api.client(token=VIEWER_TOKEN) as client:
        read = AgentParamsEntry.model_validate_json((await client.get(PATH)).content)
    assert read.revision == third.json()["revision"] and read.params.band_fraction == 0.5
    assert stored(api, "vega-agent") is None  # one key per agent


async def test_given_a_stale_revision_then_409_and_nothing_changes(api) -> None:
    assert (await put(api, {"max_legs": 3})).status_code == 200
    _, revision = stored(api) or pytest.fail("nothing stored")
    assert (await put(api, {"max_legs": 4, "revision": revision})).status_code == 200
    stale = await put(api, {"max_legs": 5, "revision": revision})
    assert stale.status_code == 409 and error_of(stale).error == "STALE_REVISION"
    none_yet = await put(api, {"max_legs": 5, "revision": 0}, path="/v1/agents/vega-agent/params")
    assert none_yet.status_code == 200  # 0: nothing stored yet, and indeed nothing was
    assert (stored(api) or pytest.fail("gone"))[0].max_legs == 4


async def test_given_an_unknown_agent_then_404_naming_the_agents(api) -> None:
    response = await put(api, {"max_legs": 3}, path="/v1/agents/manager/params")
    assert response.status_code == 404 and "gamma-agent, vega-agent" in error_of(response).message
    async with api.client(token=VIEWER_TOKEN) as client:
        assert (await client.get("/v1/agents/nobody/params")).status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"max_legs": 0}, "greater than or equal to 1"),
        ({"band_fraction": 1.5, "target_fraction": 0.2}, "less than or equal to 1"),
        ({"band_fraction": 0.3}, "set together"),
        ({"band_fraction": 0.3, "target_fraction": 0.4}, "must not exceed band_fraction"),
        ({"price_move": "0.02"}, "valid number"),
        ({"enabled": "false"}, "valid boolean"),
        ({"kv_poll_s": 1.0}, "kv_poll_s"),
        ({"max_legs": 3, "revision": -1}, "greater than or equal to 0"),
    ],
)
async def test_given_a_bad_value_or_an_unknown_field_then_422_and_nothing_stored(
    api, body: dict[str, Any], reason: str
) -> None:
    response = await put(api, body)
    assert response.status_code == 422, response.text
    assert reason in response.text
    assert stored(api) is None


async def test_given_a_viewer_then_403_and_an_admin_may(api) -> None:
    refused = await put(api, {"max_legs": 3}, token=VIEWER_TOKEN)
    assert refused.status_code == 403 and stored(api) is None
    async with api.client() as admin:  # an admin's token by default
        assert (await admin.put(PATH, json={"max_legs": 3})).status_code == 200


async def test_given_changes_then_the_trail_shows_the_parameters_before_and_after(api) -> None:
    assert (await put(api, {"max_legs": 3})).status_code == 200
    assert (await put(api, {"enabled": False, "revision": 1})).status_code == 409
    assert (await put(api, {"enabled": False})).status_code == 200
    async with api.client(token=OPERATOR_TOKEN) as client:
        body = (await client.get("/v1/audit", params={"path": "/v1/agents/"})).content
    entries = AuditResponse.model_validate_json(body).entries
    by_status = sorted(((e.status, e.before, e.after) for e in entries), key=str)
    assert [e.actor for e in entries] == ["olga"] * 3
    revision = (stored(api) or pytest.fail("nothing stored"))[1]
    first, second = {"max_legs": 3}, {"max_legs": 3, "enabled": False}
    none = {"params": {}, "revision": None}
    assert (200, none, {"params": first, "revision": revision - 1}) in by_status
    before = {"params": first, "revision": revision - 1}
    assert (200, before, {"params": second, "revision": revision}) in by_status
    assert (409, {"params": {"max_legs": 3}, "revision": revision - 1}, None) in by_status
