"""Progress of long CLI work: a bar redrawn in place on a terminal, plain lines otherwise (a
log file, CI, a pipe), so nothing long runs silently.

    with Progress("report", total=6) as progress:
        for step in steps:
            progress.step(step.name)   # [3/6] limits.png
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

__all__ = ["Progress"]

_WIDTH = 28


class Progress:
    """`total` steps of `what`; `step(label)` after each. On a TTY one line is redrawn
    (`what [#####.....] 3/6 label 1.2 s`); elsewhere each step is a line of its own."""

    def __init__(self, what: str, total: int, stream: TextIO | None = None) -> None:
        self.what = what
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._started = time.perf_counter()

    def step(self, label: str = "") -> None:
        self.done = min(self.done + 1, self.total)
        elapsed = time.perf_counter() - self._started
        if self.tty:
            filled = round(_WIDTH * self.done / self.total)
            bar = "#" * filled + "." * (_WIDTH - filled)
            self.stream.write(
                f"\r{self.what} [{bar}] {self.done}/{self.total} {label[:40]:<40} {elapsed:5.1f} s"
            )
        else:
            self.stream.write(
                f"{self.what}: [{self.done}/{self.total}] {label} ({elapsed:.1f} s)\n"
            )
        self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
