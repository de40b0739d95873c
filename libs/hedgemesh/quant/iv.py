"""Black–Scholes–Merton implied volatility, vectorised (Jäckel's "Let's Be Rational" in numpy).

``implied_vol(price, spot, strike, t, rate, div, is_call)`` inverts `hedgemesh.quant.bsm.price`;
the inputs have the same meaning and units (``t`` in ACT/365 years, rates continuously
compounded, ``price`` per unit of underlying) and broadcast together. It returns an `IVResult`:
``vol`` (annualised, 0.2 = 20 %) and ``status`` (int8 `IVStatus`). ``vol`` is finite exactly
where ``status == OK`` and NaN everywhere else.

Statuses, per element:

- ``OK``: converged, and identifiable to ``resolution`` (below). A price exactly equal to the
  discounted intrinsic value of the forward, max(ω (S e^{-qT} - K e^{-rT}), 0), gives vol 0 with
  OK (the smallest vol that reproduces it; with ``t == 0`` this is the only attainable price).
- ``BELOW_INTRINSIC``: price < that discounted intrinsic value (negative prices included).
- ``ABOVE_MAXIMUM``: price >= the upper bound S e^{-qT} (call) or K e^{-rT} (put), which only
  an infinite vol attains; or, at ``t == 0``, any price above intrinsic value.
- ``INVALID_INPUT``: a non-finite input, ``spot <= 0``, ``strike <= 0`` or ``t < 0``.
- ``NOT_CONVERGED``: the iteration did not settle within ``max_iter`` steps, or settled only
  to the rounding of its own evaluation of the price formula and that exceeds ``resolution``
  in vol (which takes expiries of seconds).
- ``UNIDENTIFIABLE``: the price pins the vol down no better than ``resolution``. The criterion:
  the rounding of a float64 price (and, in the money, of the intrinsic value subtracted from it)
  is taken as ``δP = 8 ε P + (8 ε [ITM] + 2^-1022) (S e^{-qT} + K e^{-rT})`` with ε = 2^-52, the
  last term being the resolution of the price formula where N(·) underflows (scipy's ``ndtr``
  flushes to 0 below about -37.6). It moves the vol by ``δσ = δP / (dP/dσ)``; when
  ``δσ > resolution`` the element is UNIDENTIFIABLE.
  Typical cases: far in the money with short expiry (the time value drowns in the rounding of
  the intrinsic value), prices within rounding of their upper bound, and out-of-the-money
  prices that underflow.

Method. With F = S e^{(r-q)T}, x = ln(F/K), s = σ√T and the normalised price
β = P / √(S e^{-qT} K e^{-rT}), an in-the-money option is reduced to the out-of-the-money one by
put–call parity (subtract intrinsic), and a put to a call by x → -x, so that every element solves
b(x, s) = β with x <= 0 and b(x, s) = e^{x/2} Φ(x/s + s/2) - e^{-x/2} Φ(x/s - s/2). The initial
guess is Jäckel's four-branch rational-cubic interpolation; then Householder (third-order)
steps on the objective of that branch (1/ln b in the lowest, ln(e^{x/2} - b) in the highest,
b itself in between), with b'(s) = φ(x/s + s/2) e^{x/2}, b''/b' = x²/s³ - s/4 and
b'''/b' = (x²/s³ - s/4)² - 3x²/s⁴ - 1/4, kept inside a bracket that every evaluation
tightens (bisection when a step leaves it). An element is converged when its last step is at
most ``max(tol, δσ + δσ_b, 4 ε σ)`` in vol, δσ_b being the rounding of the evaluation of b
(scipy's ``ndtr(z)`` is good to about ε (1 + z²) relative) and the last term mattering only for
vols above about 1,000; converged elements leave the active set. UNIDENTIFIABLE takes
precedence over NOT_CONVERGED.

Reference: P. Jäckel, "Let's Be Rational", Wilmott (2015) 40–53.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from hedgemesh.quant._normal import INV_SQRT_2PI, ndtr, ndtri
from hedgemesh.quant.bsm import FINITE, NON_NEGATIVE, POSITIVE, discounted, prepare

__all__ = ["IVResult", "IVStatus", "implied_vol"]


class IVStatus(IntEnum):
    """Per-element outcome of `implied_vol` (see the module doc)."""

    OK = 0
    BELOW_INTRINSIC = 1
    ABOVE_MAXIMUM = 2
    INVALID_INPUT = 3
    NOT_CONVERGED = 4
    UNIDENTIFIABLE = 5


class IVResult(NamedTuple):
    """Implied vols (annualised; NaN unless OK) and their `IVStatus` codes (int8)."""

    vol: np.ndarray
    status: np.ndarray


NOISE_ULPS = 8.0
"""Price rounding assumed by the identifiability criterion, in units of ε (see module doc)."""

_EPS = float(np.finfo(np.float64).eps)
_DBL_MIN = float(np.finfo(np.float64).tiny)
_DBL_MAX = float(np.finfo(np.float64).max)
_SQRT_DBL_MAX = math.sqrt(_DBL_MAX)
_R_MIN = -(1.0 - math.sqrt(_EPS))
"""Smallest rational-cubic control parameter (Delbourgo–Gregory r > -1)."""
_R_MAX = 2.0 / (_EPS * _EPS)
"""Control parameter at which the rational cubic is taken as linear."""
_SQRT3 = math.sqrt(3.0)
_TWO_PI = 2.0 * math.pi
_TWO_PI_OVER_SQRT27 = 2.0 * math.pi / math.sqrt(27.0)
_SQRT_PI_OVER_2 = math.sqrt(math.pi / 2.0)

_BLOCK = 8192
"""Quotes solved per block: the solver's temporaries then stay in cache (measured: ~1.3x)."""
_ULPS_OF_S = 4.0 * _EPS
"""Steps below this fraction of s are rounding: an element making one has converged."""

