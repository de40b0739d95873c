"""Operator commands on a running local cluster: `hedgemesh status`, `kill` and `logs`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hedgemesh.cli.up import without_user
from hedgemesh.launcher import state
from hedgemesh.runtime import NatsSettings, connect
from hedgemesh.wire import Heartbeat, subjects
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord

#: Heartbeats come every two seconds; listening a little longer sees every live instance.
LISTEN_S = 2.5


def add_parsers(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser("status", help="instances, leaders, standbys, heartbeat ages")
    status.add_argument("--home", type=Path, default=None)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=run_status)

    kill = commands.add_parser("kill", help="kill a service's leader (or a named instance)")
    kill.add_argument("target", help="a service (its leader is killed) or an instance name")
    kill.add_argument("--home", type=Path, default=None)
    kill.add_argument(
        "--signal", default="KILL", help="signal name (default KILL, as a crash would)"
    )
    kill.set_defaults(func=run_kill)

    logs = commands.add_parser("logs", help="print a service's (or an instance's) log")
    logs.add_argument("target", help="a service or an instance name")
    logs.add_argument("--home", type=Path, default=None)
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines from the end")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.set_defaults(func=run_logs)


async def _heartbeats(url: str, listen_s: float = LISTEN_S) -> dict[str, Heartbeat]:
    """The latest heartbeat of every instance heard within `listen_s`, by instance name."""
    return (await _observe(url, listen_s))[0]


async def _observe(
    url: str, listen_s: float = LISTEN_S
) -> tuple[dict[str, Heartbeat], ClockRecord | None]:
    """The latest heartbeat of every instance heard within `listen_s`, by instance name, and
    the cluster clock's record (None: none in KV)."""
    nc = await connect(NatsSettings(url=url, name="hedgemesh-cli"), initial_timeout_s=3.0)
    latest: dict[str, Heartbeat] = {}
    record: ClockRecord | None = None

    async def on_message(msg: Any) -> None:
        try:
            beat = Heartbeat.from_json(msg.data)
        except ValueError:
            return
        latest[beat.instance] = beat

    try:
        await nc.subscribe(subjects.ALL_HEARTBEATS, cb=on_message)
        with contextlib.suppress(Exception):  # no bucket, or no key: an older cluster
            kv = await nc.jetstream().key_value(subjects.KV_CLOCK)
            record = ClockRecord.from_json((await kv.get(CLUSTER_CLOCK_KEY)).value or b"")
        await asyncio.sleep(listen_s)
    finally:
        await nc.close()
    return latest, record


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cluster_now(
    cluster: dict[str, Any], record: ClockRecord | None = None
) -> tuple[datetime, float]:
    """The cluster's simulated time now, and its speed (simulated seconds per real second):
    from the clock's record in KV when there is one (pacing changes the speed), else from the
    launcher's file."""
    if record is not None:
        return record.time_at(time.time()), record.speed
    clock = cluster.get("clock")
    if not clock:
        return datetime.now(UTC), 1.0
    elapsed = (time.time() - clock["anchor"]) * clock["speed"]
    return datetime.fromisoformat(clock["start"]) + timedelta(seconds=elapsed), clock["speed"]


def status_rows(
    cluster: dict[str, Any], beats: dict[str, Heartbeat], record: ClockRecord | None = None
) -> list[dict[str, Any]]:
    """One row per instance; heartbeat ages in real seconds (heartbeats carry simulated time)."""
    now, speed = cluster_now(cluster, record)
    speed = speed or 1.0  # held: the heartbeats' time stands still too
    rows = []
    for name, info in sorted(cluster.get("instances", {}).items()):
        beat = beats.get(name)
        rows.append(
            {
                "instance": name,
                "service": info["service"],
                "pid": info.get("pid"),
                "alive": _alive(info.get("pid")),
                "restarts": info.get("restarts", 0),
                "metrics_url": info.get("metrics_url"),
                "role": beat.role.value if beat else None,
                "state": beat.state.value if beat else None,
                "epoch": beat.epoch if beat else None,
                "partitions": beat.partitions if beat else None,
                "heartbeat_age_s": (
                    round(max((now - beat.ts).total_seconds(), 0.0) / speed, 2) if beat else None
                ),
                "lag_ms": beat.lag_ms if beat else None,
            }
        )
    return rows


def clock_view(record: ClockRecord | None) -> dict[str, Any] | None:
    """The cluster clock as status shows it (None: a clock at real time, no record)."""
    return None if record is None else record.summary(time.time())


def clock_line(view: dict[str, Any] | None) -> str:
    if view is None:
        return "clock: real time"
    if view["held"]:
        return f"clock: held at {view['now']} until the desk is ready ({view['ceiling']:g}x then)"
    paced = f", paced from {view['ceiling']:g}x: {view['reason']}" if view["paced"] else ""
    return f"clock: {view['speed']:.0f}x at {view['now']}{paced}"


