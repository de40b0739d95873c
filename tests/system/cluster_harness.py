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
from collections.abc import Callable
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

    def drain(self) -> list[str]:
        """Every line printed so far (after it stopped: all of them)."""
        while not self.lines.empty():
            self.seen.append(self.lines.get_nowait())
        return self.seen

    def status(self, *args: str) -> str:
        """`hedgemesh status ARGS` against this cluster: what it prints."""
        done = subprocess.run(
            [sys.executable, "-m", "hedgemesh.cli", "status", "--home", str(self.home), *args],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        return done.stdout + done.stderr

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def secrets_of(home: Path) -> dict[str, str]:
    """Every secret a run of `up` made, by a name for the report: NATS passwords, API tokens,
    FIX passwords (the values, which no log may hold)."""
    found: dict[str, str] = {}
    credentials = home / "nats" / "credentials.json"
    for user, password in json.loads(credentials.read_text()).items():
        found[f"nats password of {user}"] = password
    for token in json.loads((home / "api-tokens.json").read_text())["tokens"]:
        found[f"api token of {token['name']}"] = token["token"]
    fix = home / "fix-passwords.json"
    if fix.exists():
        for name, password in json.loads(fix.read_text()).items():
            found[f"fix password of {name}"] = str(password)
    return found


def leaked_secrets(home: Path, printed: dict[str, str]) -> list[str]:
    """Where any secret of the run appears: every `*.log` under `home` (the services', NATS's)
    and the texts in `printed` (the launcher's output, `hedgemesh status`), by name."""
    texts = {str(log): log.read_text(errors="replace") for log in home.rglob("*.log")}
    texts.update(printed)
    return [
        f"{name} in {where}"
        for name, secret in secrets_of(home).items()
        for where, text in texts.items()
        if secret in text
    ]


def until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
    """Poll `check` until it returns something true (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s (last: {result!r})")
        time.sleep(every)
