"""Pure functions from what the read model holds to the response views (no I/O, no state)."""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import datetime

import numpy as np

from hedgemesh.api.domain.pnl import PnlTracker
from hedgemesh.api.domain.views import (
    Attribution,
    BucketRisk,
    GreeksView,
    LimitCheck,
    LimitsEntry,
    PnlResponse,
    PositionsResponse,
    PositionView,
    RiskResponse,
    TotalRisk,
    UnderlyingPnlView,
    UnderlyingPositions,
    UnderlyingRisk,
)
from hedgemesh.market.book_state import BookState
from hedgemesh.quant.attribution import PnlBreakdown
from hedgemesh.quant.book import BookRisk, RiskTable
from hedgemesh.wire.book import PositionSnapshot
from hedgemesh.wire.codes import TradingState
from hedgemesh.wire.state import FirmLimits, RiskLimits

#: Fields of a limits message that are not limits (so not settable through the API).
NOT_LIMITS = frozenset({"id", "ts", "underlying", "changed_by", "causation_id"})


def limit_names(model: type[RiskLimits] | type[FirmLimits]) -> tuple[str, ...]:
    """The limits a message of `model` holds, in declaration order."""
    return tuple(name for name in model.model_fields if name not in NOT_LIMITS)


# -- positions ---------------------------------------------------------------------------------


def underlying_positions(snapshot: PositionSnapshot) -> UnderlyingPositions:
    return UnderlyingPositions(
        underlying=snapshot.underlying,
        as_of_seq=snapshot.as_of_seq,
        as_of=snapshot.ts,
        cash=snapshot.cash,
        realised_pnl=snapshot.realised_pnl,
        unrealised_pnl=snapshot.unrealised_pnl,
        fees=snapshot.fees,
        total_pnl=snapshot.total_pnl,
        positions=[
            PositionView(
                instrument=p.instrument.symbol,
                kind=p.instrument.kind,
                quantity=p.quantity,
                multiplier=p.instrument.multiplier,
                average_price=p.average_price,
                mark_price=p.mark_price,
                realised_pnl=p.realised_pnl,
                unrealised_pnl=p.unrealised_pnl,
            )
            for p in snapshot.positions
        ],
    )


def positions_response(snapshots: Iterable[PositionSnapshot]) -> PositionsResponse:
    rows = [underlying_positions(s) for s in sorted(snapshots, key=lambda s: s.underlying)]
    return PositionsResponse(underlyings=rows, count=sum(len(r.positions) for r in rows))


# -- risk --------------------------------------------------------------------------------------


def limit_check(name: str, value: float, limit: float | None) -> LimitCheck:
    """`value` against `limit` (None: no limit)."""
    if limit is None:
        return LimitCheck(name=name, value=value, limit=None, utilisation=None, breached=False)
    if limit > 0:
        utilisation: float | None = abs(value) / limit
    else:
        utilisation = 0.0 if value == 0 else None
    return LimitCheck(
        name=name, value=value, limit=limit, utilisation=utilisation, breached=abs(value) > limit
    )


def _greeks(table: RiskTable, at: tuple[int, ...], *, per_underlying: bool = True) -> GreeksView:
    def get(name: str) -> float:
        return float(getattr(table, name)[at])

    return GreeksView(
        value=get("value"),
        delta=get("delta") if per_underlying else None,
        gamma=get("gamma") if per_underlying else None,
        vega_per_point=get("vega_per_point"),
        theta_per_day=get("theta_per_day"),
        dollar_delta=get("dollar_delta"),
        dollar_gamma_per_pct=get("dollar_gamma_per_pct"),
    )


def _underlying_risk(
    risk: BookRisk, i: int, name: str, book: BookState, now: datetime, limits: RiskLimits | None
) -> UnderlyingRisk:
    greeks = _greeks(risk.by_underlying, (i,))
    vega_limit = None if limits is None else limits.max_abs_vega_per_vol_point
    bounds: tuple[float | None, ...] = (0.0, *risk.bucket_edges_days, None)
    buckets = []
    for b, (label, (lo, hi)) in enumerate(
        zip(risk.bucket_labels, itertools.pairwise(bounds), strict=True)
    ):
        bucket = _greeks(risk.by_bucket, (i, b))
        buckets.append(
            BucketRisk(
                bucket=label,
                from_days=lo or 0.0,
                to_days=hi,
                greeks=bucket,
                checks=[
                    limit_check("max_abs_vega_per_vol_point", bucket.vega_per_point, vega_limit)
                ],
            )
        )
    tick = book.tick(name)
    assert tick is not None  # priced underlyings have a tick
    age = book.tick_age_s(name, now)
    return UnderlyingRisk(
        underlying=name,
        spot=tick.price,
        tick_age_s=age,
        stale=limits is not None and age > limits.max_tick_age_s,
        greeks=greeks,
        checks=[
            limit_check("max_abs_delta", greeks.delta or 0.0, _get(limits, "max_abs_delta")),
            limit_check("max_abs_gamma", greeks.gamma or 0.0, _get(limits, "max_abs_gamma")),
            limit_check(
                "max_abs_dollar_gamma_per_pct",
                greeks.dollar_gamma_per_pct,
                _get(limits, "max_abs_dollar_gamma_per_pct"),
            ),
            limit_check("max_abs_vega_per_vol_point", greeks.vega_per_point, vega_limit),
        ],
        buckets=buckets,
    )