_MID, _LOW, _HIGH = 0, 1, 2
"""Objective per element: b - β, 1/ln b - 1/ln β, ln(b_max - β) - ln(b_max - b)."""


# --- rational cubic interpolation (Delbourgo & Gregory 1985, as used by Jäckel) -------------


def _rc_interpolate(z, zl, zr, yl, yr, dl, dr, r):
    """Rational cubic through (zl, yl), (zr, yr) with slopes dl, dr and control r, at z.

    r >= _R_MAX means linear interpolation (the cubic's inf/inf is then replaced).
    """
    h = zr - zl
    t = (z - zl) / h
    omt = 1.0 - t
    t2 = t * t
    omt2 = omt * omt
    cubic = (
        yr * t2 * t + (r * yr - h * dr) * t2 * omt + (r * yl + h * dl) * t * omt2 + yl * omt2 * omt
    ) / (1.0 + (r - 3.0) * t * omt)
    return np.where(r >= _R_MAX, yr * t + yl * omt, cubic)


def _rc_minimum_r(dl, dr, slope, prefer_shape: bool):
    """Smallest control parameter keeping the interpolant monotone and convex/concave where the
    data allow it (Delbourgo–Gregory (3.8) and (3.18))."""
    a = dl - slope
    c = dr - slope
    monotonic = (dl * slope >= 0.0) & (dr * slope >= 0.0)
    curved = a * c <= 0.0  # the secant slope lies between the end slopes: convex or concave
    r1 = np.where(monotonic, (dr + dl) / slope, -np.inf)
    gap = np.minimum(np.abs(a), np.abs(c))
    r2 = np.abs(dr - dl) / gap
    if prefer_shape:
        r2 = np.where(curved, r2, np.where(monotonic, _R_MAX, -np.inf))
    else:
        r2 = np.where(curved, r2, -np.inf)
    fallback = _R_MAX if prefer_shape else -np.inf
    if not (np.abs(slope).min() >= _DBL_MIN and gap.min() >= _DBL_MIN):  # rare: 0 divisors
        r1 = np.where(monotonic & (np.abs(slope) < _DBL_MIN), fallback, r1)
        r2 = np.where(curved & (gap < _DBL_MIN), fallback, r2)
    return np.maximum(np.maximum(r1, r2), _R_MIN)


