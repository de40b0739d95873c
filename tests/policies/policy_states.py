"""Small hand-made states for the policy tests: one to a few paths, greeks given directly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hedgemesh.policies import Exposure, HedgeMemory, HedgeState, OptionSet


def col(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def state(
    *,
    spot: float | Sequence[float] = 100.0,
    book_delta: float | Sequence[float] = 0.0,
    book_gamma: float | Sequence[float] = 0.0,
    book_vega: float | Sequence[float] = 0.0,
    holdings: Sequence[float] | Sequence[Sequence[float]] = (0.0,),
    option_delta: Sequence[float] = (),
    option_gamma: Sequence[float] = (),
    option_vega: Sequence[float] = (),
    vol: float = 0.2,
    rate: float = 0.0,
    horizon: float = 0.25,
    time: float = 0.0,
    last_time: float = np.nan,
    last_spot: float = np.nan,
    book_options: OptionSet | None = None,
    book_underlying: float = 0.0,
) -> HedgeState:
    """A state whose greeks are what the test says (hedge options' greeks per unit as given,
    the same on every path); the number of paths follows spot, the holdings' rows and the
    book's greeks."""
    s = np.atleast_1d(np.asarray(spot, dtype=np.float64))
    h = np.atleast_2d(np.asarray(holdings, dtype=np.float64))
    n = max(s.size, h.shape[0], *(np.size(x) for x in (book_delta, book_gamma, book_vega)))
    s = np.broadcast_to(s, (n,)).copy()
    h = np.broadcast_to(h, (n, h.shape[1])).copy()

    def per_unit(first: float, rest: Sequence[float]) -> np.ndarray:
        return np.tile(np.array([first, *rest], dtype=np.float64), (n, 1))

    def per_path(x: float | Sequence[float]) -> np.ndarray:
        return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()

    return HedgeState(
        time=time,
        spot=s,
        vol=np.full(n, vol),
        rate=rate,
        div=0.0,
        book=Exposure(per_path(book_delta), per_path(book_gamma), per_path(book_vega)),
        book_options=book_options,
        book_underlying=np.full(n, book_underlying),
        horizon=np.full(n, horizon),
        instruments=Exposure(
            per_unit(1.0, option_delta), per_unit(0.0, option_gamma), per_unit(0.0, option_vega)
        ),
        holdings=h,
        memory=HedgeMemory(np.full(n, last_time), np.full(n, last_spot)),
    )


def one_option(*, strike=100.0, tau=0.25, is_call=True, quantity=-100.0, vol=0.2) -> OptionSet:
    """A book of one option on one path."""
    return OptionSet(
        strike=np.array([[strike]]),
        tau=np.array([[tau]]),
        is_call=np.array([[is_call]]),
        quantity=np.array([[quantity]]),
        vol=np.array([[vol]]),
    )
