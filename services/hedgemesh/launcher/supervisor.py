"""Run every instance of the cluster as a child process; restart what dies (crash-only).

Each child gets the shared environment (NATS URL, database URL, scenario, clock), its own
`HEDGEMESH_INSTANCE`, its own log file, and its own process group so that a Ctrl-C in the
terminal reaches only the launcher, which then stops the children in reverse start order.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from hedgemesh.launcher.catalog import Instance
from hedgemesh.runtime.process import die_with_parent

log = logging.getLogger(__name__)

#: Restart back-off: doubles from the first value up to the second; reset after a stable run.
BACKOFF_S = (0.25, 8.0)
STABLE_AFTER_S = 30.0


@dataclass(frozen=True)
class Stopped:
    """How a child ended when stopped: its exit code and the seconds it took after SIGTERM
    (past the timeout it was killed, and the code says so)."""

    code: int
    took_s: float


@dataclass
class Child:
    instance: Instance
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None
    started: float = 0.0
    restarts: int = 0
    backoff_s: float = BACKOFF_S[0]
    restart_at: float | None = None
    exits: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


#: Where an instance is told its Prometheus port (`RuntimeSettings.metrics_port`).
METRICS_PORT_ENV = "HEDGEMESH_METRICS_PORT"


class Supervisor:
    """Start, watch, restart and stop the children. Not thread-safe: one loop drives it."""

    def __init__(
        self,
        instances: list[Instance],
        *,
        env: dict[str, str],
        log_dir: Path,
        restart: bool = True,
        python: str = sys.executable,
        service_env: dict[str, dict[str, str]] | None = None,
        instance_env: dict[str, dict[str, str]] | None = None,
    ) -> None:
        self.env = env
        #: Extra environment per service name (e.g. the API's chosen port).
        self.service_env = service_env or {}
        #: Extra environment per instance name (e.g. its metrics port).
        self.instance_env = instance_env or {}
        self.restart = restart
        self.python = python
        log_dir.mkdir(parents=True, exist_ok=True)
        self.children = {i.name: Child(i, log_dir / f"{i.name}.log") for i in instances}

    def start_all(self) -> None:
        for child in self.children.values():
            self._spawn(child)

    def _spawn(self, child: Child) -> None:
        spec = child.instance.spec
        env = {
            **os.environ,
            **self.env,
            **spec.env,
            **self.service_env.get(spec.name, {}),
            **self.instance_env.get(child.instance.name, {}),
        }
        env["HEDGEMESH_INSTANCE"] = child.instance.name
        env["PYTHONUNBUFFERED"] = "1"
        if child.log_file is None:
            child.log_file = child.log_path.open("ab")
        child.process = subprocess.Popen(
            [self.python, *child.instance.spec.command],
            stdin=subprocess.DEVNULL,
            stdout=child.log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent(),  # no orphans if the launcher is killed -9
        )
        child.started = time.monotonic()
        child.restart_at = None
        log.info("started %s (pid %s)", child.instance.name, child.pid)

    def poll(self) -> list[str]:
        """Notice exits and restart due children; returns what happened, for the operator."""
        events: list[str] = []
        now = time.monotonic()
        for child in self.children.values():
            if child.process is not None and child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    if now - child.started > STABLE_AFTER_S:
                        child.backoff_s = BACKOFF_S[0]
                    continue
                child.exits.append(code)
                if not self.restart:
                    events.append(f"{child.instance.name} exited with {_describe(code)}")
                    child.process = None
                    continue
                child.restart_at = now + child.backoff_s
                events.append(
                    f"{child.instance.name} exited with {_describe(code)}; "
                    f"restarting in {child.backoff_s:.2f} s"
                )
                child.backoff_s = min(child.backoff_s * 2, BACKOFF_S[1])
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                self._spawn(child)
                events.append(f"{child.instance.name} restarted (pid {child.pid})")
        return events

    def stop_all(self, timeout_s: float = 5.0) -> dict[str, Stopped]:
        """SIGTERM every child in reverse start order, wait, then SIGKILL what is left; returns
        how each live child ended (exit code, seconds from the SIGTERM) by instance name."""
        children = [c for c in reversed(list(self.children.values())) if c.alive]
        signalled = time.monotonic()
        for child in children:
            _signal(child, signal.SIGTERM)
        deadline = signalled + timeout_s
        stopped: dict[str, Stopped] = {}
        waiting = list(children)
        while waiting and time.monotonic() < deadline:
            for child in list(waiting):
                assert child.process is not None
                code = child.process.poll()
                if code is not None:
                    stopped[child.instance.name] = Stopped(code, time.monotonic() - signalled)
                    waiting.remove(child)
            time.sleep(0.01 if waiting else 0)
        for child in waiting:
            assert child.process is not None
            log.warning("%s ignored SIGTERM; killing it", child.instance.name)
            _signal(child, signal.SIGKILL)
            code = child.process.wait()
            stopped[child.instance.name] = Stopped(code, time.monotonic() - signalled)
        for child in children:
            child.exits.append(stopped[child.instance.name].code)
        for child in self.children.values():
            child.restart_at = None
            if child.log_file is not None:
                child.log_file.close()
                child.log_file = None
        return stopped

    def _metrics_url(self, child: Child) -> str | None:
        """Where the instance serves Prometheus `/metrics` (the api: on its own port)."""
        env = {
            **self.service_env.get(child.instance.spec.name, {}),
            **self.instance_env.get(child.instance.name, {}),
        }
        http = child.instance.spec.http
        port = env.get(METRICS_PORT_ENV) or (env.get(http.port_env) if http else None)
        return f"http://127.0.0.1:{port}/metrics" if port else None

    def snapshot(self) -> dict[str, dict[str, object]]:
        """What the state file records per instance."""
        return {
            name: {
                "service": child.instance.spec.name,
                "pid": child.pid if child.alive else None,
                "log": str(child.log_path),
                "restarts": child.restarts,
                "metrics_url": self._metrics_url(child),
            }
            for name, child in self.children.items()
        }


def _signal(child: Child, sig: int) -> None:
    if child.process is not None and child.process.poll() is None:
        child.process.send_signal(sig)


def _describe(code: int) -> str:
    if code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
