"""Hagan's lognormal implied vol of the SABR model (Hagan, Kumar, Lesniewski and Woodward,
"Managing smile risk", Wilmott Magazine, 2002, equation (2.17a)).

    σ_B(K, F) = α / ((FK)^{(1−β)/2} [1 + (1−β)²/24 ln²(F/K) + (1−β)⁴/1920 ln⁴(F/K)])
                · z / x(z)
                · [1 + ((1−β)²/24 · α²/(FK)^{1−β} + ρβνα / (4 (FK)^{(1−β)/2}) + (2 − 3ρ²)/24 ν²) τ]

    z = ν/α (FK)^{(1−β)/2} ln(F/K),   x(z) = ln((√(1 − 2ρz + z²) + z − ρ) / (1 − ρ))

with z / x(z) → 1 at the money (its series 1 − ρz/2 is used for |z| < 1e-7). Inputs broadcast:
forward and strike in currency (> 0), tau in years (≥ 0), α > 0 (a lognormal vol when β = 1),
β in [0, 1], ρ in (−1, 1), ν ≥ 0. Output: the Black (lognormal) implied vol, a decimal.

>>> round(float(hagan_lognormal_vol(10.0, 10.0, 0.0, 0.3, 1.0, -0.7, 0.3)), 12)
0.3
>>> round(float(hagan_lognormal_vol(10.0, 10.0, 1.0, 0.3, 1.0, 0.0, 0.3)), 6)  # 0.3 (1 + 0.09/12)
0.30225
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["hagan_lognormal_vol"]

_SMALL_Z = 1e-7


def hagan_lognormal_vol(
    forward: ArrayLike,
    strike: ArrayLike,
    tau: ArrayLike,
    alpha: ArrayLike,
    beta: float,
    rho: float,
    nu: float,
) -> NDArray[np.float64]:
    """Hagan's SABR implied Black vol (module doc), broadcast over the array arguments."""
    f = np.asarray(forward, dtype=np.float64)
    k = np.asarray(strike, dtype=np.float64)
    t = np.asarray(tau, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    one_b = 1.0 - beta
    log_fk = np.log(f / k)
    fk_half = (f * k) ** (one_b / 2.0)
    denominator = fk_half * (1.0 + one_b**2 / 24.0 * log_fk**2 + one_b**4 / 1920.0 * log_fk**4)
    z = nu / a * fk_half * log_fk
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.log((np.sqrt(1.0 - 2.0 * rho * z + z * z) + z - rho) / (1.0 - rho))
        ratio = np.where(np.abs(z) < _SMALL_Z, 1.0 - 0.5 * rho * z, z / x)
    correction = (
        1.0
        + (
            one_b**2 / 24.0 * a * a / fk_half**2
            + rho * beta * nu * a / (4.0 * fk_half)
            + (2.0 - 3.0 * rho * rho) / 24.0 * nu * nu
        )
        * t
    )
    return np.asarray(a / denominator * ratio * correction, dtype=np.float64)
