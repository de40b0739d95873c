"""Trading state rules: what a control command sets, and when the manager degrades by itself.

- `halt` → HALTED: nothing is routed, every proposal is rejected `TRADING_HALTED`.
- `reduce` → REDUCING: only cycles whose orders shrink no greek's magnitude (per underlying);
  more is scaled away, `TRADING_REDUCING`.
- `resume` → ACTIVE.

The manager's own rule (`auto_state`): while a specialist slice it expects has no live leader
(no leader heartbeat within the timeout) it moves ACTIVE → REDUCING, saying which slices are
down, and back to ACTIVE once they are live again — but only undoing its own change (its reason
says so, whichever replica made it: a leader that took over undoes its predecessor's): a state
an operator set (HALTED, or REDUCING by hand) is never touched. On a live clock (speed 1: the
market cannot be slowed down for the desk) the same holds while a leader lags the market by more
than the manager's `reduce_lag_s`.
"""

from __future__ import annotations

from collections.abc import Iterable

from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.ops import ControlAction
from hedgemesh.wire.state import TradingStatus

__all__ = ["AUTO_REASON_PREFIX", "LAG_REASON_PREFIX", "STATE_OF_ACTION", "auto_state"]

STATE_OF_ACTION = {
    ControlAction.HALT: TradingState.HALTED,
    ControlAction.RESUME: TradingState.ACTIVE,
    ControlAction.REDUCE: TradingState.REDUCING,
}

#: How the manager's own REDUCING reason starts (so that it knows the change is its own).
AUTO_REASON_PREFIX = "no live leader for "
LAG_REASON_PREFIX = "the desk lags the live market: "


def auto_state(
    current: TradingStatus, down: Iterable[str], manager: str, lagging: Iterable[str] = ()
) -> TradingStatus | None:
    """The state the manager's own rule wants, or None to leave `current` as it is.

    `down`: the specialist slices with no live leader; `lagging`: who lags past the limit on a
    live clock (`<instance> 12.0 s behind`); `manager`: who sets it (changed_by). A REDUCING
    whose reason starts with `AUTO_REASON_PREFIX` or `LAG_REASON_PREFIX` is the manager's own,
    whichever replica set it.
    """
    missing = sorted(set(down))
    behind = sorted(set(lagging))
    own = current.reason.startswith((AUTO_REASON_PREFIX, LAG_REASON_PREFIX))
    if missing or behind:
        reason = (
            AUTO_REASON_PREFIX + ", ".join(missing)
            if missing
            else LAG_REASON_PREFIX + ", ".join(behind)
        )
        if current.state is TradingState.ACTIVE or (
            own and current.state is TradingState.REDUCING and current.reason != reason
        ):
            return TradingStatus(state=TradingState.REDUCING, reason=reason, changed_by=manager)
        return None
    if own and current.state is TradingState.REDUCING:
        return TradingStatus(
            state=TradingState.ACTIVE,
            reason="every slice has a live leader that keeps up",
            changed_by=manager,
        )
    return None
