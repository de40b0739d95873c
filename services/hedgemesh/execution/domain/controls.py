"""Pre-trade controls at the gateway: what execution refuses before an order reaches a book.

Pure (time is an argument, Unix seconds of the service clock). The engine asks, in this order:

- on arrival (`on_arrival`): the kill switch (`KILL_SWITCH`), the day's loss limit
  (`DAILY_LOSS_LIMIT`), the order-rate throttle (`ORDER_RATE_EXCEEDED`);
- once market data is there (`on_judge`): the notional of the order (`NOTIONAL_EXCEEDS_MAXIMUM`),
  the price collar against fair value (`PRICE_COLLAR`), the day's cumulative notional
  (`DAILY_NOTIONAL_EXCEEDED`).

Each denial is counted by reason (`denials`; the engine counts its own refusals, such as
`QUANTITY_EXCEEDS_MAXIMUM` and `DUPLICATE`, there too). Two controls also ask the desk to change
its trading state, which only the manager leader writes: the throttle tripping asks for
REDUCING, the loss limit for HALTED. The requests wait in `requests` for the service to send
(a `reduce` or `halt` command to the manager), one per trip.

The day is the UTC date of the clock: the day's notional (quantity × price × multiplier of every
order accepted, at its limit price, else at fair value) and the day's P&L (cash of the day's
fills, fees included, plus the positions they built marked at fair value) start afresh at
midnight UTC, and so does a loss-limit trip (the manager's HALTED stays until an operator
resumes).
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from datetime import date

from hedgemesh.execution.domain.reports import utc
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.ops import ControlAction
from hedgemesh.wire.orders import ExecutionReport, Order

__all__ = ["ControlLimits", "Controls", "Denial", "StateRequest"]


@dataclass(frozen=True, slots=True)
class ControlLimits:
    """The controls' settings (from `ExecutionSettings`)."""

    max_order_notional: float
    price_collar: float
    price_collar_min_ticks: float
    max_orders_per_window: int
    order_rate_window_s: float
    max_daily_notional: float
    max_daily_loss: float


@dataclass(frozen=True, slots=True)
class Denial:
    reason: ReasonCode
    text: str


@dataclass(frozen=True, slots=True)
class StateRequest:
    """Ask the manager to move the desk's trading state (`reduce` or `halt`)."""

    action: ControlAction
    reason: ReasonCode
    text: str


def order_notional(order: Order, price: float) -> float:
    """quantity × price × multiplier (currency)."""
    return order.quantity * price * order.instrument.multiplier