def _rc_convex_r(zl, zr, yl, yr, dl, dr, d2, at_right: bool, prefer_shape: bool):
    """Control parameter matching the second derivative d2 at the right (or left) end, raised
    to the shape-preserving minimum."""
    h = zr - zl
    slope = (yr - yl) / h
    numerator = 0.5 * h * d2 + (dr - dl)
    denominator = (dr - slope) if at_right else (slope - dl)
    r = _rc_ratio(numerator, denominator)
    return np.maximum(r, _rc_minimum_r(dl, dr, slope, prefer_shape))


def _rc_ratio(numerator, denominator):
    """numerator/denominator, with Jäckel's values where either is (nearly) zero."""
    r = numerator / denominator
    if not (np.abs(numerator).min() >= _DBL_MIN and np.abs(denominator).min() >= _DBL_MIN):
        r = np.where(np.abs(denominator) < _DBL_MIN, np.where(numerator > 0.0, _R_MAX, _R_MIN), r)
        r = np.where(np.abs(numerator) < _DBL_MIN, 0.0, r)
    return r


# --- normalised Black function ---------------------------------------------------------------


def _black(x, s, bmax, ibmax):
    """b(x, s) for x <= 0 (relative accuracy in the tails; floored at 0)."""
    h = x / s
    t = 0.5 * s
    b = ndtr(h + t)
    b *= bmax
    b -= ibmax * ndtr(h - t)
    return np.maximum(b, 0.0, out=b)


def _vega(x, s):
    """b'(s) = φ(x/s + s/2) e^{x/2} = exp(-((x/s)² + (s/2)²)/2) / √(2π)."""
    h = x / s
    return np.exp(-0.5 * (h * h + 0.25 * s * s)) * INV_SQRT_2PI


# --- initial guess ------------------------------------------------------------------------------


def _guess_middle(beta, low, s_c, b_c, v_c, s_e, b_e, v_e):
    """The two middle branches: a rational cubic s(β) through (b, s) at s_l, s_c or s_c, s_h
    with slopes 1/b', fitted to zero curvature at s_c. Returns (s, left, right)."""
    bl = np.where(low, b_e, b_c)
    br = np.where(low, b_c, b_e)
    sl = np.where(low, s_e, s_c)
    sr = np.where(low, s_c, s_e)
    dl = 1.0 / np.where(low, v_e, v_c)
    dr = 1.0 / np.where(low, v_c, v_e)
    slope = (sr - sl) / (br - bl)
    r = _rc_ratio(dr - dl, np.where(low, dr - slope, slope - dl))
    r = np.maximum(r, _rc_minimum_r(dl, dr, slope, False))
    return _rc_interpolate(beta, bl, br, sl, sr, dl, dr, r), sl, sr


def _guess_lowest(beta, x, s_l, b_l):
    """Lowest branch: interpolate Jäckel's f_lower map in β, then invert it."""
    ax = np.abs(x)
    z = (1.0 / _SQRT3) * ax / s_l
    y = z * z
    s2 = s_l * s_l
    cdf = ndtr(-z)
    pdf = np.exp(-0.5 * y) * INV_SQRT_2PI
    fpp = (
        (math.pi / 6.0)
        * y
        / (s2 * s_l)
        * cdf
        * (8.0 * _SQRT3 * s_l * ax + (3.0 * s2 * (s2 - 8.0) - 8.0 * x * x) * cdf / pdf)
        * np.exp(2.0 * y + 0.25 * s2)
    )
    cdf2 = cdf * cdf
    fp = _TWO_PI * y * cdf2 * np.exp(y + 0.125 * s2)
    f = _TWO_PI_OVER_SQRT27 * ax * (cdf2 * cdf)
    r = _rc_convex_r(0.0, b_l, 0.0, f, 1.0, fp, fpp, True, True)
    g = _rc_interpolate(beta, 0.0, b_l, 0.0, f, 1.0, fp, r)
    t = beta / b_l
    g = np.where(g > 0.0, g, (f * t + b_l * (1.0 - t)) * t)
    return ax / np.abs(_SQRT3 * ndtri(np.cbrt(g / (_TWO_PI_OVER_SQRT27 * ax))))


