"""Serving a learned policy live, with its fallback (pure: no I/O but reading the checkpoint).

    serving = LearnedServing("examples/learned/cao-gbm", budget_s=0.002)
    served = serving.decide("SPX", live_input, fallback=DeltaGamma(...))
    served.decision, served.policy ("learned" or "band"), served.reason (None when learned)

`decide` runs the checkpoint's `LearnedPolicy` through `policies.live.decide` (the function the
lab's parity test replays) and falls back to ``fallback`` (the agent's band policy), saying
why, when

- ``missing``: there is no checkpoint where configured;
- ``checksum``: its weights fail the manifest's checksum;
- ``shape``: its weights or manifest are not the network it says (a `CheckpointError`);
- ``non_finite``: the decision has a trade, target or greek that is not finite;
- ``out_of_bounds``: the trade moves the gamma away from zero or past it (the network may
  only trade between none and the gamma-neutral quantity);
- ``too_slow``: the learned decision took longer than ``budget_s`` (``timer`` seconds);
- ``invalid``: the policy refused the input (a ValueError).

Every fallback is counted by reason (`status`). The checkpoint is read once and read again when
its files change. Its memory (first decision, a GRU's hidden state) is kept per key
(underlying); live there is no episode end, so each key runs in rolling episodes of the
training length: after one, the memory starts afresh.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hedgemesh.policies import live
from hedgemesh.policies.base import Policy
from hedgemesh.policies.learned.checkpoint import (
    MANIFEST_FILE,
    WEIGHTS_FILE,
    CheckpointError,
)
from hedgemesh.policies.learned.policy import LearnedPolicy
from hedgemesh.policies.live import LiveDecision, LiveInput, LiveMemory

__all__ = ["REASONS", "LearnedServing", "Served"]

REASONS = ("missing", "checksum", "shape", "non_finite", "out_of_bounds", "too_slow", "invalid")
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Served:
    """A live decision and who took it: ``policy`` "learned" or "band"; ``reason`` (one of
    `REASONS`) and ``detail`` when the band stood in."""

    decision: LiveDecision
    policy: str
    reason: str | None = None
    detail: str = ""


class LearnedServing:
    """A checkpoint served with a band fallback (see the module doc)."""

    def __init__(
        self,
        checkpoint: str | Path | None,
        *,
        budget_s: float,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.budget_s = float(budget_s)
        self.timer = timer
        self.fallbacks: Counter[str] = Counter()
        self.decisions = 0
        self.last: Served | None = None
        self.memory: dict[str, LiveMemory] = {}
        self._policy: LearnedPolicy | None = None
        self._error: tuple[str, str] | None = None
        self._stamp: tuple[int, int] | None = None

    # -- the checkpoint ----------------------------------------------------------------------

    def _files_stamp(self) -> tuple[int, int] | None:
        if self.checkpoint is None:
            return None
        try:
            return (
                (self.checkpoint / MANIFEST_FILE).stat().st_mtime_ns,
                (self.checkpoint / WEIGHTS_FILE).stat().st_mtime_ns,
            )
        except OSError:
            return None

    def policy(self) -> LearnedPolicy | tuple[str, str]:
        """The loaded policy, or (reason, detail) why there is none."""
        stamp = self._files_stamp()
        if stamp is not None and stamp == self._stamp and self._policy is not None:
            return self._policy
        if stamp is None:
            self._policy, self._stamp = None, None
            where = (
                "no checkpoint is configured" if self.checkpoint is None else str(self.checkpoint)
            )
            return "missing", f"no checkpoint: {where}"
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._policy, self._error = LearnedPolicy(checkpoint=str(self.checkpoint)), None
                self.memory.clear()
            except CheckpointError as error:
                text = str(error)
                reason = (
                    "checksum"
                    if "checksum" in text
                    else ("missing" if "no checkpoint" in text else "shape")
                )
                self._policy, self._error = None, (reason, text)
        if self._policy is not None:
            return self._policy
        assert self._error is not None
        return self._error

    @property
    def hedge_tenor_days(self) -> float | None:
        """The tenor of the option the checkpoint was trained to trade (None: none loaded)."""
        loaded = self.policy()
        return loaded.hedge_options[0].tenor_days if isinstance(loaded, LearnedPolicy) else None

    # -- one decision ------------------------------------------------------------------------

    def decide(self, key: str, inp: LiveInput, fallback: Policy) -> Served:
        """The learned decision on ``inp`` for ``key``, or the fallback's with the reason."""
        self.decisions += 1
        loaded = self.policy()
        if not isinstance(loaded, LearnedPolicy):
            return self._fall_back(inp, fallback, *loaded)
        memory = self._memory(key, inp, loaded)
        started = self.timer()
        try:
            decision = live.decide(loaded, inp, memory)
        except ValueError as error:
            return self._fall_back(inp, fallback, "invalid", str(error))
        elapsed = self.timer() - started
        values = (*decision.targets, *decision.trades, decision.after.gamma, decision.after.delta)
        if not all(math.isfinite(v) for v in values):
            return self._fall_back(inp, fallback, "non_finite", f"trades {decision.trades}")
        before, after = decision.before.gamma, decision.after.gamma
        slack = _TOLERANCE * (1.0 + abs(before))
        if abs(after) > abs(before) + slack or after * before < -slack * abs(before):
            detail = f"gamma {before:+.6g} to {after:+.6g}"
            return self._fall_back(inp, fallback, "out_of_bounds", detail)
        if elapsed > self.budget_s:
            detail = f"{elapsed * 1e6:.0f} µs over the budget of {self.budget_s * 1e6:.0f} µs"
            return self._fall_back(inp, fallback, "too_slow", detail)
        self.memory[key] = decision.memory
        self.last = Served(decision, "learned")
        return self.last

    def _memory(self, key: str, inp: LiveInput, policy: LearnedPolicy) -> LiveMemory:
        memory = self.memory.get(key, LiveMemory())
        extra = memory.extra
        if extra is not None and inp.time - extra[0] >= policy.loaded.episode_years - _TOLERANCE:
            memory = LiveMemory()  # a new rolling episode
        return memory

    def _fall_back(self, inp: LiveInput, fallback: Policy, reason: str, detail: str) -> Served:
        self.fallbacks[reason] += 1
        self.last = Served(live.decide(fallback, inp), "band", reason, detail)
        return self.last

    def status(self) -> dict[str, object]:
        """What is in force and how often the band stood in: {policy, fallbacks (total),
        by_reason, reason, detail (of the last decision)}."""
        last = self.last
        return {
            "policy": last.policy if last else None,
            "decisions": self.decisions,
            "fallbacks": sum(self.fallbacks.values()),
            "by_reason": dict(self.fallbacks),
            "reason": last.reason if last else None,
            "detail": last.detail if last else "",
        }
