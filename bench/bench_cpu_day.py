"""CPU-seconds of the whole cluster per simulated trading day, on the default scenario.

`hedgemesh up` runs every service (and its nats-server) on `scenarios/default.yaml` at a fixed
clock speed. An observer reads the ticks' timestamps (the simulated time, whatever pace the
clock keeps) and, once the clock has passed `START_OFFSET` of simulated time (start-up and its
imports are over), reads the CPU time (user + system) of the launcher and every process below
it from `/proc`; again when `STRETCH` more simulated time has passed (ticks a late marketdata
skips can make the stretch measured a little shorter: the figure is scaled by what was). The
difference, per process and in total, scaled to a 6.5-hour trading day, is the figure; the
real seconds the stretch took say how busy the cluster kept the machine (CPU-seconds per real
second).

Before and after in one run: the baseline is a commit (`BASELINE`, the desk before issue 12's
cost cuts; `--baseline REF` another) exported with `git archive` into a temporary folder and
run by the same interpreter and packages with that folder's `libs/` and `services/` first on
`PYTHONPATH` (the `hedgemesh` namespace resolves to the baseline's code), on its own
`scenarios/default.yaml`; baseline and current alternate `--rounds` times. The speed is fixed:
pacing's floor is set to it (`HEDGEMESH_MARKETDATA_PACE_FLOOR`).

    .venv/bin/python bench/bench_cpu_day.py                     # 390x, simulated 1 h to 6 h
    .venv/bin/python bench/bench_cpu_day.py --speed 100 --stretch-h 2 --no-baseline
    .venv/bin/python bench/bench_cpu_day.py --baseline HEAD~3 --rounds 2

Linux only (`/proc`). Run it under the heavy lock on a shared machine; the figure counts the
cluster's own work, so other load changes it little, but it changes the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from cluster import running_cluster

from hedgemesh.runtime import NatsSettings, connect
from hedgemesh.wire import Tick, subjects

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "default.yaml"
SPEED = 390.0
START_OFFSET_H = 1.0
STRETCH_H = 5.0
TRADING_DAY_H = 6.5
#: The desk before issue 12's cost cuts (main when they began).
BASELINE = "7b0d37f"
_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    below: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        below[ppid].append(int(entry.name))
    return below


def _label(pid: int) -> str:
    try:
        argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    args = [a.decode(errors="replace") for a in argv if a]
    if args and "nats-server" in Path(args[0]).name:
        return "nats-server"
    if "-m" in args and args.index("-m") + 1 < len(args):
        module = args[args.index("-m") + 1]
        return "launcher" if module == "hedgemesh.cli" else module.removeprefix("hedgemesh.")
    return Path(args[0]).name if args else "?"


def cpu_by_process(root: int) -> dict[int, tuple[str, float]]:
    """pid → (label, CPU seconds so far) of `root` and every process below it."""
    below = _children()
    out: dict[int, tuple[str, float]] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(below.get(pid, []))
        try:
            fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        utime, stime = int(fields[11]), int(fields[12])
        out[pid] = (_label(pid), (utime + stime) / _TICKS_PER_S)
    return out


async def _simulated_time(url: str, reached: list[datetime], stop: asyncio.Event) -> None:
    """Keep `reached[0]` at the newest tick time seen, until `stop`."""
    nc = await connect(NatsSettings(url=url, name="cpu-day-observer"))

    async def on_tick(msg: Any) -> None:
        tick = Tick.from_json(msg.data)
        if not reached or tick.ts > reached[0]:
            reached[:] = [tick.ts]

    await nc.subscribe(subjects.ALL_TICKS, cb=on_tick)
    await stop.wait()
    await nc.close()


async def _measure(url: str, launcher: int, start: datetime, speed: float,
                   offset_h: float, stretch_h: float) -> dict[str, Any]:  # fmt: skip
    reached: list[datetime] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(_simulated_time(url, reached, stop))

    async def until(offset_s: float) -> None:
        deadline = time.monotonic() + 120 + offset_s / speed * 4
        while not reached or (reached[0] - start).total_seconds() < offset_s:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the simulated clock never reached {offset_s:.0f} s")
            await asyncio.sleep(0.02)

    try:
        await until(offset_h * 3600)
        sim0, real0, before = reached[0], time.monotonic(), cpu_by_process(launcher)
        await until((offset_h + stretch_h) * 3600)
        sim1, real1, after = reached[0], time.monotonic(), cpu_by_process(launcher)
    finally:
        stop.set()
        await watcher
    per: dict[str, float] = defaultdict(float)
    for pid, (label, cpu) in after.items():
        per[label] += cpu - before.get(pid, (label, 0.0))[1]
    gone = sorted(label for pid, (label, _) in before.items() if pid not in after)
    simulated_h = (sim1 - sim0).total_seconds() / 3600
    total = sum(per.values())
    return {
        "speed": speed,
        "simulated_h": simulated_h,
        "real_s": real1 - real0,
        "cpu_s": total,
        "cpu_s_per_real_s": total / (real1 - real0),
        "cpu_s_per_trading_day": total / simulated_h * TRADING_DAY_H,
        "cpu_s_by_process": dict(sorted(per.items(), key=lambda kv: -kv[1])),
        "processes_exited": gone,
    }


@contextlib.contextmanager
def source_tree(ref: str) -> Iterator[Path]:
    """`ref` of this repository exported into a temporary folder (its libs, services and
    scenarios)."""
    with tempfile.TemporaryDirectory(prefix="hedgemesh-baseline-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "libs", "services", "scenarios"],
            check=True, capture_output=True,
        )  # fmt: skip
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder)


def measure(root: Path = ROOT, speed: float = SPEED, offset_h: float = START_OFFSET_H,
            stretch_h: float = STRETCH_H) -> dict[str, Any]:  # fmt: skip
    """One cluster of the code under `root` (this checkout, or an exported baseline), its clock
    held at `speed` (pacing may not slow it: a slower clock spreads the day over more real
    time, and a process's per-second work, heartbeats and polls, with it)."""
    env = {"HEDGEMESH_MARKETDATA_PACE_FLOOR": repr(speed)}
    if root != ROOT:
        path = [str(root / "libs"), str(root / "services"), os.environ.get("PYTHONPATH", "")]
        env["PYTHONPATH"] = os.pathsep.join(p for p in path if p)
    scenario = root / "scenarios" / "default.yaml"
    with running_cluster(scenario, "--speed", repr(speed), env=env) as cluster:
        start = datetime.fromisoformat(cluster["clock"]["start"])
        return asyncio.run(
            _measure(
                cluster["nats_url"], cluster["launcher_pid"], start, speed, offset_h, stretch_h
            )
        )


def run(speed: float = SPEED, offset_h: float = START_OFFSET_H, stretch_h: float = STRETCH_H,
        baseline: str | None = BASELINE, rounds: int = 1) -> dict[str, Any]:  # fmt: skip
    """The current checkout, and `baseline` in the same run (alternating, `rounds` each)."""
    with contextlib.ExitStack() as stack:
        tree = stack.enter_context(source_tree(baseline)) if baseline else None
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for _ in range(rounds):
            if tree is not None:
                before.append(measure(tree, speed, offset_h, stretch_h))
            after.append(measure(ROOT, speed, offset_h, stretch_h))
    figures: dict[str, Any] = {**after[-1], "runs": after}
    if before:
        day = statistics.median(r["cpu_s_per_trading_day"] for r in after)
        base = statistics.median(r["cpu_s_per_trading_day"] for r in before)
        figures["baseline"] = {"ref": baseline, "runs": before, "cpu_s_per_trading_day": base}
        figures["cpu_s_per_trading_day_median"] = day
        figures["baseline_over_current"] = base / day
    return figures


def _report_one(name: str, r: dict[str, Any]) -> None:
    print(
        f"{name} at {r['speed']:g}x: {r['cpu_s']:.1f} CPU-s over {r['simulated_h']:.2f} "
        f"simulated h ({r['real_s']:.1f} real s, {r['cpu_s_per_real_s']:.2f} cores busy); "
        f"per simulated {TRADING_DAY_H:g}-hour trading day: {r['cpu_s_per_trading_day']:.1f} CPU-s"
    )
    print("  " + ", ".join(f"{label} {cpu:.1f}" for label, cpu in r["cpu_s_by_process"].items()))
    if r["processes_exited"]:
        print(f"  exited during the stretch: {', '.join(r['processes_exited'])}")


def report(r: dict[str, Any]) -> None:
    base = r.get("baseline")
    for i, run in enumerate(r["runs"]):
        if base is not None:
            _report_one(f"baseline {base['ref']}, round {i + 1}", base["runs"][i])
        _report_one(f"current, round {i + 1}", run)
    if base is not None:
        print(
            f"cluster CPU-s per simulated trading day (median): baseline "
            f"{base['cpu_s_per_trading_day']:.1f}, current {r['cpu_s_per_trading_day_median']:.1f}"
            f": {r['baseline_over_current']:.2f}x less"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speed", type=float, default=SPEED, help="clock speed (default 390)")
    parser.add_argument("--offset-h", type=float, default=START_OFFSET_H,
                        help="simulated hours before the stretch (start-up)")  # fmt: skip
    parser.add_argument("--stretch-h", type=float, default=STRETCH_H,
                        help="simulated hours measured")  # fmt: skip
    parser.add_argument("--baseline", default=BASELINE,
                        help=f"commit measured in the same run (default {BASELINE})")  # fmt: skip
    parser.add_argument("--no-baseline", action="store_true", help="the current checkout only")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each, alternating")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    baseline = None if args.no_baseline else args.baseline
    figures = run(args.speed, args.offset_h, args.stretch_h, baseline, args.rounds)
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        report(figures)


if __name__ == "__main__":
    main()