def _guess_highest(beta, x, s_h, b_h, bmax):
    """Highest branch: interpolate Jäckel's f_upper map Φ(-s/2) in β, then invert it."""
    f = ndtr(-0.5 * s_h)
    w = np.square(x / s_h)
    fp = -0.5 * np.exp(0.5 * w)
    fpp = _SQRT_PI_OVER_2 * np.exp(w + 0.125 * s_h * s_h) * w / s_h
    r = _rc_convex_r(b_h, bmax, f, 0.0, fp, -0.5, fpp, False, True)
    g = _rc_interpolate(beta, b_h, bmax, f, 0.0, fp, -0.5, r)
    g = np.where(np.abs(fpp) < _SQRT_DBL_MAX, g, -1.0)
    span = bmax - b_h
    t = (beta - b_h) / span
    g = np.where(g > 0.0, g, (f * (1.0 - t) + 0.5 * span * t) * (1.0 - t))
    return -2.0 * ndtri(g)


class _Guess(NamedTuple):
    s: np.ndarray
    left: np.ndarray
    right: np.ndarray
    objective: np.ndarray


def _guess(beta, x, bmax, ibmax) -> _Guess:
    """Jäckel's initial guess, a bracket [left, right] for s, and the objective, per element."""
    s_c = np.sqrt(-2.0 * x)
    b_c = 0.5 * bmax - ibmax * ndtr(-s_c)  # b(x, s_c): x/s_c + s_c/2 = 0 and x/s_c - s_c/2 = -s_c
    v_c = bmax * INV_SQRT_2PI  # b'(x, s_c)
    low = beta < b_c
    s_e = np.where(low, s_c - b_c / v_c, s_c + (bmax - b_c) / v_c)  # s_l or s_h
    b_e = _black(x, s_e, bmax, ibmax)
    v_e = _vega(x, s_e)
    outer = np.where(low, beta < b_e, beta > b_e)
    s, left, right = _guess_middle(beta, low, s_c, b_c, v_c, s_e, b_e, v_e)
    objective = np.zeros(beta.shape, dtype=np.int8)
    lowest = np.flatnonzero(low & outer)
    if lowest.size:
        s[lowest] = _guess_lowest(beta[lowest], x[lowest], s_e[lowest], b_e[lowest])
        left[lowest] = 0.0
        right[lowest] = s_e[lowest]
        objective[lowest] = _LOW
    highest = np.flatnonzero(~low & outer)
    if highest.size:
        bh, bm = beta[highest], bmax[highest]
        s[highest] = _guess_highest(bh, x[highest], s_e[highest], b_e[highest], bm)
        left[highest] = s_e[highest]
        right[highest] = np.inf
        objective[highest] = np.where(bh > 0.5 * bm, _HIGH, _MID)
    return _Guess(s, left, right, objective)


# --- Householder iteration ----------------------------------------------------------------------


def _terms_low(ln_beta, b, bp, b_halley, b_hh3):
    """Objective 1/ln b - 1/ln β (lowest branch, where b spans hundreds of decades):
    newton = -g/g', halley = g''/g', hh3 = g'''/g'."""
    ln_b = np.log(b)
    bpob = bp / b
    c2 = 1.0 + 2.0 / ln_b
    newton = (ln_beta - ln_b) * ln_b / ln_beta / bpob
    halley = b_halley - bpob * c2
    hh3 = b_hh3 + 2.0 * bpob * bpob * (1.0 + 3.0 / ln_b * (1.0 + 1.0 / ln_b))
    hh3 -= 3.0 * b_halley * bpob * c2
    return newton, halley, hh3


