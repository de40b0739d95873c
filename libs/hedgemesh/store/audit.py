"""The API's audit trail: one row per mutating REST call, appended and never changed.

    repo = AuditRepository(session_factory(make_engine(url)))
    entry_id = repo.record(AuditEntry(at=now, actor="alice", role="admin", method="PUT",
                                      path="/v1/limits/SPX.max_abs_delta", body={"value": 1200},
                                      before={"value": 1500}, after={"value": 1200}, status=200))
    repo.entries(actor="alice", limit=50)          # newest first

`body`, `before` and `after` are any JSON value (None: none). Page backwards with `before_id`
(the smallest id of the page read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.store.models import AUDIT_PATH, AuditRow

__all__ = ["MAX_LIMIT", "AuditEntry", "AuditRepository"]

#: Most rows one query returns.
MAX_LIMIT = 10_000


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
    id: int = 0


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
    )


class AuditRepository:
    """Appends audit entries and reads them back, newest first."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def record(self, entry: AuditEntry) -> int:
        """Append `entry` (a path longer than the column is cut); its new id."""
        values = {
            "at": entry.at,
            "actor": entry.actor,
            "role": entry.role,
            "method": entry.method,
            "path": entry.path[:AUDIT_PATH],
            "status": entry.status,
            "body": entry.body,
            "before": entry.before,
            "after": entry.after,
        }
        with self._sessions() as session, session.begin():
            statement = insert(AuditRow).returning(AuditRow.id)
            return int(session.execute(statement, values).scalar_one())

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
