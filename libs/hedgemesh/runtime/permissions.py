"""Who may say what on NATS: one user per service, each granted only the subjects it needs.

The one table (`GRANTS`) from which both the local server's config (`hedgemesh up`) and the
compose config (`deploy/nats/nats.conf`) are rendered; Kubernetes takes the compose file's
`authorization` block as it is. Everything not allowed is denied, so:

- only the manager publishes orders (`hedge.v1.order.>`) and writes KV `trading_state`;
- only execution publishes execution reports (`hedge.v1.exec.>`);
- control is authorised by subject, `hedge.v1.control.<target>.<action>.<origin>`, and each
  user may publish only subjects ending in its own name (so the origin a service reads from
  the subject is the sender's authenticated user): the api may send the manager any action;
  execution may only escalate (`control.manager.reduce` and `.halt`: a tripped pre-trade
  control); the api may engage execution's kill switch (`control.execution.halt.api`) but never
  release it; nobody else sends control (admin excepted);
- only the api writes KV `agent_params`;
- an agent publishes only its own proposals, heartbeats and dead letters, writes only its
  own lease key and reads only its own key of KV `agent_params`.

JetStream: publishing into a stream is a publish on the stream's subject (the grants above
apply); the JetStream API is granted per use: stream and bucket info to all, consumer creation,
fetching and acknowledgement on the streams a service consumes, and KV reads (direct or message
get) on the buckets it reads. Nobody but `admin` (the launcher's and compose's one-shot that
declares the streams) may create, update, purge or delete a stream, so nobody else can re-route
a stream or write an order through the JetStream API.

Replies: a service that answers requests (`allow_responses`) may publish to the reply subject of
a request it received, once. Each user has its own inbox prefix, `_INBOX_<user>` (`connect`
sets nats-py's `inbox_prefix`, JetStream included), and may subscribe to that one alone: no
user reads the replies, acknowledgements or deliveries meant for another.

Buckets refuse `Nats-Rollup` headers (`streams.BucketSpec`), so a user that may write one key
cannot wipe the others with a rollup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from hedgemesh.wire import subjects
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY

P = subjects.PREFIX
_JS = "$JS.API"
#: nats-py's inbox prefix; only connections without a user (no permissions) keep it.
DEFAULT_INBOX = "_INBOX"
#: The user with every right: it declares streams and buckets (the launcher, compose's init).
ADMIN = "admin"
PASSWORD_ENV_PREFIX = "HEDGEMESH_NATS_PASSWORD_"


def inbox_prefix(user: str) -> str:
    """`_INBOX_<user>`: the prefix of `user`'s reply subjects, the only inbox it may read."""
    return f"{DEFAULT_INBOX}_{subjects.token(user)}"


def _inbox(user: str) -> str:
    return f"{inbox_prefix(user)}.>"


def _sends_control(target: str, origin: str, *actions: str) -> tuple[str, ...]:
    """Send `target` the given actions (none: every action) under `origin`'s own name."""
    if not actions:
        return (f"{P}.control.{subjects.token(target)}.*.{subjects.token(origin)}",)
    return tuple(subjects.control(target, action, origin) for action in actions)


@dataclass(frozen=True)
class Grant:
    """What one user may publish and subscribe to; `allow_responses`: it answers requests."""

    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    allow_responses: bool = False


def _consumes(stream: str) -> tuple[str, ...]:
    """Create/bind a durable pull consumer on `stream`, fetch from it and acknowledge."""
    return (
        f"{_JS}.CONSUMER.CREATE.{stream}.>",
        f"{_JS}.CONSUMER.DURABLE.CREATE.{stream}.>",
        f"{_JS}.CONSUMER.INFO.{stream}.>",
        f"{_JS}.CONSUMER.MSG.NEXT.{stream}.>",
        f"$JS.ACK.{stream}.>",
    )


def _reads_kv(bucket: str) -> tuple[str, ...]:
    return (
        f"{_JS}.DIRECT.GET.KV_{bucket}",
        f"{_JS}.DIRECT.GET.KV_{bucket}.>",
        f"{_JS}.STREAM.MSG.GET.KV_{bucket}",
    )


def _reads_kv_key(bucket: str, key: str) -> tuple[str, ...]:
    """Read one key of `bucket` (direct get by subject; the message get names no key, so it
    is not granted)."""
    return (f"{_JS}.DIRECT.GET.KV_{bucket}.$KV.{bucket}.{key}",)


def _writes_kv(bucket: str, key: str = ">") -> tuple[str, ...]:
    return (*_reads_kv(bucket), f"$KV.{bucket}.{key}")


def _service(name: str, *publish: str) -> tuple[str, ...]:
    """What every service publishes: heartbeats, dead letters, JetStream and stream info, and
    the cluster's clock record (read, and written by the first service up: `cluster_clock`)."""
    return (
        f"{P}.heartbeat.{name}.*",
        subjects.deadletter(name),
        f"{_JS}.INFO",
        f"{_JS}.STREAM.INFO.*",
        *_writes_kv(subjects.KV_CLOCK, CLUSTER_CLOCK_KEY),
        *publish,
    )


_MARKET = (subjects.ALL_TICKS, subjects.ALL_SURFACES)


