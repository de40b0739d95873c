"""Benchmark: GET /v1/positions (20 positions) from the real API process, against plain FastAPI.

Run: `.venv/bin/python bench/bench_api.py` (`make bench` runs it too). Everything on loopback:

- a real nats-server (JetStream in a temp dir) and `python -m hedgemesh.api` as its own
  process (one uvicorn worker; uvloop and httptools when installed), its read model seeded by
  publishing a 20-position `PositionSnapshot` on `hedge.v1.positions.SPX`;
- baselines: a plain FastAPI app in its own process (the same uvicorn settings) returning the
  same data as a dict, encoded by FastAPI's default (`jsonable_encoder` and `json.dumps`: no
  response model), and, for reference, through a response model (pydantic-core);
- a load generator in a third process: 64 keep-alive HTTP/1.1 connections, one request in
  flight on each (no pipelining), a raw asyncio client (httpx costs more per request than the
  server does, so it would measure itself), for a fixed time after a warm-up.

Measured: the API's `/v1/positions` (answered from pre-encoded bytes before routing), the same
bytes through FastAPI's routing and dependencies (`/v1/positions?underlying=SPX`), and the
baselines. Prints requests/s, p50 and p99 latency, and the ratios to the default-encoding
baseline; asserts nothing on time.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

CONNECTIONS = 64
WARMUP_S = 1.0
MEASURE_S = 3.0
MAX_REQUESTS = 400_000
N_POSITIONS = 20
HERE = Path(__file__).resolve()
#: The bearer token the load generator sends (the API's admin token; the baseline ignores it).
TOKEN_ENV = "BENCH_API_TOKEN"
ROOT = HERE.parent.parent


# -- the baseline app and the load generator (run as subprocesses of this file) ---------------


def serve_baseline(port: int, body_file: str) -> None:
    """Plain FastAPI apps returning the API's positions as a dict: `/v1/positions` with no
    response model (FastAPI's default: `jsonable_encoder`, then `json.dumps`), and
    `/v1/positions-typed` with a response model (pydantic-core serialises it)."""
    import uvicorn
    from fastapi import FastAPI

    data = json.loads(Path(body_file).read_bytes())
    app = FastAPI()

    @app.get("/v1/positions", response_model=None)
    async def positions():  # type: ignore[no-untyped-def]  # no annotation: no response model
        return data

    @app.get("/v1/positions-typed")
    async def positions_typed() -> dict[str, Any]:
        return data

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


async def _load(port: int, target: str, seconds: float, warmup: float) -> dict[str, float]:
    token = os.environ.get(TOKEN_ENV)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}\r\n".encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    clock = time.perf_counter
    start = clock()
    measure_from, stop = start + warmup, start + warmup + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while (now := clock()) < stop and len(latencies) < MAX_REQUESTS:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                at = head.lower().find(b"content-length:")
                length = int(head[at + 15 : head.index(b"\r\n", at)])
                await reader.readexactly(length)
                if now >= measure_from:
                    latencies.append(clock() - now)
                    statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))
    elapsed = min(clock(), stop) - measure_from
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "requests_per_s": n / elapsed,
        "p50_ms": latencies[n // 2] * 1e3,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3,
        "non_200": sum(count for status, count in statuses.items() if status != 200),
    }


def load(port: int, target: str, seconds: float, warmup: float) -> None:
    try:
        import uvloop

        result = uvloop.run(_load(port, target, seconds, warmup))
    except ImportError:
        result = asyncio.run(_load(port, target, seconds, warmup))
    print(json.dumps(result))


# -- the benchmark ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(
    url: str, ok: Any, timeout_s: float = 30.0, headers: dict[str, str] | None = None
) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2.0, headers=headers)
            if ok(response):
                return response
            last = response.text[:200]
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready after {timeout_s} s (last: {last})")


def _snapshot() -> Any:
    from hedgemesh.wire.book import Position, PositionSnapshot
    from hedgemesh.wire.instruments import Instrument

    expiry = datetime(2030, 12, 20, 21, tzinfo=UTC)
    positions = [
        Position(
            instrument=Instrument.option(
                "SPX",
                expiry + timedelta(days=7 * (i % 4)),
                4800 + 25 * i,
                "call" if i % 2 else "put",
            ),
            quantity=(-1) ** i * (10 + i),
            average_price=12.5 + i,
            mark_price=13.0 + i,
            realised_pnl=100.0 * i,
            unrealised_pnl=-50.0 * i,
        )
        for i in range(N_POSITIONS - 1)
    ]
    positions.append(
        Position(instrument=Instrument.spot("SPX"), quantity=250, average_price=5000.0)
    )
    return PositionSnapshot(
        underlying="SPX",
        positions=positions,
        cash=-1_250_000.0,
        realised_pnl=1900.0,
        unrealised_pnl=-950.0,
        fees=12.5,
        as_of_seq=42,
    )


async def _publish_snapshot(url: str) -> None:
    from hedgemesh.runtime.bus import Bus
    from hedgemesh.runtime.connection import NatsSettings, connect
    from hedgemesh.wire import subjects

    nc = await connect(NatsSettings(url=url, name="bench"), initial_timeout_s=5.0)
    bus = Bus(nc, "bench")
    await bus.publish(subjects.positions("SPX"), _snapshot())
    await bus.close()


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _measure(port: int, target: str, token: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(HERE), "load", str(port), target, str(MEASURE_S), str(WARMUP_S)],
        env={**os.environ, TOKEN_ENV: token},
        capture_output=True,
        check=True,
        timeout=MEASURE_S + WARMUP_S + 60,
    )
    return json.loads(out.stdout)


def run() -> dict[str, Any]:
    from hedgemesh.runtime.server import NatsServer

    with (
        tempfile.TemporaryDirectory(prefix="bench-api-") as tmp,
        NatsServer(store_dir=Path(tmp) / "nats") as server,
    ):
        folder = Path(tmp)
        api_port, base_port = _free_port(), _free_port()
        token = secrets.token_urlsafe(32)
        env = {
            **os.environ,
            # Every request carries a bearer token; the rate limit runs but never refuses.
            "HEDGEMESH_API_ADMIN_TOKEN": token,
            "HEDGEMESH_API_RATE_LIMIT_PER_S": "1e9",
            "HEDGEMESH_API_RATE_LIMIT_BURST": "1000000000",
            "HEDGEMESH_NATS_URL": server.url,
            "HEDGEMESH_API_PORT": str(api_port),
            "HEDGEMESH_HOME": str(folder),
            "HEDGEMESH_DATABASE_URL": f"sqlite:///{folder / 'hedgemesh.db'}",
            "HEDGEMESH_LOG_LEVEL": "WARNING",
            "HEDGEMESH_API_LOG_LEVEL": "warning",
        }
        api = _start(["-m", "hedgemesh.api"], env, folder / "api.log")
        baseline = None
        try:
            base_url = f"http://127.0.0.1:{api_port}"
            _wait_for(f"{base_url}/health", lambda r: r.status_code == 200)
            asyncio.run(_publish_snapshot(server.url))
            response = _wait_for(
                f"{base_url}/v1/positions",
                lambda r: r.json().get("count") == N_POSITIONS,
                headers={"Authorization": f"Bearer {token}"},
            )
            body_file = folder / "positions.json"
            body_file.write_bytes(response.content)
            baseline = _start(
                [str(HERE), "baseline", str(base_port), str(body_file)], env, folder / "base.log"
            )
            base = _wait_for(f"http://127.0.0.1:{base_port}/v1/positions", lambda r: r.is_success)
            assert base.json() == response.json(), "the baseline must serve the same data"
            figures = {
                "api_fast_path": _measure(api_port, "/v1/positions", token),
                "api_routed": _measure(api_port, "/v1/positions?underlying=SPX", token),
                "baseline_fastapi_default_json": _measure(base_port, "/v1/positions", token),
                "baseline_fastapi_response_model": _measure(
                    base_port, "/v1/positions-typed", token
                ),
            }
        finally:
            if baseline is not None:
                _stop(baseline)
            _stop(api)
    base_rps = figures["baseline_fastapi_default_json"]["requests_per_s"]
    return {
        "connections": CONNECTIONS,
        "positions": N_POSITIONS,
        "body_bytes": len(response.content),
        "measure_s": MEASURE_S,
        **figures,
        "speedup_fast_path": figures["api_fast_path"]["requests_per_s"] / base_rps,
        "speedup_routed": figures["api_routed"]["requests_per_s"] / base_rps,
    }


def report(figures: dict[str, Any]) -> None:
    print(
        f"GET /v1/positions, {figures['positions']} positions ({figures['body_bytes']} bytes), "
        f"{figures['connections']} connections, one uvicorn worker each, {figures['measure_s']:g} s"
    )
    for name in (
        "api_fast_path",
        "api_routed",
        "baseline_fastapi_default_json",
        "baseline_fastapi_response_model",
    ):
        f = figures[name]
        print(
            f"  {name:32s} {f['requests_per_s']:9.0f} req/s   p50 {f['p50_ms']:6.2f} ms   "
            f"p99 {f['p99_ms']:6.2f} ms   (non-200: {f['non_200']})"
        )
    print(
        f"  speed-up over plain FastAPI: fast path x{figures['speedup_fast_path']:.2f}, "
        f"routed x{figures['speedup_routed']:.2f}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "baseline":
        serve_baseline(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        load(int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), float(sys.argv[5]))
    else:
        report(run())
