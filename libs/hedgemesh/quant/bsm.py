"""Black–Scholes–Merton prices and greeks of European options, vectorised.

Inputs (all array-like, broadcast together; scalars are fine):

- ``spot``: price of one unit of the underlying, > 0.
- ``strike``: > 0.
- ``t``: time to expiry in years (ACT/365 year fraction), >= 0.
- ``rate``: continuously compounded risk-free rate (0.05 = 5 %).
- ``div``: continuous dividend yield, or carry; the cost of carry is ``b = rate - div``.
- ``vol``: annualised lognormal volatility (0.2 = 20 %), >= 0.
- ``is_call``: True for a call, False for a put.

Outputs, per option on one unit of underlying (multiply by contract size and position yourself):

- ``price``: premium, in the currency of ``spot``.
- ``delta``: dV/dS.
- ``gamma``: d²V/dS² (per unit of spot, not per 1 % move).
- ``vega``: value change per vol point, dV/dσ × 0.01.
- ``theta``: value change as one calendar day passes, -dV/dT / 365.
- ``rho``: value change per 1 % of rate, dV/dr × 0.01 (dividend yield held fixed).
- ``vanna``: change of delta per vol point, d²V/dS dσ × 0.01.
- ``volga``: change of (vega per vol point) per vol point, d²V/dσ² × 1e-4.

With ω = +1 for a call and -1 for a put, F = S e^{(r-q)T}, s = σ√T,
d1 = ln(F/K)/s + s/2, d2 = d1 - s:

    price = ω (S e^{-qT} N(ω d1) - K e^{-rT} N(ω d2))

Edges (never NaN for valid input):

- ``s == 0`` (``t == 0`` or ``vol == 0``), and more generally s <= 1e-150: the price is the
  discounted intrinsic value of the forward, max(ω (S e^{-qT} - K e^{-rT}), 0) (at ``t == 0`` the
  plain intrinsic value); delta is the step ω e^{-qT} 1{ω (F - K) > 0}, and exactly at the forward
  (F == K) it is ω e^{-qT} / 2, the limit of N(d1) as s → 0 there. Gamma, vega, vanna and volga
  are 0 (gamma's Dirac mass at the strike is not represented). Theta is the carry part,
  (q ω S e^{-qT} N(ω d1) - r ω K e^{-rT} N(ω d2)) / 365 with those step values; at expiry and at
  the strike, where the true theta diverges, this finite carry part is what is returned. Rho is
  0.01 T ω K e^{-rT} N(ω d2).
- s >= 1e150 (vol → ∞): the price is the upper bound (S e^{-qT} for a call, K e^{-rT} for a put).
- Deep in/out of the money, tiny (1e-8 S) and huge (1e8 S) strikes: plain formulas; tails of N
  are relatively accurate (scipy ``ndtr``), and the price is floored at the discounted intrinsic
  value of the forward so that rounding never puts it below its no-arbitrage bound.

Invalid input gives NaN in every output for that element only (the others are unaffected):
non-finite values anywhere, ``spot <= 0``, ``strike <= 0``, ``t < 0``, ``vol < 0``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from hedgemesh.quant._normal import INV_SQRT_2PI, ndtr

__all__ = ["Greeks", "discounted", "greeks", "price"]

DAYS_PER_YEAR = 365.0
"""Calendar days per year: theta is per calendar day, consistent with ACT/365 ``t``."""

_S_TINY = 1e-150
"""Below this total deviation s = σ√T an option is priced as at zero vol (see module doc)."""
_S_HUGE = 1e150
"""Above this total deviation s an option is priced at its upper bound (see module doc)."""
_BLOCK = 16384
"""Elements per block: temporaries of this size stay in cache (measured: 1.5x faster)."""


class Greeks(NamedTuple):
    """Price and greeks per one unit of underlying; the arrays have the broadcast shape."""

    price: np.ndarray
    """Premium, in the currency of spot."""
    delta: np.ndarray
    """dV/dS."""
    gamma: np.ndarray
    """d(delta)/dS, per unit of spot."""
    vega: np.ndarray
    """Per vol point: dV/dσ × 0.01."""
    theta: np.ndarray
    """Per calendar day passing: -dV/dT / 365."""
    rho: np.ndarray
    """Per 1 % of rate: dV/dr × 0.01."""
    vanna: np.ndarray
    """d(delta)/dσ per vol point: d²V/dS dσ × 0.01."""
    volga: np.ndarray
    """d(vega per vol point)/dσ per vol point: d²V/dσ² × 1e-4."""


class _Inputs(NamedTuple):
    """Inputs flattened to length ``n`` (size-1 inputs kept 0-d, for scalar arithmetic)."""

    values: tuple[np.ndarray, ...]
    omega: np.ndarray | float
    """+1 for a call, -1 for a put."""
    shape: tuple[int, ...]
    n: int
    invalid: np.ndarray | None
    """Flat bool mask of invalid elements, or None when every element is valid."""


POSITIVE = (0.0, True)
"""Validation rule: finite and > 0 (the lower bound and whether it is excluded)."""
NON_NEGATIVE = (0.0, False)
"""Validation rule: finite and >= 0."""
FINITE = (-math.inf, True)
"""Validation rule: finite (> -inf, and < inf like every rule)."""
_RULES = (POSITIVE, POSITIVE, NON_NEGATIVE, FINITE, FINITE, NON_NEGATIVE)
"""spot, strike, t, rate, div, vol."""


def _flat(a: np.ndarray, shape: tuple[int, ...], n: int) -> np.ndarray:
    if a.size == 1:
        return a.reshape(())
    if a.size == n:
        return a.reshape(-1)
    return np.broadcast_to(a, shape).ravel()


def _all_valid(a: np.ndarray, lower: float, strict: bool) -> bool:
    """Two reductions instead of per-element masks; a NaN fails both comparisons."""
    low = a.min()
    return bool(low > lower if strict else low >= lower) and bool(a.max() < math.inf)


def prepare(arrays, rules, is_call: ArrayLike) -> _Inputs:
    """Convert to float64, broadcast, flatten and validate against ``rules`` (shared with iv).

    Validation costs two reductions per input; the per-element mask is built only when some
    element fails.
    """
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    call = np.asarray(is_call, dtype=bool)
    shape = np.broadcast_shapes(*(a.shape for a in arrays), call.shape)
    n = math.prod(shape)
    invalid = None
    if n and not all(_all_valid(a, *rule) for a, rule in zip(arrays, rules, strict=True)):
        bad = np.zeros(shape, dtype=bool)
        with np.errstate(invalid="ignore"):
            for a, (lower, strict) in zip(arrays, rules, strict=True):
                bad |= ~(np.isfinite(a) & ((a > lower) if strict else (a >= lower)))
        invalid = bad.reshape(-1)
    omega: np.ndarray | float
    if call.size == 1:
        omega = 1.0 if bool(call.reshape(())) else -1.0
    else:
        omega = _flat(call, shape, n) * 2.0 - 1.0
    return _Inputs(tuple(_flat(a, shape, n) for a in arrays), omega, shape, n, invalid)


def discounted(
    spot: ArrayLike, strike: ArrayLike, t: ArrayLike, rate: ArrayLike, div: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    """(S e^{-qT}, K e^{-rT}): the discounted forward and the discounted strike.

    The pricer and the implied-vol solver both compute their bounds from this one expression, so
    that a price floored at intrinsic value here is exactly at intrinsic value there.
    """
    t = np.asarray(t, dtype=np.float64)
    sq = np.asarray(spot) * np.exp(-np.asarray(div, dtype=np.float64) * t)
    kr = np.asarray(strike) * np.exp(-np.asarray(rate, dtype=np.float64) * t)
    return sq, kr


def _part(a, key):
    """a[key] for a flattened input; a 0-d (scalar) input stands for every element."""
    return a[key] if np.ndim(a) else a


def _block_first_order(inp: _Inputs, sl: slice, m: int):
    """Shared intermediates of one block: S e^{-qT}, K e^{-rT}, √T, s, d1, d2, N(ω d1), N(ω d2)."""
    S, K, T, r, q, v = (_part(a, sl) for a in inp.values)
    w = _part(inp.omega, sl)
    sq, kr = discounted(S, K, T, r, q)
    sqrt_t = np.sqrt(T)
    s = np.multiply(v, sqrt_t, out=np.empty(m))
    d1 = np.divide(sq, kr, out=np.empty(m))
    np.log(d1, out=d1)
    d1 /= s
    d1 += 0.5 * s
    d2 = d1 - s
    n1 = np.multiply(w, d1, out=np.empty(m))
    ndtr(n1, out=n1)
    n2 = np.multiply(w, d2, out=np.empty(m))
    ndtr(n2, out=n2)
    return S, K, T, r, q, v, w, sq, kr, sqrt_t, s, d1, d2, n1, n2


def _floor_at_intrinsic(value: np.ndarray, w, sq, kr) -> None:
    """value = max(value, ω (S e^{-qT} - K e^{-rT}), 0), in place."""
    intrinsic = np.subtract(sq, kr)
    intrinsic *= w
    np.maximum(value, intrinsic, out=value)
    np.maximum(value, 0.0, out=value)


def _block_price(inp: _Inputs, sl: slice, m: int, out: tuple[np.ndarray]) -> None:
    _, _, _, _, _, _, w, sq, kr, _, _, _, _, n1, n2 = _block_first_order(inp, sl, m)
    value = out[0][sl]
    np.multiply(sq, n1, out=value)
    n2 *= kr
    value -= n2
    value *= w
    _floor_at_intrinsic(value, w, sq, kr)


def _block_greeks(inp: _Inputs, sl: slice, m: int, out: tuple[np.ndarray, ...]) -> None:
    S, _, T, r, q, v, w, sq, kr, sqrt_t, s, d1, d2, n1, n2 = _block_first_order(inp, sl, m)
    price, delta, gamma, vega, theta, rho, vanna, volga = (o[sl] for o in out)
    # a = ω S e^{-qT} N(ω d1), b = ω K e^{-rT} N(ω d2): price = a - b, delta = a/S, rho ∝ b.
    a = np.multiply(n1, sq, out=n1)
    a *= w
    b = np.multiply(n2, kr, out=n2)
    b *= w
    np.subtract(a, b, out=price)
    _floor_at_intrinsic(price, w, sq, kr)
    np.divide(a, S, out=delta)
    np.multiply(b, 0.01 * T, out=rho)
    # Carry part of theta: (q a - r b) / 365.
    np.multiply(a, q / DAYS_PER_YEAR, out=theta)
    b *= r / DAYS_PER_YEAR
    theta -= b
    # sphi = S e^{-qT} φ(d1).
    sphi = np.square(d1)
    sphi *= -0.5
    np.exp(sphi, out=sphi)
    sphi *= INV_SQRT_2PI
    sphi *= sq
    np.multiply(sphi, sqrt_t, out=vega)  # dV/dσ per unit vol, for now
    np.multiply(vega, d1, out=volga)
    volga *= d2
    volga /= v
    volga *= 1e-4
    vega *= 0.01
    # Diffusion part of theta: -S e^{-qT} φ(d1) σ / (2√T) / 365.
    tmp = np.multiply(sphi, v / (2.0 * DAYS_PER_YEAR))
    tmp /= sqrt_t
    theta -= tmp
    np.divide(sphi, S, out=vanna)
    np.divide(vanna, S, out=gamma)
    gamma /= s
    vanna *= d2
    vanna /= v
    vanna *= -0.01


def _degenerate(inp: _Inputs, idx: np.ndarray, out: tuple[np.ndarray, ...]) -> None:
    """Limits for s <= 1e-150 (zero vol or expiry) and s >= 1e150 (infinite vol), on ``idx``."""
    S, K, T, r, q, v = (_part(a, idx) for a in inp.values)
    w = _part(inp.omega, idx)
    sq, kr = discounted(S, K, T, r, q)
    s = v * np.sqrt(T)
    huge = s >= _S_HUGE
    moneyness = w * (sq - kr)
    step = np.where(moneyness > 0, 1.0, np.where(moneyness == 0, 0.5, 0.0))
    n1 = np.where(huge, w > 0, step)
    n2 = np.where(huge, w < 0, step)
    a = w * sq * n1
    b = w * kr * n2
    flat = [o.reshape(-1) for o in out]
    flat[0][idx] = np.maximum(a - b, 0.0)
    if len(flat) > 1:
        flat[1][idx] = a / S
        for k in (2, 3, 6, 7):
            flat[k][idx] = 0.0
        flat[4][idx] = (q * a - r * b) / DAYS_PER_YEAR
        flat[5][idx] = 0.01 * T * b


def _fix_edges(inp: _Inputs, out: tuple[np.ndarray, ...]) -> None:
    """Overwrite degenerate elements with their limits and invalid ones with NaN."""
    s = np.multiply(inp.values[5], np.sqrt(inp.values[2]))
    if not (s.min() > _S_TINY and s.max() < _S_HUGE):  # NaN fails the test too
        with np.errstate(invalid="ignore"):
            mask = ~((s > _S_TINY) & (s < _S_HUGE))
        mask = np.broadcast_to(mask, (inp.n,))
        if inp.invalid is not None:
            mask = mask & ~inp.invalid
        idx = np.flatnonzero(mask)
        if idx.size:
            _degenerate(inp, idx, out)
    if inp.invalid is not None:
        for o in out:
            o.reshape(-1)[inp.invalid] = np.nan


def _evaluate(inp: _Inputs, block, outputs: tuple[np.ndarray, ...]) -> None:
    """Run ``block`` over cache-sized slices into the flat views of ``outputs``, then the edges."""
    flat = tuple(o.reshape(-1) for o in outputs)
    with np.errstate(all="ignore"):
        for start in range(0, inp.n, _BLOCK):
            m = min(_BLOCK, inp.n - start)
            block(inp, slice(start, start + m), m, flat)
        _fix_edges(inp, outputs)


def price(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    div: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
) -> np.ndarray:
    """Black–Scholes–Merton premium per unit of underlying (see the module doc for units/edges).

    >>> round(float(price(100.0, 100.0, 1.0, 0.05, 0.0, 0.2, True)), 10)
    10.4505835722
    """
    inp = prepare((spot, strike, t, rate, div, vol), _RULES, is_call)
    value = np.empty(inp.shape)
    _evaluate(inp, _block_price, (value,))
    return value


def greeks(
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    div: ArrayLike,
    vol: ArrayLike,
    is_call: ArrayLike,
) -> Greeks:
    """Price and seven greeks at once, sharing d1, d2, N(±d1), N(±d2) and φ(d1).

    Units are in the module doc and on each `Greeks` field (vega per vol point, theta per
    calendar day, rho per 1 % rate).

    >>> g = greeks(100.0, 100.0, 1.0, 0.05, 0.0, 0.2, True)
    >>> [round(float(v), 6) for v in (g.delta, g.gamma, g.vega, g.theta, g.rho)]
    [0.636831, 0.018762, 0.37524, -0.017573, 0.532325]
    """
    inp = prepare((spot, strike, t, rate, div, vol), _RULES, is_call)
    out = Greeks(*(np.empty(inp.shape) for _ in Greeks._fields))
    _evaluate(inp, _block_greeks, out)
    return out