def _terms_high(gap, gap_b, bp, b_halley, b_hh3):
    """Objective ln(b_max - β) - ln(b_max - b) (highest branch, near the upper bound)."""
    gp = bp / gap_b
    return -np.log(gap / gap_b) / gp, b_halley + gp, b_hh3 + gp * (2.0 * gp + 3.0 * b_halley)


def _householder_step(beta, x, s, bmax, ibmax, ln_beta, gap, low: slice, high: slice):
    """One third-order Householder step. Elements are sorted by objective: b - β first, then
    the ``low`` and ``high`` slices. Returns (step, b, b', rounding of b) at s."""
    h = x / s
    t = 0.5 * s
    a = h + t
    a[high] *= -1.0
    n1 = ndtr(a)
    np.subtract(h, t, out=a)
    n2 = ndtr(a)
    hh = h * h
    bp = t * t
    bp += hh
    bp *= -0.5
    np.exp(bp, out=bp)
    bp *= INV_SQRT_2PI
    n1 *= bmax
    n2 *= ibmax
    # Rounding of this b: scipy's ndtr(z) is good to about ε (1 + z²) relative (its exp(-z²/2)
    # inherits z²'s rounding), and |h - t| >= |h + t| for x <= 0.
    rounding = np.square(a, out=a)
    rounding += 1.0
    rounding *= 2.0 * _EPS
    rounding *= n1 + n2
    # b = bmax Φ(h+t) - Φ(h-t)/bmax; near the top, bmax - b = bmax Φ(-h-t) + Φ(h-t)/bmax exactly.
    b = n1 - n2
    gap_b = n1[high] + n2[high]
    b[high] = bmax[high] - gap_b
    # b''/b' = x²/s³ - s/4 and b'''/b' = (b''/b')² - 3 x²/s⁴ - 1/4.
    b_halley = hh / s
    b_halley -= 0.5 * t
    hs = h / s
    b_hh3 = b_halley * b_halley
    b_hh3 -= 3.0 * hs * hs
    b_hh3 -= 0.25
    newton = beta - b
    newton /= bp
    halley = b_halley.copy()
    hh3 = b_hh3
    if low.stop > low.start:
        newton[low], halley[low], hh3[low] = _terms_low(
            ln_beta[low], b[low], bp[low], b_halley[low], b_hh3[low]
        )
    if gap_b.size:
        newton[high], halley[high], hh3[high] = _terms_high(
            gap[high], gap_b, bp[high], b_halley[high], b_hh3[high]
        )
    # step = newton (1 + halley newton / 2) / (1 + newton (halley + hh3 newton / 6)), >= -s/2
    hh3 *= newton
    hh3 *= 1.0 / 6.0
    hh3 += halley
    hh3 *= newton
    hh3 += 1.0
    halley *= newton
    halley *= 0.5
    halley += 1.0
    step = np.multiply(newton, halley, out=newton)
    step /= hh3
    np.maximum(step, -0.5 * s, out=step)
    return step, b, bp, rounding


