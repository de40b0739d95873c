"""A whole cluster under `hedgemesh up` for a benchmark: a fresh home, free ports, no restarts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_cluster(scenario: Path, *args: str, wait_s: float = 60.0) -> Iterator[dict[str, Any]]:
    """`hedgemesh up` on `scenario` (extra `args`, e.g. `--speed 390`) until the block ends
    (SIGINT); yields its `cluster.json` with `launcher_pid` (the admin NATS URL included)."""
    with tempfile.TemporaryDirectory(prefix="hedgemesh-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
        env["HEDGEMESH_API_PORT"] = str(free_port())
        launcher = subprocess.Popen(
            [sys.executable, "-m", "hedgemesh.cli", "up", "--home", home, "--nats-port", "0",
             "--scenario", str(scenario), "--no-restart", *args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )  # fmt: skip
        try:
            cluster_file = Path(home) / "cluster.json"
            deadline = time.monotonic() + wait_s
            while not cluster_file.exists():
                if time.monotonic() > deadline or launcher.poll() is not None:
                    raise RuntimeError("the cluster did not start")
                time.sleep(0.1)
            yield {**json.loads(cluster_file.read_text()), "launcher_pid": launcher.pid}
        finally:
            launcher.send_signal(signal.SIGINT)
            launcher.wait(60)
