"""The execution engine: orders in, execution reports out, over the simulated venue. No I/O.

`Engine` keeps one `hedgemesh.venue.Venue` (a book per instrument, each quoted by a synthetic
liquidity provider around fair value, and an algorithm per working order) and turns what
arrives into the `ExecutionReport`s it causes, in order:

- `receive(order, now)`: a new order (already stored): the epoch fence, then `_judge`;
- `resume(order, status, seq, fills, accepted_at, now)`: an order the store holds as working
  after a restart; worked on from where its stored reports leave it;
- `on_tick`, `on_surface`: market data; books are created and re-quoted (which can fill a
  resting order), and orders waiting for this underlying's market data are judged;
- `on_time(now)`: depth refills, TWAP slices, day orders expiring at the session close,
  options expiring, and orders that waited too long for market data; `next_wakeup()` says when.

Judging an order (in this order): the underlying is traded here, the quantity is within the
maximum, there is market data (else it waits up to `market_data_wait_s`), the instrument is
listed (an option: an expiry of the current surface, the listed multiplier) and not expired;
then the venue's algorithm validates its limit and works it. Refusals are REJECTED reports with
a `ReasonCode`. The epoch fence: the highest manager epoch seen on any order; an order with a
lower epoch is REJECTED `STALE_EPOCH` (a fenced-off leader must not trade).

Time is seconds since the Unix epoch, never read from a clock here; callers pass a value that
never goes backwards.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from hedgemesh.execution.domain.controls import Controls
from hedgemesh.execution.domain.params import EngineParams
from hedgemesh.execution.domain.reports import OrderRecord, utc
from hedgemesh.market.view import MarketView
from hedgemesh.venue.algos import ParentOrder, ParentUpdate
from hedgemesh.venue.simulator import Venue
from hedgemesh.venue.spec import BookSpec
from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.instruments import Instrument
from hedgemesh.wire.market import Surface, Tick
from hedgemesh.wire.orders import ExecStatus, ExecutionReport, Order

if TYPE_CHECKING:
    from hedgemesh.records.execution import StoredOrder


def next_close(now: float, close: time) -> float:
    """The first session close (UTC time of day `close`) strictly after `now` (Unix seconds).

    >>> utc(next_close(utc_seconds("2024-01-02T20:59:00"), time(21))).isoformat()
    '2024-01-02T21:00:00+00:00'
    >>> utc(next_close(utc_seconds("2024-01-02T21:00:00"), time(21))).isoformat()
    '2024-01-03T21:00:00+00:00'
    """
    today = datetime.combine(utc(now).date(), close, tzinfo=UTC)
    at = today if today.timestamp() > now else today + timedelta(days=1)
    return at.timestamp()


def utc_seconds(iso: str) -> float:
    """Unix seconds of an ISO time read as UTC (for examples and tests)."""
    return datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class Quote:
    """A book's best prices (currency; None for an empty side) and its depth per side."""

    bid: float | None
    ask: float | None
    bid_depth: list[tuple[float, int]]
    ask_depth: list[tuple[float, int]]