class Controls:
    """The gateway's controls and what they have counted (module docstring)."""

    def __init__(self, limits: ControlLimits) -> None:
        self.limits = limits
        self.denials: Counter[str] = Counter()
        self.requests: list[StateRequest] = []
        self.kill_switch: str | None = None
        """Why the kill switch is engaged, or None."""
        self.throttled = False
        self.loss_halted = False
        self.day: date | None = None
        self.day_notional = 0.0
        self.day_cash = 0.0
        self.day_positions: dict[str, tuple[Instrument, int]] = {}
        self._arrivals: deque[float] = deque()

    # -- the checks ----------------------------------------------------------------------------

    def on_arrival(self, now: float) -> Denial | None:
        """A new order arrived: the kill switch, the loss limit, the rate."""
        self._roll(now)
        if self.kill_switch is not None:
            return self._deny(ReasonCode.KILL_SWITCH, f"kill switch engaged: {self.kill_switch}")
        if self.loss_halted:
            text = f"the day's loss limit {self.limits.max_daily_loss:,.0f} was reached"
            return self._deny(ReasonCode.DAILY_LOSS_LIMIT, text)
        return self._throttle(now)

    def on_judge(self, order: Order, fair: float | None, tick_size: float) -> Denial | None:
        """An order with market data: its notional, its price against fair, the day's total.
        Without a fair value (a surface the pricer cannot value the option on) nothing can be
        checked, and the order is refused `PRICE_COLLAR`."""
        limits = self.limits
        if fair is None:
            text = f"no fair value for {order.instrument}: the collar cannot be checked"
            return self._deny(ReasonCode.PRICE_COLLAR, text)
        price = order.limit_price if order.limit_price is not None else fair
        notional = order_notional(order, price)
        if notional > limits.max_order_notional:
            text = f"notional {notional:,.0f} over the maximum {limits.max_order_notional:,.0f}"
            return self._deny(ReasonCode.NOTIONAL_EXCEEDS_MAXIMUM, text)
        if order.limit_price is not None:
            band = max(limits.price_collar * fair, limits.price_collar_min_ticks * tick_size)
            beyond = (order.limit_price - fair) * order.side.sign  # past fair, the way it trades
            if beyond > band:
                text = (
                    f"limit {order.limit_price:g} is {beyond:g} through fair value {fair:g} "
                    f"(collar {band:g})"
                )
                return self._deny(ReasonCode.PRICE_COLLAR, text)
        if self.day_notional + notional > limits.max_daily_notional:
            text = (
                f"the day's notional {self.day_notional:,.0f} + {notional:,.0f} is over "
                f"{limits.max_daily_notional:,.0f}"
            )
            return self._deny(ReasonCode.DAILY_NOTIONAL_EXCEEDED, text)
        return None

    def count(self, reason: ReasonCode) -> None:
        """Count a denial made elsewhere (the engine's quantity check, a duplicate id)."""
        self.denials[reason.value] += 1

    # -- what happened -------------------------------------------------------------------------

    def on_accepted(self, order: Order, price: float, now: float) -> None:
        """An order was accepted at the venue: its notional counts toward the day's."""
        self._roll(now)
        self.day_notional += order_notional(order, price)

    def on_fill(self, report: ExecutionReport, now: float) -> None:
        self._roll(now)
        assert report.last_quantity is not None and report.last_price is not None
        instrument = report.instrument
        signed = report.signed_last_quantity
        self.day_cash -= signed * report.last_price * instrument.multiplier + report.book_fees
        _, held = self.day_positions.get(instrument.symbol, (instrument, 0))
        self.day_positions[instrument.symbol] = (instrument, held + signed)

    def day_pnl(self, fair: dict[str, float]) -> float:
        """The day's P&L of execution's fills with positions marked at `fair` (by symbol; a
        position without a fair value is marked at nothing, so only cash counts for it)."""
        marked = sum(
            held * fair[symbol] * instrument.multiplier
            for symbol, (instrument, held) in self.day_positions.items()
            if held and symbol in fair
        )
        return self.day_cash + marked

    def check_loss(self, pnl: float, now: float) -> bool:
        """Trip the loss limit when `pnl` is below −max_daily_loss; True when it trips now."""
        self._roll(now)
        if self.loss_halted or pnl >= -self.limits.max_daily_loss:
            return False
        self.loss_halted = True
        text = f"the day's P&L {pnl:,.0f} is past the loss limit {self.limits.max_daily_loss:,.0f}"
        self.requests.append(StateRequest(ControlAction.HALT, ReasonCode.DAILY_LOSS_LIMIT, text))
        return True

    def take_requests(self) -> list[StateRequest]:
        requests, self.requests = self.requests, []
        return requests

    def state(self) -> dict[str, object]:
        """For the status reply."""
        return {
            "kill_switch": self.kill_switch,
            "throttled": self.throttled,
            "loss_halted": self.loss_halted,
            "day": None if self.day is None else self.day.isoformat(),
            "day_notional": self.day_notional,
            "denials": dict(self.denials),
        }

    # -- internals -----------------------------------------------------------------------------

    def _deny(self, reason: ReasonCode, text: str) -> Denial:
        self.count(reason)
        return Denial(reason, text)

    def _throttle(self, now: float) -> Denial | None:
        limits = self.limits
        arrivals = self._arrivals
        arrivals.append(now)
        while arrivals and arrivals[0] <= now - limits.order_rate_window_s:
            arrivals.popleft()
        if len(arrivals) <= limits.max_orders_per_window:
            self.throttled = False  # re-armed: a new burst asks again
            return None
        text = (
            f"{len(arrivals)} orders in {limits.order_rate_window_s:g} s, over "
            f"{limits.max_orders_per_window}"
        )
        if not self.throttled:
            self.throttled = True
            self.requests.append(
                StateRequest(ControlAction.REDUCE, ReasonCode.ORDER_RATE_EXCEEDED, text)
            )
        return self._deny(ReasonCode.ORDER_RATE_EXCEEDED, text)

    def _roll(self, now: float) -> None:
        today = utc(now).date()
        if today != self.day:
            self.day = today
            self.day_notional = self.day_cash = 0.0
            self.day_positions = {}
            self.loss_halted = False
