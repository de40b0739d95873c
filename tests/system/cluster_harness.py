"""`hedgemesh up` as a user runs it: a real process whose output is read line by line, and the
cluster file it writes. Shared by the CLI and system tests."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Launcher:
    """`python -m hedgemesh.cli up --home HOME ARGS...` with its output read in the background."""

    def __init__(self, *args: str, home: Path, env: dict[str, str] | None = None) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
        self.home = home
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hedgemesh.cli", "up", "--home", str(home), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**clean, **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, prefix: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if line.startswith(prefix):
                return line
        raise AssertionError(f"no line starting {prefix!r}; output so far: {self.seen}")

    def cluster(self) -> dict[str, Any]:
        return json.loads((self.home / "cluster.json").read_text())

    def api_headers(self, role: str = "admin") -> dict[str, str]:
        """The `Authorization` header of the API token `up` wrote for `role`."""
        tokens = json.loads(Path(self.cluster()["api_tokens_file"]).read_text())["tokens"]
        token = next(t["token"] for t in tokens if t["role"] == role)
        return {"Authorization": f"Bearer {token}"}

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