class Engine:
    """The venue and the orders it works; see the module docstring."""

    def __init__(self, params: EngineParams) -> None:
        self.params = params
        self.venue_spec = params.venue
        self.market = MarketView()
        """The latest tick and surface of each underlying traded here."""
        self.venue = Venue()
        self.fence = 0
        """The highest manager epoch seen; orders from a lower one are refused."""
        self.controls = Controls(params.controls)
        """The pre-trade controls (`hedgemesh.execution.domain.controls`) and their counts."""
        self.orders: dict[str, OrderRecord] = {}
        """Orders not yet final: working at the venue or waiting for market data."""
        self._waiting: dict[str, OrderRecord] = {}
        self._options: dict[str, dict[str, Instrument]] = {}  # underlying -> books of options
        self._expiries: dict[str, float] = {}  # option books not yet expired -> expiry (s)
        self._expired: set[str] = set()
        self._traded = frozenset(params.underlyings)
        self._behind: set[str] = set()
        """Books not re-quoted since their underlying's market moved: quoted when next used
        (an order, a quote asked for)."""
        self._underlying_of: dict[str, str] = {}  # book -> its underlying
        self._latest = -math.inf  # the latest time the engine was told
        self._loss_checked = False  # the day's loss checked since the market or fills moved

    # -- orders ------------------------------------------------------------------------------

    def knows(self, client_order_id: str) -> bool:
        """Whether the order is being worked or judged here (a repeat of it is a duplicate)."""
        return client_order_id in self.orders

    def raise_fence(self, epoch: int) -> None:
        self.fence = max(self.fence, epoch)

    def receive(
        self, order: Order, now: float, *, fence: int | None = None
    ) -> list[ExecutionReport]:
        """A new order: refused when its epoch is older than the fence (`fence`: the one it met
        when it arrived, for an order judged after a restart), else judged. A client's order
        (`counterparty`, from FIX) is not fenced and does not move the fence."""
        self._latest = max(self._latest, now)
        record = self._record(order)
        fence = self.fence if fence is None else fence
        if order.counterparty is None:  # a client's order has no manager epoch to fence
            if order.epoch < fence:
                text = f"epoch {order.epoch} is older than epoch {fence} already seen"
                self.controls.count(ReasonCode.STALE_EPOCH)
                return [record.rejected(ReasonCode.STALE_EPOCH, text, now)]
            self.raise_fence(order.epoch)
        self.check_loss(now)
        denial = self.controls.on_arrival(now)
        if denial is not None:
            return [record.rejected(denial.reason, denial.text, now)]
        self.orders[order.client_order_id] = record
        return self._judge(record, now)

    def resume(
        self,
        order: Order,
        *,
        seq: int,
        fills: Iterable[ExecutionReport],
        accepted_at: datetime | None,
        now: float,
        fence: int | None = None,
    ) -> list[ExecutionReport]:
        """An order the store holds as working after a restart.

        `seq` is its last stored report's, `fills` its stored fills, `accepted_at` the time of
        its ACCEPTED report (None when it was stored but never reported on: it is judged as a
        new order, against `fence`, the fence as it stood when it arrived: the highest epoch
        stored before it; orders stored after it may carry a higher one). Otherwise its
        algorithm restarts where the fills leave it: a TWAP on its original schedule from
        `accepted_at`, catching up on slices that fell due meanwhile; a marketable limit or
        iceberg with what is left.
        """
        if accepted_at is None:
            return self.receive(order, now, fence=fence)
        self._latest = max(self._latest, now)
        record = self._record(order)
        record.seq = seq
        self.raise_fence(order.epoch)
        cum = notional = 0
        for fill in fills:
            assert fill.last_quantity is not None and fill.last_price is not None
            cum += fill.last_quantity
            notional += round(fill.last_price / record.tick_size) * fill.last_quantity
        record.status = ExecStatus.PARTIALLY_FILLED if cum else ExecStatus.ACCEPTED
        record.arrival_price = next((f.arrival_price for f in fills if f.arrival_price), None)
        record.resume = {
            "cum_quantity": cum,
            "cum_notional_ticks": notional,
            "started_at": accepted_at.timestamp(),
        }
        if self.controls.kill_switch is not None:  # engaged before the restart: never worked on
            text = f"kill switch engaged: {self.controls.kill_switch}"
            return [record.closed(ExecStatus.CANCELLED, ReasonCode.KILL_SWITCH, text, now)]
        self.orders[order.client_order_id] = record
        return self._judge(record, now)

    # -- controls ----------------------------------------------------------------------------

    def engage_kill_switch(self, reason: str, now: float) -> list[ExecutionReport]:
        """Refuse every new order and cancel every working one (`KILL_SWITCH`)."""
        self._latest = max(self._latest, now)
        self.controls.kill_switch = reason or "engaged"
        text = f"kill switch engaged: {self.controls.kill_switch}"
        reports: list[ExecutionReport] = []
        for record in list(self.orders.values()):
            if not self._open(record):
                continue
            if record.client_order_id in self._waiting:
                self._waiting.pop(record.client_order_id)
                self.orders.pop(record.client_order_id, None)
                if record.resume is None:
                    reports.append(record.rejected(ReasonCode.KILL_SWITCH, text, now))
                else:
                    reports.append(
                        record.closed(ExecStatus.CANCELLED, ReasonCode.KILL_SWITCH, text, now)
                    )
                continue
            updates = self.venue.cancel(record.client_order_id, now, ReasonCode.KILL_SWITCH)
            reports += self._reports(updates, now)
        return reports

    def cancel(
        self, client_order_id: str, now: float, text: str = "cancelled by request"
    ) -> list[ExecutionReport]:
        """Cancel one working order (`CANCELLED_BY_REQUEST`); [] when it is not working."""
        record = self.orders.get(client_order_id)
        if record is None:
            return []
        if client_order_id in self._waiting:  # not at the venue yet: nothing filled
            self._waiting.pop(client_order_id)
            del self.orders[client_order_id]
            return [record.closed(ExecStatus.CANCELLED, ReasonCode.CANCELLED_BY_REQUEST, text, now)]
        updates = self.venue.cancel(client_order_id, now, ReasonCode.CANCELLED_BY_REQUEST)
        return self._reports(updates, now)

    def filled(self, client_order_id: str) -> tuple[int, float]:
        """A working order's filled quantity and Σ price × quantity of its fills (currency);
        (0, 0.0) for one not at the venue."""
        algo = self.venue.working.get(client_order_id)
        record = self.orders.get(client_order_id)
        if algo is None or record is None:
            return 0, 0.0
        return algo.cum_quantity, algo.cum_notional_ticks * record.tick_size

    def release_kill_switch(self) -> None:
        self.controls.kill_switch = None

    def replay_day(self, orders: Iterable[StoredOrder], reports: Iterable[ExecutionReport]) -> None:
        """Rebuild the day's notional and P&L from stored orders and reports (at start-up)."""
        stored = {o.client_order_id: o for o in orders}
        for report in reports:
            at = report.ts.timestamp()
            order = stored.get(report.client_order_id)
            if report.status is ExecStatus.ACCEPTED and order is not None:
                price = order.order.limit_price or order.avg_price or 0.0
                self.controls.on_accepted(order.order, price, at)
            elif report.is_fill:
                self.controls.on_fill(report, at)

    def wants_rounds(self) -> bool:
        """Whether `on_time` has work at every refill interval: an order works at the venue
        (refills, algorithm timers), or the day's loss is to be re-marked after a move."""
        controls = self.controls
        held = bool(controls.day_positions or controls.day_cash)
        return bool(self.venue.working) or (held and not self._loss_checked)

    def check_loss(self, now: float) -> bool:
        """Mark the day's fills at fair value; True when the loss limit trips now. Not judged
        while a position has no fair value (no market data yet, after a restart): a position
        marked at nothing would look like a loss of all it cost."""
        controls = self.controls
        if not controls.day_positions and not controls.day_cash:
            return False
        if self._loss_checked and utc(now).date() == controls.day:
            return False  # neither the market nor the fills moved since the last check
        self._loss_checked = True
        fair = self._fair_values()
        held = {symbol for symbol, (_, quantity) in controls.day_positions.items() if quantity}
        if not held <= fair.keys():
            return False
        return controls.check_loss(controls.day_pnl(fair), now)

    # -- market data -------------------------------------------------------------------------

    def on_tick(self, tick: Tick, now: float) -> list[ExecutionReport]:
        self._latest = max(self._latest, now)
        if not self._trades(tick.underlying):
            return []
        self.market.apply_tick(tick)
        self._loss_checked = False
        return self._market_moved(tick.underlying, now) + self._retry_waiting(tick.underlying, now)

    def on_surface(self, surface: Surface, now: float) -> list[ExecutionReport]:
        """Raises ValueError for a surface the quant library refuses (nothing changes)."""
        self._latest = max(self._latest, now)
        if not self._trades(surface.underlying):
            return []
        self.market.apply_surface(surface)
        self._loss_checked = False
        underlying = surface.underlying
        return self._market_moved(underlying, now) + self._retry_waiting(underlying, now)

    # -- time --------------------------------------------------------------------------------

    def on_time(self, now: float) -> list[ExecutionReport]:
        """Everything due by `now`: expiries, waits run out, depth refills, algorithm timers."""
        self._latest = max(self._latest, now)
        reports: list[ExecutionReport] = []
        for symbol, expiry in list(self._expiries.items()):
            if expiry <= now:
                reports += self._expire_instrument(symbol, now)
        for record in list(self.orders.values()):
            if record.closes_at is not None and record.closes_at <= now and self._open(record):
                reports += self._expire_day_order(record, now)
        limit = self.params.market_data_wait_s
        for record in list(self._waiting.values()):
            since = record.waiting_since
            if (
                record.resume is None
                and since is not None
                and now - since >= limit
                and self._open(record)
            ):
                underlying = record.order.instrument.underlying
                del self._waiting[record.client_order_id]
                text = f"no market data for {underlying} within {limit:g} s"
                reports += self._reject(record, ReasonCode.UNKNOWN_INSTRUMENT, text, now)
        # a book where nothing works refills when next quoted (`LiquidityProvider` decays
        # what is missing by the time passed, whenever it is asked)
        reports += self._reports(self.venue.on_time(now, refill=self.venue.working_symbols()), now)
        self.check_loss(now)
        return reports

    def next_wakeup(self) -> float | None:
        """The earliest time `on_time` has something due (besides depth refills)."""
        times = [self.venue.next_wakeup()]
        times += [r.closes_at for r in self.orders.values()]
        limit = self.params.market_data_wait_s
        times += [
            r.waiting_since + limit
            for r in self._waiting.values()
            if r.waiting_since is not None and r.resume is None
        ]
        times += self._expiries.values()
        return min((t for t in times if t is not None), default=None)

    # -- queries -----------------------------------------------------------------------------

    def quote(self, symbol: str, levels: int | None = None) -> Quote | None:
        """The book of `symbol` at the market last received, or None when there is none."""
        book = self.venue.books.get(symbol)
        if book is None:
            return None
        if symbol not in self.venue.working_symbols():  # (refilled by on_time where one works)
            self._requote(self._underlying_of[symbol], self._latest, only={symbol})  # no reports
        bid, ask = book.best_bid(), book.best_ask()
        return Quote(
            None if bid is None else book.to_price(bid),
            None if ask is None else book.to_price(ask),
            [(book.to_price(p), q) for p, q in book.depth(1, levels)],
            [(book.to_price(p), q) for p, q in book.depth(-1, levels)],
        )

    # -- internals: judging ------------------------------------------------------------------

    def _record(self, order: Order) -> OrderRecord:
        return OrderRecord(order, self._book(order.instrument))

    def _book(self, instrument: Instrument) -> BookSpec:
        return self.venue_spec.book(instrument)

    def _trades(self, underlying: str) -> bool:
        return not self._traded or underlying in self._traded

    def _judge(self, record: OrderRecord, now: float) -> list[ExecutionReport]:
        order = record.order
        instrument = order.instrument
        if not self._trades(instrument.underlying):
            text = f"{instrument.underlying} is not traded here"
            return self._reject(record, ReasonCode.UNKNOWN_INSTRUMENT, text, now)
        if record.resume is None and order.quantity > self.params.max_order_quantity:
            text = f"{order.quantity} is over the maximum {self.params.max_order_quantity}"
            self.controls.count(ReasonCode.QUANTITY_EXCEEDS_MAXIMUM)
            return self._reject(record, ReasonCode.QUANTITY_EXCEEDS_MAXIMUM, text, now)
        if record.is_day and record.closes_at is None:  # from arrival, or the first acceptance
            started = (record.resume or {}).get("started_at", now)
            record.closes_at = next_close(float(started), self.params.session_close_utc)
        if not self._has_market(instrument):
            if record.waiting_since is None:
                record.waiting_since = now
            self._waiting[record.client_order_id] = record
            return []
        self._waiting.pop(record.client_order_id, None)
        record.waiting_since = None
        problem = self._listing_problem(instrument, now)
        if problem is not None:
            if record.resume is not None:
                return self._close_waiting(record, *problem, now)
            return self._reject(record, *problem, now)
        if record.resume is None:
            denial = self.controls.on_judge(order, self._fair(instrument), record.tick_size)
            if denial is not None:
                return self._reject(record, denial.reason, denial.text, now)
        reports = self._open_book(instrument, now)
        if record.arrival_price is None:
            record.arrival_price = self._mid(record.symbol) or self._fair(instrument)
        resume = record.resume or {}
        parent = ParentOrder.from_wire(order, record.tick_size)
        return reports + self._reports(self.venue.submit(record.symbol, parent, now, **resume), now)

    def _has_market(self, instrument: Instrument) -> bool:
        underlying = instrument.underlying
        if self.market.spot(underlying) is None:
            return False
        return not instrument.is_option or self.market.has_surface(underlying)

    def _listing_problem(self, instrument: Instrument, now: float) -> tuple[ReasonCode, str] | None:
        if not instrument.is_option:
            return None
        expiry = instrument.expiry
        assert expiry is not None
        if expiry.timestamp() <= now or instrument.symbol in self._expired:
            return ReasonCode.INSTRUMENT_EXPIRED, f"{instrument} expired at {expiry.isoformat()}"
        if expiry not in self.market.listed_expiries(instrument.underlying):
            return ReasonCode.UNKNOWN_INSTRUMENT, f"{instrument}: expiry not listed"
        if instrument.multiplier != self.venue_spec.option.multiplier:
            text = f"{instrument}: multiplier {instrument.multiplier:g} is not the listed one"
            return ReasonCode.UNKNOWN_INSTRUMENT, text
        return None

    def _reject(
        self, record: OrderRecord, reason: ReasonCode, text: str, now: float
    ) -> list[ExecutionReport]:
        self.orders.pop(record.client_order_id, None)
        return [record.rejected(reason, text, now)]

    def _close_waiting(
        self, record: OrderRecord, reason: ReasonCode, text: str, now: float
    ) -> list[ExecutionReport]:
        """End an order that is not at the venue: REJECTED if never accepted, else EXPIRED."""
        self._waiting.pop(record.client_order_id, None)
        if record.resume is None:
            return self._reject(record, reason, text, now)
        self.orders.pop(record.client_order_id, None)
        return [record.expired(reason, text, now)]

    def _retry_waiting(self, underlying: str, now: float) -> list[ExecutionReport]:
        reports: list[ExecutionReport] = []
        for record in list(self._waiting.values()):
            if record.order.instrument.underlying == underlying:
                reports += self._judge(record, now)
        return reports

    # -- internals: the venue ----------------------------------------------------------------

    def _reports(self, updates: list[ParentUpdate], now: float) -> list[ExecutionReport]:
        reports = []
        controls = self.controls
        for update in updates:
            record = self.orders[update.parent_id]
            mid_after = self._mid(record.symbol) if update.last_price is not None else None
            report = record.report(update, now, mid_after)
            if report.is_terminal:
                del self.orders[update.parent_id]
            if report.status is ExecStatus.ACCEPTED:
                order = record.order
                price = order.limit_price or self._fair(order.instrument) or 0.0
                controls.on_accepted(order, price, now)
            elif report.is_fill:
                controls.on_fill(report, now)
                self._loss_checked = False
            reports.append(report)
        return reports

    def _mid(self, symbol: str) -> float | None:
        """The venue's mid for `symbol` (currency per unit), or None while its book is
        one-sided or missing."""
        book = self.venue.books.get(symbol)
        if book is None:
            return None
        bid, ask = book.best_bid(), book.best_ask()
        if bid is None or ask is None:
            return None
        return book.to_price((bid + ask) / 2)

    def _fair(self, instrument: Instrument) -> float | None:
        """Fair value (currency per unit): the spot, or the option's value on the surface."""
        if not instrument.is_option:
            return self.market.spot(instrument.underlying)
        values = self.market.option_values([instrument])
        if values is None:
            return None
        fair = float(values[0][0])
        return fair if math.isfinite(fair) else None

    def _fair_values(self) -> dict[str, float]:
        """Fair values of the instruments the day's fills hold: one vectorised pricing per
        underlying (this runs on every timer pass and order)."""
        fair: dict[str, float] = {}
        options: dict[str, list[Instrument]] = {}
        for symbol, (instrument, held) in self.controls.day_positions.items():
            if not held:
                continue
            if instrument.is_option:
                options.setdefault(instrument.underlying, []).append(instrument)
            elif (spot := self.market.spot(instrument.underlying)) is not None:
                fair[symbol] = spot
        for listed in options.values():
            values = self.market.option_values(listed)
            if values is None:
                continue
            for instrument, value in zip(listed, values[0].tolist(), strict=True):
                if math.isfinite(value):
                    fair[instrument.symbol] = value
        return fair

    def _open_book(self, instrument: Instrument, now: float) -> list[ExecutionReport]:
        """Give `instrument` a book unless it has one, quoted at the market now unless it is."""
        symbol = instrument.symbol
        if symbol not in self.venue.books:
            self._add_book(instrument)
        elif symbol not in self._behind and symbol in self.venue.working_symbols():
            return []  # quoted at every move and refilled by on_time
        return self._requote(instrument.underlying, now, only={symbol})

    def _add_book(self, instrument: Instrument) -> None:
        symbol = instrument.symbol
        seed = zlib.crc32(symbol.encode()) ^ self.params.seed
        book = self._book(instrument)
        self.venue.add_book(symbol, book.tick_size, book.liquidity, seed=seed)
        self._underlying_of[symbol] = instrument.underlying
        if instrument.expiry is not None:
            self._options.setdefault(instrument.underlying, {})[symbol] = instrument
            self._expiries[symbol] = instrument.expiry.timestamp()

    def _market_moved(self, underlying: str, now: float) -> list[ExecutionReport]:
        """Re-quote the books of `underlying` where orders work (the move may fill them); the
        others fall behind until they are next used (re-quoting every option book on every
        tick and surface was most of this service's work)."""
        if underlying not in self.venue.books:
            self._add_book(Instrument.spot(underlying))
        working = self.venue.working_symbols()
        books = [underlying, *self._options.get(underlying, ())]
        eager = {s for s in books if s in working}
        self._behind.update(s for s in books if s not in eager and s not in self._expired)
        return self._requote(underlying, now, only=eager) if eager else []

    def _requote(
        self, underlying: str, now: float, only: Collection[str] | None = None
    ) -> list[ExecutionReport]:
        """New fair values, vols and drought for the books of `underlying` (or just `only`)."""
        spot = self.market.spot(underlying)
        if spot is None:
            return []
        p = self.params
        drought = 1.0 / self.market.depth_multiplier(underlying)
        updates: list[ParentUpdate] = []
        if only is None or underlying in only:
            if underlying not in self.venue.books:
                self._add_book(Instrument.spot(underlying))
            self._behind.discard(underlying)
            vol = self.market.atm_vol(underlying, p.vol_reference_days, p.default_vol)
            updates += self.venue.mark(underlying, now, fair=spot, vol=vol, drought=drought)
        books = self._options.get(underlying, {})
        live = [
            i
            for sym, i in books.items()
            if sym not in self._expired and (only is None or sym in only)
        ]
        self._behind.difference_update(i.symbol for i in live)
        values = self.market.option_values(live) if live else None
        if values is not None:
            # a worthless option still needs a price to quote
            floor = 0.5 * self.venue_spec.option.tick_size
            for instrument, fair, vol in zip(live, *values, strict=True):
                fair = max(float(fair), floor)
                vol = float(vol) if math.isfinite(vol) and vol > 0 else p.default_vol
                updates += self.venue.mark(
                    instrument.symbol, now, fair=fair, vol=vol, drought=drought
                )
        return self._reports(updates, now)

    def _open(self, record: OrderRecord) -> bool:
        """Whether the order is still not final (an earlier step of this call may have ended it)."""
        return record.client_order_id in self.orders

    def _expire_instrument(self, symbol: str, now: float) -> list[ExecutionReport]:
        """An option expired: its working orders end, its provider withdraws its quotes."""
        del self._expiries[symbol]
        self._expired.add(symbol)
        self._behind.discard(symbol)
        reports: list[ExecutionReport] = []
        for record in [r for r in self.orders.values() if r.symbol == symbol]:
            text = f"{symbol} expired"
            if record.client_order_id in self._waiting:
                reports += self._close_waiting(record, ReasonCode.INSTRUMENT_EXPIRED, text, now)
            else:
                record.expiring = True
                reports += self._reports(
                    self.venue.cancel(record.client_order_id, now, ReasonCode.INSTRUMENT_EXPIRED),
                    now,
                )
        provider = self.venue.providers.pop(symbol, None)
        if provider is not None:
            provider.withdraw()
        return reports

    def _expire_day_order(self, record: OrderRecord, now: float) -> list[ExecutionReport]:
        record.closes_at = None
        text = "day order: the session closed"
        if record.client_order_id in self._waiting:
            return self._close_waiting(record, ReasonCode.TIME_IN_FORCE, text, now)
        record.expiring = True
        return self._reports(
            self.venue.cancel(record.client_order_id, now, ReasonCode.TIME_IN_FORCE), now
        )