def _solve(beta, x, bmax, noise, tol_s, max_iter: int):
    """Normalised implied vol s for b(x, s) = β, x <= 0 < β < e^{x/2}.

    Returns (s, b'(s), rounding of b(s) / b'(s), converged), the middle two at the last
    evaluated iterate.
    """
    m = beta.size
    ibmax = 1.0 / bmax
    s, left, right, objective = _guess(beta, x, bmax, ibmax)
    bad = ~((s > left) & (s < right))  # non-finite or out of the bracket: bisect instead
    if bad.any():
        s = np.where(bad, np.where(np.isinf(right), 2.0 * left, 0.5 * (left + right)), s)
    order = None
    state = [beta, x, bmax, ibmax, noise, tol_s, left, right]
    if objective.any():  # sort by objective, so that each objective is one contiguous slice
        order = np.argsort(objective, kind="stable")
        state = [a[order] for a in state]
        s = s[order]
        objective = objective[order]
    state += [np.log(state[0]), state[2] - state[0]]  # ln β, b_max - β
    out_s, out_bp, out_eval = np.full(m, np.nan), np.zeros(m), np.full(m, np.inf)
    converged = np.zeros(m, dtype=bool)
    idx: slice | np.ndarray = slice(None)
    was_done = np.zeros(m, dtype=bool)
    last_bp, last_eval = out_bp, out_eval
    for _ in range(max_iter):
        beta, x, bmax, ibmax, noise, tol_s, left, right, ln_beta, gap = state
        i_low, i_high = np.searchsorted(objective, [_LOW, _HIGH])
        step, b, bp, rounding = _householder_step(
            beta, x, s, bmax, ibmax, ln_beta, gap, slice(i_low, i_high), slice(i_high, None)
        )
        # Tighten the bracket with this evaluation; bisect where the step leaves it.
        np.minimum(right, s, out=right, where=b > beta)
        np.maximum(left, s, out=left, where=b < beta)
        evaluation = rounding / bp  # s moves this much within b's own rounding
        s_new = s + step
        threshold = np.maximum(tol_s, (noise / bp) + evaluation)
        np.maximum(threshold, _ULPS_OF_S * s, out=threshold)
        done = np.abs(step) <= threshold
        out = ~((s_new >= left) & (s_new <= right))  # NaN too
        if out.any():  # bisect; converged only once the bracket itself is that narrow
            halfway = np.where(np.isinf(right), 2.0 * np.maximum(left, s), 0.5 * (left + right))
            s_new = np.where(out, halfway, s_new)
            done = np.where(out, right - left <= threshold, done)
        if was_done.any():  # converged elements stay put, with what they converged with
            done |= was_done
            s_new = np.where(was_done, s, s_new)
            bp = np.where(was_done, last_bp, bp)
            evaluation = np.where(was_done, last_eval, evaluation)
        out_s[idx], out_bp[idx], out_eval[idx], converged[idx] = s_new, bp, evaluation, done
        ndone = np.count_nonzero(done)
        if ndone == done.size:
            break
        if 4 * ndone >= done.size:  # shrink the active set once that pays for the gathers
            keep = np.flatnonzero(~done)
            idx = keep if isinstance(idx, slice) else idx[keep]
            state = [a[keep] for a in state]
            s = s_new[keep]
            objective = objective[keep]
            was_done = np.zeros(keep.size, dtype=bool)
        else:
            s, was_done, last_bp, last_eval = s_new, done, bp, evaluation
    results = (out_s, out_bp, out_eval, converged)
    if order is not None:  # back to the caller's order
        for a in results:
            a[order] = a.copy()
    return results


# --- public entry point ---------------------------------------------------------------------


_RULES = (FINITE, POSITIVE, POSITIVE, NON_NEGATIVE, FINITE, FINITE)
"""Validation of price, spot, strike, t, rate, div (a negative price is BELOW_INTRINSIC)."""