def _agent(name: str) -> Grant:
    return Grant(
        publish=_service(
            name,
            subjects.proposal(name),
            subjects.POSITIONS_SNAPSHOT,
            *_reads_kv(subjects.KV_LIMITS),
            *_reads_kv(subjects.KV_TRADING_STATE),
            *_reads_kv_key(subjects.KV_AGENT_PARAMS, name),
            *_writes_kv(subjects.KV_LEASES, name),
            f"$KV.{subjects.KV_LEASES}.{name}.>",  # a lease per partition: <agent>.p<n>
        ),
        subscribe=(
            _inbox(name),
            *_MARKET,
            subjects.ALL_POSITIONS,
            subjects.decision(name),
            subjects.proposal(name),
            subjects.ALL_EXEC_REPORTS,  # an order's final report ends the hold on the next
            f"{P}.heartbeat.manager.*",
            f"{P}.heartbeat.{name}.*",  # its own replicas: who shares the partitions
        ),
    )


GRANTS: dict[str, Grant] = {
    "marketdata": Grant(
        publish=_service("marketdata", *_MARKET, subjects.BOOK_TRADE),
        # pause and resume a feed; heartbeats: pacing on the desk's lag, start when it is ready
        subscribe=(
            _inbox("marketdata"),
            subjects.control_served("marketdata"),
            subjects.ALL_HEARTBEATS,
        ),
        allow_responses=True,
    ),
    "execution": Grant(
        publish=_service(
            "execution",
            subjects.ALL_EXEC_REPORTS,
            *_consumes(subjects.STREAM_ORDERS),
            # a tripped pre-trade control asks for REDUCING or HALTED, nothing else
            *_sends_control("manager", "execution", "reduce", "halt"),
            *_reads_kv(subjects.KV_LEASES),  # the fence follows the manager's lease
        ),
        subscribe=(_inbox("execution"), *_MARKET, subjects.control_served("execution")),
        allow_responses=True,
    ),
    "ledger": Grant(
        publish=_service(
            "ledger",
            subjects.ALL_POSITIONS,
            *_consumes(subjects.STREAM_TRADES),
            *_consumes(subjects.STREAM_EXEC),
        ),
        subscribe=(_inbox("ledger"), *_MARKET, subjects.POSITIONS_SNAPSHOT),
        allow_responses=True,
    ),
    "gamma-agent": _agent("gamma-agent"),
    "vega-agent": _agent("vega-agent"),
    "manager": Grant(
        publish=_service(
            "manager",
            subjects.ALL_ORDERS,
            subjects.ALL_DECISIONS,
            subjects.POSITIONS_SNAPSHOT,
            *_writes_kv(subjects.KV_LIMITS),
            *_writes_kv(subjects.KV_TRADING_STATE),
            *_writes_kv(subjects.KV_LEASES, "manager"),
            # read the order stream back on take-over (reconcile mgr_orders with it)
            f"{_JS}.STREAM.MSG.GET.{subjects.STREAM_ORDERS}",
        ),
        subscribe=(
            _inbox("manager"),
            *_MARKET,
            subjects.ALL_POSITIONS,
            subjects.ALL_EXEC_REPORTS,
            subjects.ALL_ORDERS,
            subjects.ALL_DECISIONS,
            subjects.ALL_HEARTBEATS,
            subjects.ALL_PROPOSALS,
            subjects.control_served("manager"),
        ),
        allow_responses=True,
    ),
    "api": Grant(
        publish=_service(
            "api",
            *_sends_control("manager", "api"),  # every action, for operators (REST, audited)
            # execution's kill switch: engage (REST, operator, audited) and read, never release
            *_sends_control("execution", "api", "halt", "status"),
            subjects.BOOK_TRADE,  # bring your own book: POST /v1/book/trades
            subjects.POSITIONS_SNAPSHOT,
            *_writes_kv(subjects.KV_LIMITS),
            *_reads_kv(subjects.KV_TRADING_STATE),
            *_writes_kv(subjects.KV_AGENT_PARAMS),
        ),
        subscribe=(
            _inbox("api"),
            *_MARKET,
            subjects.ALL_POSITIONS,
            subjects.ALL_EXEC_REPORTS,
            subjects.ALL_HEARTBEATS,
            subjects.ALL_PROPOSALS,
            subjects.ALL_DECISIONS,  # the desk's health: the share rejected for stale data
        ),
    ),
    ADMIN: Grant(publish=(">",), subscribe=(">",)),
}


def password_env(user: str) -> str:
    """The environment variable holding `user`'s password: `HEDGEMESH_NATS_PASSWORD_GAMMA_AGENT`."""
    return PASSWORD_ENV_PREFIX + subjects.token(user).upper().replace("-", "_")


def env_reference(user: str) -> str:
    """`$HEDGEMESH_NATS_PASSWORD_<USER>`: nats-server reads it from its environment."""
    return "$" + password_env(user)


def authorization_block(password: Callable[[str], str], users: tuple[str, ...] = ()) -> str:
    """The `authorization { users = [...] }` block of a nats-server config.

    `password(user)` gives the value as it goes in the file: a quoted literal (`json.dumps`) for
    the local server, `env_reference(user)` for compose and Kubernetes.
    """
    lines = ["authorization {", "  users = ["]
    for user in users or tuple(GRANTS):
        grant = GRANTS[user]
        lines.append(f"    {{user: {json.dumps(user)}, password: {password(user)}, permissions: {{")
        publish = f"allow: {_list(grant.publish)}" if grant.publish else 'deny: [">"]'
        lines.append(f"      publish: {{{publish}}}")
        lines.append(f"      subscribe: {{allow: {_list(grant.subscribe)}}}")
        if grant.allow_responses:
            lines.append("      allow_responses: true")
        lines.append("    }}")
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def _list(items: tuple[str, ...]) -> str:
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"
