"""NATS subjects and JetStream names, versioned. The one place a subject string is spelt.

Every subject starts with `PREFIX` (`hedge.v1`); a breaking change to a message moves its
subject to `hedge.v2`, so old and new consumers can run side by side. Variable parts (an
underlying, an agent, a service) are single tokens, checked by `token`.
"""

from __future__ import annotations

import re

from hedgemesh.wire.base import TOKEN_PATTERN

PREFIX = "hedge.v1"
_TOKEN = re.compile(TOKEN_PATTERN.removeprefix("^").removesuffix("$"))


def token(value: str) -> str:
    """Check one subject token (no dots, spaces or wildcards) and return it."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise ValueError(f"invalid subject token {value!r}: use letters, digits, '_' or '-'")
    return value


def tick(underlying: str) -> str:
    return f"{PREFIX}.md.tick.{token(underlying)}"


def surface(underlying: str) -> str:
    return f"{PREFIX}.md.surface.{token(underlying)}"


BOOK_TRADE = f"{PREFIX}.book.trade"


def positions(underlying: str) -> str:
    return f"{PREFIX}.positions.{token(underlying)}"


#: Request/reply: ask the ledger for the current `PositionSnapshot` of one underlying. Outside
#: `positions.*`, so that position subscribers never receive the requests.
POSITIONS_SNAPSHOT = f"{PREFIX}.ledger.snapshot"


def proposal(agent: str) -> str:
    return f"{PREFIX}.proposal.{token(agent)}"


def decision(agent: str) -> str:
    """The manager's decisions on the proposals of one agent (audit, and feedback to the agent)."""
    return f"{PREFIX}.decision.{token(agent)}"


def order(underlying: str) -> str:
    return f"{PREFIX}.order.{token(underlying)}"


def exec_report(underlying: str) -> str:
    return f"{PREFIX}.exec.{token(underlying)}"


def heartbeat(service: str, instance: str) -> str:
    return f"{PREFIX}.heartbeat.{token(service)}.{token(instance)}"


def control(target: str, action: str, origin: str) -> str:
    """A control command for `target` asking `action`, sent by the NATS user `origin`.

    Authority comes from the subject, not the body: the server's permissions decide who may
    publish which action to which target, and the origin token must be the sender's own user
    (`hedgemesh.runtime.permissions` grants each user only subjects ending in its own name).
    """
    return f"{PREFIX}.control.{token(target)}.{token(action)}.{token(origin)}"


def control_served(target: str) -> str:
    """Every control subject of `target` (what the service that answers it subscribes to)."""
    return f"{PREFIX}.control.{token(target)}.>"


def control_parts(subject: str) -> tuple[str, str, str] | None:
    """(target, action, origin) of a control subject; None when it is not one."""
    parts = subject.split(".")
    if len(parts) != 6 or ".".join(parts[:3]) != f"{PREFIX}.control":
        return None
    target, action, origin = parts[3:]
    if not all(_TOKEN.fullmatch(part) for part in (target, action, origin)):
        return None
    return target, action, origin


def deadletter(service: str) -> str:
    return f"{PREFIX}.deadletter.{token(service)}"


# Wildcards, for subscribers and stream definitions.
ALL_TICKS = f"{PREFIX}.md.tick.*"
ALL_SURFACES = f"{PREFIX}.md.surface.*"
ALL_POSITIONS = f"{PREFIX}.positions.*"
ALL_PROPOSALS = f"{PREFIX}.proposal.*"
ALL_DECISIONS = f"{PREFIX}.decision.*"
ALL_ORDERS = f"{PREFIX}.order.*"
ALL_EXEC_REPORTS = f"{PREFIX}.exec.*"
ALL_HEARTBEATS = f"{PREFIX}.heartbeat.>"
ALL_CONTROL = f"{PREFIX}.control.*.*.*"
ALL_DEADLETTERS = f"{PREFIX}.deadletter.*"

# JetStream streams and KV buckets.
STREAM_TRADES = "HEDGE_TRADES"
STREAM_ORDERS = "HEDGE_ORDERS"
STREAM_EXEC = "HEDGE_EXEC"
STREAM_DEADLETTER = "HEDGE_DEADLETTER"
KV_LEASES = "leases"
KV_LIMITS = "limits"
KV_TRADING_STATE = "trading_state"
KV_AGENT_PARAMS = "agent_params"
KV_CLOCK = "clock"
