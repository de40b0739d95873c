"""Shared fixtures: a real nats-server per test (random port, JetStream in a temp dir), clients
connected to it, and `eventually`, which polls a condition with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hedgemesh.runtime.bus import Bus
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.server import NatsServer
from hedgemesh.runtime.streams import ensure_streams

# Test modules are imported by path (--import-mode=importlib); the shared example modules of each
# area (wire_examples, exec_examples, ...) are imported by name, so every area is on the path.
for _area in sorted(Path(__file__).parent.iterdir()):
    if _area.is_dir() and not _area.name.startswith(("_", ".")) and str(_area) not in sys.path:
        sys.path.insert(0, str(_area))

Predicate = Callable[[], Any | Awaitable[Any]]


async def _eventually(predicate: Predicate, timeout: float = 5.0, interval: float = 0.01) -> Any:
    """Poll `predicate` (sync or async) until it returns something truthy, and return that;
    fail the test if it has not within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            name = getattr(predicate, "__name__", repr(predicate))
            raise AssertionError(f"{name} still false after {timeout} s (last: {result!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def eventually() -> Callable[..., Awaitable[Any]]:
    """`await eventually(lambda: x == 3, timeout=5)`: poll with a deadline, never sleep-and-hope."""
    return _eventually


@pytest.fixture
def nats_server(tmp_path) -> Iterator[NatsServer]:
    """A fresh nats-server with JetStream, on a free port, storing in this test's temp dir."""
    server = NatsServer(store_dir=tmp_path / "nats")
    with server:
        yield server


def nats_settings(server: NatsServer, name: str = "test") -> NatsSettings:
    return NatsSettings(url=server.url, name=name)


@pytest.fixture
async def nats_client(nats_server: NatsServer) -> AsyncIterator[Any]:
    """A raw nats-py client, for tests that must send what the typed bus refuses to."""
    nc = await connect(nats_settings(nats_server, "raw"), initial_timeout_s=5.0)
    yield nc
    await nc.close()


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[Bus]:
    """A `Bus` for service `test`, with every stream and bucket ensured."""
    nc = await connect(nats_settings(nats_server, "test"), initial_timeout_s=5.0)
    test_bus = Bus(nc, "test")
    await ensure_streams(test_bus.js)
    yield test_bus
    await test_bus.close()


@dataclass(frozen=True)
class TlsFiles:
    """A certificate authority made for one test and a server certificate it signed, for
    127.0.0.1 and localhost (PEM files)."""

    ca: Path
    cert: Path
    key: Path


@pytest.fixture
def tls_files(tmp_path: Path) -> TlsFiles:
    """`TlsFiles` made with openssl in `tmp_path` (EC P-256, valid for a day)."""
    folder = tmp_path / "tls"
    folder.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=test-ca")
    openssl("req", *ec[:-2], "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=nats")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sign = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1"]
    openssl("x509", "-req", "-in", "server.csr", *sign, "-out", "server.pem", "-extfile", "san.ext")
    return TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
