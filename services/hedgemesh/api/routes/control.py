"""POST /v1/control/halt, /resume and /reduce-only: commands to the manager (request/reply);
POST /v1/execution/kill-switch: engage execution's kill switch.

Each needs an operator (or admin) token and is audited. The reply's state is echoed. 503 when
no manager (execution) answers (or none in time), 409 when it refuses the command (with its
reason code). The kill switch is engaged here and never released: the api's NATS user may send
execution `halt` and `status` only, so a compromised api cannot disarm it; releasing it is the
admin's (`hedgemesh kill-switch release`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from hedgemesh.api.adapters.desk import EXECUTION, MANAGER, DeskUnavailable
from hedgemesh.api.deps import Audit, Context, OperatorCaller
from hedgemesh.api.domain.views import ControlRequest, ControlResult
from hedgemesh.api.errors import (
    BAD_BODY,
    CONFLICT,
    ERROR_RESPONSES,
    FORBIDDEN,
    UNAVAILABLE,
    ApiError,
)
from hedgemesh.api.security.audit import Change
from hedgemesh.wire.ops import ControlAction, ControlCommand

router = APIRouter(
    tags=["control"],
    responses={**ERROR_RESPONSES, **BAD_BODY, **FORBIDDEN, **CONFLICT, **UNAVAILABLE},
)


async def send(
    context: Context,
    operator: str,
    action: ControlAction,
    body: ControlRequest | None,
    audit: Change,
    target: str = MANAGER,
) -> ControlResult:
    """Send `action` to `target` (the manager) as `operator`; the trading state before and the
    target's state after go to the audit trail."""
    state = context.model.trading_state
    audit.before = {"trading_state": None if state is None else state.value}
    command = ControlCommand(
        target=target,
        action=action,
        issued_by=operator,
        reason=body.reason if body is not None else "",
        ts=context.model.clock.now(),
    )
    try:
        reply = await context.desk.command(command)
    except DeskUnavailable as error:
        raise ApiError(503, str(error)) from None
    audit.after = dict(reply.state)
    if not reply.ok:
        raise ApiError(
            409,
            f"the {target} refused to {action.value}: {reply.detail or reply.reason}",
            code=reply.reason or "REFUSED",
            detail=dict(reply.state),
        )
    return ControlResult(
        ok=True,
        action=action.value,
        command_id=command.id,
        reason=reply.reason,
        detail=reply.detail,
        state=dict(reply.state),
    )


Endpoint = Callable[
    [Context, OperatorCaller, Audit, ControlRequest | None], Awaitable[ControlResult]
]


def _endpoint(action: ControlAction, doc: str) -> Endpoint:
    async def endpoint(
        context: Context, caller: OperatorCaller, audit: Audit, body: ControlRequest | None = None
    ) -> ControlResult:
        return await send(context, caller.name, action, body, audit)

    endpoint.__doc__ = doc
    endpoint.__name__ = f"control_{action.value}"
    return endpoint


for _path, _action, _doc in (
    ("halt", ControlAction.HALT, "Stop all hedging: the manager sends no more orders."),
    ("resume", ControlAction.RESUME, "Back to ACTIVE: the manager hedges normally."),
    (
        "reduce-only",
        ControlAction.REDUCE,
        "REDUCING: the manager approves only orders that reduce risk.",
    ),
):
    router.add_api_route(
        f"/v1/control/{_path}",
        _endpoint(_action, _doc),
        methods=["POST"],
        response_model=ControlResult,
        name=f"control_{_action.value}",
    )


@router.post("/v1/execution/kill-switch", response_model=ControlResult, name="engage_kill_switch")
async def engage_kill_switch(
    context: Context, caller: OperatorCaller, audit: Audit, body: ControlRequest | None = None
) -> ControlResult:
    """Engage execution's kill switch: every working order cancelled, every new one refused
    (it survives a restart). Releasing it needs the admin's NATS credentials, not the API."""
    return await send(context, caller.name, ControlAction.HALT, body, audit, target=EXECUTION)
