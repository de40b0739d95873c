"""GET and PUT /v1/agents/{agent}/params: an agent's live parameters in KV `agent_params`.

Each parameter overrides the agent's environment setting of the same name; both replicas of
the agent read their key every `kv_poll_s` and run with it from their next cycle on. A change
is a compare-and-set on the KV entry, as for the limits: two concurrent changes cannot both win
(409 for the loser), and one sent with the revision read before is refused (409) when someone
else changed the parameters since.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import ValidationError

from hedgemesh.api.adapters.cas import refuse_stale, store_if_unchanged
from hedgemesh.api.adapters.desk import DeskUnavailable
from hedgemesh.api.deps import Audit, DeskPort, Model, OperatorCaller, ViewerCaller
from hedgemesh.api.domain.views import AgentParamsChange, AgentParamsEntry
from hedgemesh.api.errors import (
    BAD_BODY,
    CONFLICT,
    ERROR_RESPONSES,
    FORBIDDEN,
    NOT_FOUND,
    UNAVAILABLE,
    ApiError,
)
from hedgemesh.runtime.kv import Versioned
from hedgemesh.wire import subjects
from hedgemesh.wire.params import AGENTS, PARAMETERS, AgentParams, ParamValues

router = APIRouter(tags=["agents"], responses=ERROR_RESPONSES)

AgentName = Annotated[
    str,
    Path(max_length=64, description=f"The agent service: {' or '.join(AGENTS)}."),
]


async def _current(desk: DeskPort, agent: str) -> Versioned[AgentParams] | None:
    if agent not in AGENTS:
        raise ApiError(404, f"no agent {agent!r}; agents: {', '.join(AGENTS)}")
    try:
        return await desk.get(subjects.KV_AGENT_PARAMS, agent, AgentParams)
    except DeskUnavailable as error:
        raise ApiError(503, str(error)) from None


def _entry(agent: str, current: Versioned[AgentParams] | None) -> AgentParamsEntry:
    if current is None:
        return AgentParamsEntry(
            agent=agent, revision=None, params=ParamValues(), changed_by=None, changed_at=None
        )
    value = current.value
    return AgentParamsEntry(
        agent=agent,
        revision=current.revision,
        params=ParamValues(**value.overrides()),
        changed_by=value.changed_by,
        changed_at=value.ts,
    )


def _audited(entry: AgentParamsEntry) -> dict[str, object]:
    return {"params": entry.params.overrides(), "revision": entry.revision}


@router.get("/v1/agents/{agent}/params", response_model=AgentParamsEntry,
            responses={**NOT_FOUND, **UNAVAILABLE})  # fmt: skip
async def get_params(agent: AgentName, desk: DeskPort, caller: ViewerCaller) -> AgentParamsEntry:
    """The agent's live parameters (null: its environment setting) and their KV revision, to
    send back with a change."""
    return _entry(agent, await _current(desk, agent))


@router.put(
    "/v1/agents/{agent}/params",
    response_model=AgentParamsEntry,
    responses={**BAD_BODY, **FORBIDDEN, **NOT_FOUND, **CONFLICT, **UNAVAILABLE},
)
async def put_params(
    agent: AgentName,
    change: AgentParamsChange,
    model: Model,
    desk: DeskPort,
    caller: OperatorCaller,
    audit: Audit,
) -> AgentParamsEntry:
    """Change some of the agent's live parameters (compare-and-set on KV `agent_params`); both
    replicas apply them within `kv_poll_s`. Needs an operator's or an admin's token; audited
    (`GET /v1/audit`) with the parameters and revision before and after."""
    current = await _current(desk, agent)
    before = _entry(agent, current)
    audit.before = _audited(before)
    held = before.revision or 0
    what = f"the parameters of {agent}"
    refuse_stale(what, held, change.revision)
    changed = {name: getattr(change, name) for name in change.model_fields_set & set(PARAMETERS)}
    merged = {**before.params.overrides(), **changed}
    try:
        updated = AgentParams(
            agent=agent,
            changed_by=caller.name,
            ts=model.clock.now(),
            **{name: value for name, value in merged.items() if value is not None},
        )
    except ValidationError as error:
        reasons = "; ".join(e["msg"] for e in error.errors())
        raise ApiError(422, f"{what} are refused: {reasons}") from None
    revision = await store_if_unchanged(
        desk, subjects.KV_AGENT_PARAMS, agent, updated, last=held, what=what
    )
    after = _entry(agent, Versioned(updated, revision))
    audit.after = _audited(after)
    return after