def implied_vol(
    price: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    div: ArrayLike,
    is_call: ArrayLike,
    *,
    tol: float = 1e-12,
    max_iter: int = 20,
    resolution: float = 1e-10,
) -> IVResult:
    """Implied Black–Scholes–Merton vol of European option prices, elementwise.

    ``tol`` is the convergence tolerance on the vol (absolute, annualised); ``resolution`` the
    vol uncertainty above which an element is UNIDENTIFIABLE (see the module doc).

    >>> res = implied_vol(10.450583572185565, 100.0, 100.0, 1.0, 0.05, 0.0, True)
    >>> round(float(res.vol), 12), IVStatus(int(res.status)).name
    (0.2, 'OK')
    """
    inp = prepare((price, spot, strike, t, rate, div), _RULES, is_call)
    n, shape = inp.n, inp.shape
    P, S, K, T, r, q = (np.broadcast_to(a, (n,)) for a in inp.values)
    omega = np.broadcast_to(inp.omega, (n,))
    vol = np.full(n, np.nan)
    status = np.full(n, IVStatus.OK, dtype=np.int8)
    with np.errstate(all="ignore"):
        sq, kr = discounted(S, K, T, r, q)
        intrinsic = omega * (sq - kr)
        np.maximum(intrinsic, 0.0, out=intrinsic)
        scale = np.sqrt(sq * kr)
        beta = (P - intrinsic) / scale
        x = np.log(sq / kr)
        np.abs(x, out=x)
        np.negative(x, out=x)
        bmax = np.exp(0.5 * x)
        todo = (beta > 0.0) & (beta < bmax) & (T > 0.0)  # NaN fails
        if inp.invalid is not None:
            todo &= ~inp.invalid
        sel = None
        if not todo.all():
            _classify(P, sq, kr, omega, intrinsic, T, todo, inp.invalid, vol, status)
            sel = np.flatnonzero(todo)
        count = n if sel is None else sel.size
        for start in range(0, count, _BLOCK):  # blocks whose temporaries stay in cache
            part = slice(start, start + _BLOCK) if sel is None else sel[start : start + _BLOCK]
            vol[part], status[part] = _solve_block(
                P[part], scale[part], intrinsic[part], T[part], beta[part], x[part], bmax[part],
                tol, max_iter, resolution,
            )  # fmt: skip
    return IVResult(vol.reshape(shape), status.reshape(shape))


def _solve_block(price, scale, intrinsic, t, beta, x, bmax, tol, max_iter, resolution):
    """Vols and statuses of prices strictly inside their bounds (one block)."""
    sqrt_t = np.sqrt(t)
    # Rounding of the price (and of the subtracted intrinsic value), normalised like β;
    # (S e^{-qT} + K e^{-rT}) / scale = b_max + 1/b_max, without underflow.
    floor = np.where(intrinsic > 0.0, NOISE_ULPS * _EPS + _DBL_MIN, _DBL_MIN)
    noise = (NOISE_ULPS * _EPS) * (price / scale)
    noise += floor * (bmax + 1.0 / bmax)
    s, bp, evaluation, converged = _solve(beta, x, bmax, noise, tol * sqrt_t, max_iter)
    settled = converged & (evaluation <= resolution * sqrt_t)
    status = np.where(settled, IVStatus.OK, IVStatus.NOT_CONVERGED).astype(np.int8)
    status[noise / bp > resolution * sqrt_t] = IVStatus.UNIDENTIFIABLE
    return np.where(status == IVStatus.OK, s / sqrt_t, np.nan), status


def _classify(price, sq, kr, omega, intrinsic, t, todo, invalid, vol, status) -> None:
    """Statuses (and vol 0 at intrinsic) of the elements not solved for, in place; later rules
    take precedence. What is left inside the bounds is UNIDENTIFIABLE: its normalised price
    under- or overflowed, or sits within rounding of the upper bound."""
    rest = ~todo
    status[rest] = IVStatus.UNIDENTIFIABLE
    status[rest & (price == intrinsic)] = IVStatus.OK
    upper = np.where(omega > 0.0, sq, kr)
    status[rest & ((price >= upper) | ((t == 0.0) & (price > intrinsic)))] = IVStatus.ABOVE_MAXIMUM
    status[rest & (price < intrinsic)] = IVStatus.BELOW_INTRINSIC
    if invalid is not None:
        status[invalid] = IVStatus.INVALID_INPUT
    vol[rest & (status == IVStatus.OK)] = 0.0
