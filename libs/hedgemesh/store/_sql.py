"""Small SQL helpers shared by the repositories (dialect-aware, no business logic)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update


def insert_if_absent(
    session: Session, entity: type[Any], values: Mapping[str, Any], key: Sequence[str]
) -> bool:
    """INSERT one row of the mapped `entity` unless one with the same unique `key` exists;
    True when inserted.

    `ON CONFLICT (key) DO NOTHING RETURNING 1` on both SQLite (3.35+) and PostgreSQL: atomic
    under concurrent writers and, unlike catching an IntegrityError, it leaves the transaction
    usable. (RETURNING rather than the row count, which drivers do not all report here.)
    """
    statement = _dialect_insert(session, entity, values).on_conflict_do_nothing(index_elements=key)
    return session.execute(statement.returning(literal_column("1"))).first() is not None


def upsert(
    session: Session, entity: type[Any], values: Mapping[str, Any], key: Sequence[str]
) -> None:
    """INSERT one row, or UPDATE every other column of the row with the same unique `key`."""
    statement = _dialect_insert(session, entity, values)
    changes = {name: statement.excluded[name] for name in values if name not in key}
    session.execute(statement.on_conflict_do_update(index_elements=key, set_=changes))


def _dialect_insert(session: Session, entity: type[Any], values: Mapping[str, Any]) -> Any:
    """The dialect's own INSERT (the one with ON CONFLICT) of one row."""
    name = session.get_bind().dialect.name
    dialects: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
    if name not in dialects:
        raise NotImplementedError(f"the store supports sqlite and postgresql, not {name}")
    return dialects[name](entity).values(**values)


def rows_updated(session: Session, statement: Update) -> int:
    """Execute an UPDATE and return how many rows it changed."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