def desk_health(api_url: str | None, timeout_s: float = 3.0) -> dict[str, Any]:
    """The API's `/health` (status, causes), or why it could not be read."""
    if not api_url:
        return {"status": "unknown", "causes": ["no API in this cluster"]}
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout_s) as reply:
            return dict(json.load(reply))
    except urllib.error.HTTPError as error:  # 503: the API's own NATS or store is down
        with contextlib.suppress(Exception):
            return dict(json.load(error))
        return {"status": "degraded", "causes": [f"the API answers {error.code}"]}
    except (OSError, ValueError) as error:
        return {"status": "unknown", "causes": [f"the API did not answer: {error}"]}


def desk_line(health: dict[str, Any]) -> str:
    causes = [*health.get("causes", []), *filter(None, [health.get("detail")])]
    return f"desk: {health.get('status')}" + (": " + "; ".join(causes) if causes else "")


def run_status(args: argparse.Namespace) -> int:
    cluster = state.read(state.home_dir(args.home))
    beats, record = asyncio.run(_observe(cluster["nats_url"]))
    rows = status_rows(cluster, beats, record)
    clock = clock_view(record)
    health = desk_health(cluster.get("api_url"))
    if args.json:
        shown = without_user(cluster["nats_url"])
        out = {"nats_url": shown, "desk": health, "clock": clock, "instances": rows}
        print(json.dumps(out, indent=2))
        return 0
    print(f"NATS {without_user(cluster['nats_url'])}  (launcher pid {cluster.get('launcher_pid')})")
    print(desk_line(health))
    print(clock_line(clock))
    header = ("instance", "pid", "alive", "role", "state", "epoch", "heartbeat", "restarts")
    print("{:<22} {:>7} {:>5} {:<8} {:<9} {:>6} {:>9} {:>8}  metrics".format(*header))
    for r in rows:
        age = "-" if r["heartbeat_age_s"] is None else f"{r['heartbeat_age_s']:.1f}s"
        print(
            f"{r['instance']:<22} {r['pid'] or '-':>7} {'yes' if r['alive'] else 'no':>5} "
            f"{r['role'] or '-':<8} {r['state'] or '-':<9} {r['epoch'] or '-':>6} {age:>9} "
            f"{r['restarts']:>8}  {r['metrics_url'] or '-'}"
            + ("" if r["partitions"] is None else f"  partitions {r['partitions']}")
        )
    return 0


def choose_victim(target: str, cluster: dict[str, Any], beats: dict[str, Heartbeat]) -> str:
    """The instance `hedgemesh kill TARGET` means: the instance itself, or the service's leader
    (by its heartbeats), or the service's first live instance when none says it leads."""
    instances: dict[str, Any] = cluster.get("instances", {})
    if target in instances:
        return target
    mine = [name for name, info in sorted(instances.items()) if info["service"] == target]
    if not mine:
        known = sorted({info["service"] for info in instances.values()} | set(instances))
        raise SystemExit(f"hedgemesh: no service or instance {target!r}; known: {known}")
    leaders = [n for n in mine if n in beats and beats[n].role.value == "leader"]
    live = [n for n in mine if _alive(instances[n].get("pid"))]
    if leaders:
        return leaders[0]
    if live:
        return live[0]
    raise SystemExit(f"hedgemesh: no live instance of {target}")


def run_kill(args: argparse.Namespace) -> int:
    cluster = state.read(state.home_dir(args.home))
    try:
        sig = signal.Signals[f"SIG{args.signal.upper().removeprefix('SIG')}"]
    except KeyError:
        raise SystemExit(f"hedgemesh: unknown signal {args.signal!r}") from None
    instances = cluster.get("instances", {})
    needs_beats = args.target not in instances
    beats = asyncio.run(_heartbeats(cluster["nats_url"])) if needs_beats else {}
    victim = choose_victim(args.target, cluster, beats)
    pid = instances[victim].get("pid")
    if not _alive(pid):
        raise SystemExit(f"hedgemesh: {victim} is not running")
    os.kill(pid, sig)
    print(f"hedgemesh: sent {sig.name} to {victim} (pid {pid})")
    return 0


def log_paths(target: str, cluster: dict[str, Any]) -> list[Path]:
    instances: dict[str, Any] = cluster.get("instances", {})
    names = (
        [target]
        if target in instances
        else [n for n, info in sorted(instances.items()) if info["service"] == target]
    )
    if not names:
        raise SystemExit(f"hedgemesh: no service or instance {target!r}")
    return [Path(instances[n]["log"]) for n in names]


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except FileNotFoundError:
        return []


def run_logs(args: argparse.Namespace) -> int:
    cluster = state.read(state.home_dir(args.home))
    paths = log_paths(args.target, cluster)
    for path in paths:
        prefix = f"[{path.stem}] " if len(paths) > 1 else ""
        for line in _tail(path, args.lines):
            print(prefix + line)
    if not args.follow:
        return 0
    offsets = {p: p.stat().st_size if p.exists() else 0 for p in paths}
    try:
        while True:
            for path in paths:
                if not path.exists():
                    continue
                with path.open("rb") as f:
                    f.seek(offsets[path])
                    chunk = f.read()
                    offsets[path] = f.tell()
                for line in chunk.decode(errors="replace").splitlines():
                    prefix = f"[{path.stem}] " if len(paths) > 1 else ""
                    print(prefix + line, flush=True)
            time.sleep(0.2)
    except KeyboardInterrupt:
        return 0
    finally:
        sys.stdout.flush()
