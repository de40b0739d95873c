"""Progress of long CLI work: a bar redrawn in place on a terminal, a line per step elsewhere."""

from __future__ import annotations

import io

from hedgemesh.cli.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_given_no_terminal_then_each_step_is_a_plain_line() -> None:
    out = io.StringIO()
    with Progress("report", total=3, stream=out) as progress:
        progress.step("read /v1/pnl")
        progress.step("pnl.png")
    lines = out.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        "report: [1/3] read /v1/pnl",
        "report: [2/3] pnl.png",
    ]
    assert "\r" not in out.getvalue()


def test_given_a_terminal_then_one_bar_is_redrawn_and_ends_with_a_newline() -> None:
    out = Terminal()
    with Progress("backtest", total=4, stream=out) as progress:
        for label in ("a", "b", "c", "d"):
            progress.step(label)
    text = out.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
    assert "[" + "#" * 28 + "] 4/4" in text
    assert "[" + "#" * 7 + "." * 21 + "] 1/4" in text
