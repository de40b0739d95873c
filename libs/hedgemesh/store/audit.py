"""The audit trail: one row per mutating REST call and per control command over NATS, appended
and never changed.

    repo = AuditRepository(session_factory(make_engine(url)))
    entry_id = repo.record(AuditEntry(at=now, actor="alice", role="admin", method="PUT",
                                      path="/v1/limits/SPX.max_abs_delta", body={"value": 1200},
                                      before={"value": 1500}, after={"value": 1200}, status=200))
    repo.entries(actor="alice", limit=50)          # newest first
    repo.verify()                                  # the hash chain, row by row

`body`, `before` and `after` are any JSON value (None: none). Page backwards with `before_id`
(the smallest id of the page read).

Trust: each row's `hash` is SHA-256 over the previous row's hash and its own fields
(`chain_hash`), so editing or deleting a row breaks the chain at that row, and the head
(`audit_head`: how many rows, the last hash) says where the chain must end, so cutting the
newest rows shows too; `verify` finds the first break. The migration adds triggers refusing
UPDATE and DELETE on the table (SQLite and PostgreSQL) and, on PostgreSQL, the roles of
`hedgemesh.store.roles` grant services INSERT and SELECT on it only.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.store.models import AUDIT_PATH, AuditHeadRow, AuditRow
from hedgemesh.wire.ops import ControlCommand, ControlReply

Runner = Callable[[Callable[[], Any]], Awaitable[Any]]

__all__ = [
    "GENESIS",
    "MAX_LIMIT",
    "AuditEntry",
    "AuditRepository",
    "ControlTrail",
    "Verdict",
    "chain_hash",
]

#: Most rows one query returns.
MAX_LIMIT = 10_000
#: The hash before the first row.
GENESIS = "0" * 64
_HEAD = 1
_VERIFY_BATCH = 1000


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who (`actor`, the token's name, and its `role`) did what (`method` on `path` with
    `body`), the state `before` and `after`, when (`at`) and with what outcome (the HTTP
    `status`); `id` is the store's (0 until recorded)."""

    at: datetime
    actor: str
    role: str
    method: str
    path: str
    status: int
    body: Any = None
    before: Any = None
    after: Any = None
    origin: str = "api"
    """The NATS user that sent it: `api` for REST calls, else the service (or admin)."""
    id: int = 0
    prev_hash: str = ""
    hash: str = ""


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, entry: AuditEntry) -> str:
    """SHA-256 (hex) of the previous row's hash and every field of `entry` but its id."""
    fields = {
        "prev": prev_hash,
        "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "role": entry.role,
        "origin": entry.origin,
        "method": entry.method,
        "path": entry.path[:AUDIT_PATH],
        "status": entry.status,
        "body": entry.body,
        "before": entry.before,
        "after": entry.after,
    }
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `verify` found: `ok`, how many rows it read, the first bad row's id (None: the
    head) and what was wrong with it."""

    ok: bool
    rows: int
    bad_id: int | None = None
    problem: str = ""


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        role=row.role,
        method=row.method,
        path=row.path,
        status=row.status,
        body=row.body,
        before=row.before,
        after=row.after,
        origin=row.origin,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


class AuditRepository:
    """Appends audit entries and reads them back, newest first."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, entry: AuditEntry) -> int:
        """Append `entry` (a path longer than the column is cut), chained to the row before;
        its new id. One transaction: the head is updated first (a write lock on SQLite, a row
        lock on PostgreSQL), so appenders queue and the chain never forks."""
        with self._sessions() as session, session.begin():
            return self._append(session, entry)

    def probe(self) -> None:
        """Append a row and roll it back: raises when the trail cannot be written now (the
        database unreachable, the table or a right missing), so a caller can refuse to act."""
        probe = AuditEntry(
            at=datetime.now(UTC), actor="probe", role="probe", method="PROBE", path="", status=0
        )
        with self._sessions() as session:
            session.begin()
            try:
                self._append(session, probe)
            finally:
                session.rollback()

    def _append(self, session: Session, entry: AuditEntry) -> int:
        head = session.execute(
            update(AuditHeadRow)
            .where(AuditHeadRow.id == _HEAD)
            .values(seq=AuditHeadRow.seq + 1)
            .returning(AuditHeadRow.hash)
        ).scalar_one_or_none()
        if head is None:
            raise LookupError("audit_head has no row: the store is not migrated")
        entry = replace(entry, path=entry.path[:AUDIT_PATH], prev_hash=head)
        digest = chain_hash(head, entry)
        values = {
            "at": entry.at,
            "actor": entry.actor,
            "role": entry.role,
            "origin": entry.origin,
            "method": entry.method,
            "path": entry.path,
            "status": entry.status,
            "body": entry.body,
            "before": entry.before,
            "after": entry.after,
            "prev_hash": head,
            "hash": digest,
        }
        entry_id = int(
            session.execute(insert(AuditRow).returning(AuditRow.id), values).scalar_one()
        )
        session.execute(update(AuditHeadRow).where(AuditHeadRow.id == _HEAD).values(hash=digest))
        return entry_id

    def verify(self) -> Verdict:
        """Walk the chain from the first row: each row's `prev_hash` must be the hash before
        it and its `hash` its own fields' (`chain_hash`); the last must be the head's, after as
        many rows as the head counts. The first break is reported."""
        previous, rows, last_id = GENESIS, 0, 0
        with self._sessions() as session:
            head = session.get(AuditHeadRow, _HEAD)
            while True:
                page = session.scalars(
                    select(AuditRow)
                    .where(AuditRow.id > last_id)
                    .order_by(AuditRow.id)
                    .limit(_VERIFY_BATCH)
                ).all()
                for row in page:
                    entry = _entry(row)
                    if entry.prev_hash != previous:
                        return Verdict(False, rows, row.id, "a row before it is missing or changed")
                    if chain_hash(previous, entry) != entry.hash:
                        return Verdict(False, rows, row.id, "its fields were changed")
                    previous, rows, last_id = entry.hash, rows + 1, row.id
                if len(page) < _VERIFY_BATCH:
                    break
        if head is None:
            return Verdict(False, rows, None, "audit_head is missing")
        if head.seq != rows or head.hash != previous:
            return Verdict(
                False, rows, None, f"the head says {head.seq} rows: rows were cut from the end"
            )
        return Verdict(True, rows)

    def entries(
        self,
        *,
        actor: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        since: datetime | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries newest first, filtered by any of the arguments: `path` is a prefix
        (`/v1/limits` matches every limit change), `since` inclusive on `at`, `before_id`
        exclusive on the id (the next page back)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise ValueError(f"limit must be in [1, {MAX_LIMIT}], got {limit}")
        query = select(AuditRow)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if method is not None:
            query = query.where(AuditRow.method == method)
        if path is not None:
            query = query.where(AuditRow.path.startswith(path, autoescape=True))
        if status is not None:
            query = query.where(AuditRow.status == status)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        query = query.order_by(AuditRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [_entry(row) for row in session.scalars(query)]


class ControlTrail:
    """The audit of control commands a service serves over NATS (`Bus.serve_control(...,
    audit=)`): `ready` proves an entry can be written before the command acts, `record` writes
    it with the command's authenticated origin (the subject's), the subject as its path and the
    reply's outcome (200 accepted, 409 refused). `run` calls the store (a thread by default)."""

    def __init__(self, repo: AuditRepository, run: Runner | None = None) -> None:
        self.repo = repo
        self._run: Runner = run or _in_thread

    async def ready(self) -> None:
        await self._run(self.repo.probe)

    async def record(
        self, command: ControlCommand, origin: str, subject: str, reply: ControlReply
    ) -> None:
        entry = AuditEntry(
            at=datetime.now(UTC),
            actor=command.actor(origin),
            role="nats",
            origin=origin,
            method="NATS",
            path=subject,
            status=200 if reply.ok else 409,
            body=command.model_dump(mode="json"),
            after={"ok": reply.ok, "reason": reply.reason, "detail": reply.detail},
        )
        await self._run(lambda: self.repo.record(entry))


async def _in_thread(call: Callable[[], Any]) -> Any:
    return await asyncio.to_thread(call)
