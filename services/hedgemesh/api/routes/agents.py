"""GET /v1/agents: every service instance's role and last heartbeat, each agent's last
proposal and budget (from the manager's status reply). GET /v1/desk: the desk degraded or
not, why, and the cluster clock's speed."""

from __future__ import annotations

from fastapi import APIRouter

from hedgemesh.api.adapters.desk import MANAGER, DeskUnavailable
from hedgemesh.api.deps import Context, ViewerCaller
from hedgemesh.api.domain.views import AgentsResponse, DeskResponse
from hedgemesh.api.errors import ERROR_RESPONSES
from hedgemesh.wire.ops import ControlAction, ControlCommand

router = APIRouter(tags=["manager"], responses=ERROR_RESPONSES)


async def refresh_manager_status(context: Context, operator: str) -> None:
    """Ask the manager for its status unless the last answer is recent enough (one question
    at a time); the read model keeps the answer, or why there is none."""
    model, max_age = context.model, context.settings.status_max_age_s
    async with context.status_lock:
        age = model.manager_status_age_s()
        if age is not None and age <= max_age:
            return
        command = ControlCommand(
            target=MANAGER, action=ControlAction.STATUS, issued_by=operator, ts=model.clock.now()
        )
        try:
            reply = await context.desk.command(command)
        except DeskUnavailable as error:
            model.on_manager_status(None, str(error))
            return
        if reply.ok:
            model.on_manager_status(dict(reply.state))
        else:
            model.on_manager_status(None, f"{reply.reason}: {reply.detail}")


@router.get("/v1/agents", response_model=AgentsResponse)
async def agents(context: Context, caller: ViewerCaller) -> AgentsResponse:
    """Agents and services as their heartbeats show them (role, state, age), each agent's
    last proposal, and its budget as the manager reports it (`manager.available` false, with
    the reason, when the manager does not answer)."""
    await refresh_manager_status(context, caller.name)
    return context.model.agents_view()


@router.get("/v1/desk", response_model=DeskResponse)
async def desk(context: Context, caller: ViewerCaller) -> DeskResponse:
    """Whether the desk keeps up (`degraded` with every cause), and the cluster's clock: the
    speed in force, the ceiling it is paced under, and why it last changed."""
    if context.watch is None:
        return DeskResponse(status="ok", causes=[], clock=None)
    return DeskResponse(**context.watch.view())
