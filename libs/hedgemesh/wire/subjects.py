"""NATS subjects and JetStream names, versioned. The one place a subject string is spelt."""

from __future__ import annotations

import re

PREFIX = "hedge.v1"
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


def token(value: str) -> str:
    """Check one subject token (no dots, spaces or wildcards) and return it."""
    if not _TOKEN.match(value):
        raise ValueError(f"invalid subject token {value!r}: use letters, digits, '_' or '-'")
    return value


def tick(underlying: str) -> str:
    return f"{PREFIX}.md.tick.{token(underlying)}"


def surface(underlying: str) -> str:
    return f"{PREFIX}.md.surface.{token(underlying)}"


BOOK_TRADE = f"{PREFIX}.book.trade"


def positions(underlying: str) -> str:
    return f"{PREFIX}.positions.{token(underlying)}"


POSITIONS_SNAPSHOT = f"{PREFIX}.positions.snapshot"


def proposal(agent: str) -> str:
    return f"{PREFIX}.proposal.{token(agent)}"


def order(underlying: str) -> str:
    return f"{PREFIX}.order.{token(underlying)}"


def exec_report(underlying: str) -> str:
    return f"{PREFIX}.exec.{token(underlying)}"


def heartbeat(service: str, instance: str) -> str:
    return f"{PREFIX}.heartbeat.{token(service)}.{token(instance)}"


def control(target: str) -> str:
    return f"{PREFIX}.control.{token(target)}"


def deadletter(service: str) -> str:
    return f"{PREFIX}.deadletter.{token(service)}"


# Wildcards, for subscribers and stream definitions.
ALL_TICKS = f"{PREFIX}.md.tick.*"
ALL_SURFACES = f"{PREFIX}.md.surface.*"
ALL_POSITIONS = f"{PREFIX}.positions.*"
ALL_PROPOSALS = f"{PREFIX}.proposal.*"
ALL_ORDERS = f"{PREFIX}.order.*"
ALL_EXEC_REPORTS = f"{PREFIX}.exec.*"
ALL_HEARTBEATS = f"{PREFIX}.heartbeat.>"
ALL_CONTROL = f"{PREFIX}.control.*"
ALL_DEADLETTERS = f"{PREFIX}.deadletter.*"

# JetStream streams and KV buckets.
STREAM_TRADES = "HEDGE_TRADES"
STREAM_ORDERS = "HEDGE_ORDERS"
STREAM_EXEC = "HEDGE_EXEC"
STREAM_DEADLETTER = "HEDGE_DEADLETTER"
KV_LEASES = "leases"
KV_LIMITS = "limits"
KV_TRADING_STATE = "trading_state"