def number_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def _get(limits: RiskLimits | FirmLimits | None, name: str) -> float | None:
    return None if limits is None else number_or_none(getattr(limits, name))


def risk_response(
    book: BookState,
    now: datetime,
    limits: Mapping[str, RiskLimits],
    firm: FirmLimits | None,
    trading_state: TradingState | None,
    only: str | None = None,
) -> RiskResponse:
    """Greeks per underlying (each with its expiry buckets) and in total against the limits;
    `only`: list one underlying (the total stays the whole book's)."""
    names = book.underlyings
    if names:
        risk = book.risk(now)
        rows = [
            _underlying_risk(risk, i, name, book, now, limits.get(name))
            for i, name in enumerate(names)
            if only is None or name == only
        ]
        t = risk.total
        total = GreeksView(
            value=t.value,
            delta=None,
            gamma=None,
            vega_per_point=t.vega_per_point,
            theta_per_day=t.theta_per_day,
            dollar_delta=t.dollar_delta,
            dollar_gamma_per_pct=t.dollar_gamma_per_pct,
        )
    else:
        rows = []
        total = GreeksView(
            value=0.0,
            delta=None,
            gamma=None,
            vega_per_point=0.0,
            theta_per_day=0.0,
            dollar_delta=0.0,
            dollar_gamma_per_pct=0.0,
        )
    checks = [
        limit_check("max_abs_dollar_delta", total.dollar_delta, _get(firm, "max_abs_dollar_delta")),
        limit_check(
            "max_abs_dollar_gamma_per_pct",
            total.dollar_gamma_per_pct,
            _get(firm, "max_abs_dollar_gamma_per_pct"),
        ),
        limit_check(
            "max_abs_vega_per_vol_point",
            total.vega_per_point,
            _get(firm, "max_abs_vega_per_vol_point"),
        ),
    ]
    return RiskResponse(
        as_of=now,
        trading_state=trading_state,
        underlyings=rows,
        total=TotalRisk(greeks=total, checks=checks),
        unpriced=list(book.unpriced_underlyings()),
    )


# -- limits ------------------------------------------------------------------------------------


def limits_entry(key: str, value: RiskLimits | FirmLimits, revision: int) -> LimitsEntry:
    return LimitsEntry(
        key=key,
        revision=revision,
        changed_by=value.changed_by,
        changed_at=value.ts,
        limits={name: number_or_none(getattr(value, name)) for name in limit_names(type(value))},
    )


# -- P&L ---------------------------------------------------------------------------------------


def cents(breakdown: PnlBreakdown) -> dict[str, float]:
    """The breakdown's components and total rounded to the cent, `unexplained` taking the
    rounding so that the components add up to the total exactly, to the cent."""
    names = [f.name for f in dataclasses.fields(breakdown) if f.name != "unexplained"]
    rounded = {name: round(getattr(breakdown, name), 2) for name in names}
    total = round(breakdown.total, 2)
    rounded["unexplained"] = round(total - math.fsum(rounded.values()), 2)
    return {**rounded, "total": total}


def attribution(
    breakdown: PnlBreakdown, since: datetime | None, window_start: datetime | None = None
) -> Attribution:
    return Attribution(window_start=window_start, since=since, **cents(breakdown))


def pnl_response(
    tracker: PnlTracker,
    snapshots: Mapping[str, PositionSnapshot],
    only: str | None = None,
    window_start: datetime | None = None,
) -> PnlResponse:
    """The ledger's P&L per underlying with the tracker's attribution over the window from
    `window_start` (None: since each baseline), and their totals (over every underlying,
    whatever `only` lists)."""
    rows = []
    for name in sorted(snapshots):
        snapshot = snapshots[name]
        followed = tracker.get(name)
        if followed is None:
            breakdown = PnlBreakdown()
        elif window_start is None:
            breakdown = followed.breakdown
        else:
            breakdown = followed.window(window_start)
        rows.append(
            UnderlyingPnlView(
                underlying=name,
                total_pnl=snapshot.total_pnl,
                realised_pnl=snapshot.realised_pnl,
                unrealised_pnl=snapshot.unrealised_pnl,
                fees=snapshot.fees,
                hedge_pnl=None if (h := tracker.hedge_pnl(name)) is None else round(h, 2),
                attribution=attribution(
                    breakdown, followed.since if followed else None, window_start
                ),
            )
        )
    starts = [b.since for name in tracker.underlyings() if (b := tracker[name]).since is not None]
    return PnlResponse(
        total_pnl=float(np.sum([s.total_pnl for s in snapshots.values()])),
        hedge_pnl=round(sum(r.hedge_pnl or 0.0 for r in rows), 2),
        window_start=window_start,
        attribution=attribution(
            tracker.total(window_start), min(starts) if starts else None, window_start
        ),
        underlyings=[r for r in rows if only is None or r.underlying == only],
    )
