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
    name = session.get_bind().dialect.name
    if name == "sqlite":
        sqlite_statement = sqlite.insert(entity).values(**values)
        statement: Any = sqlite_statement.on_conflict_do_nothing(index_elements=key)
    elif name == "postgresql":
        pg_statement = postgresql.insert(entity).values(**values)
        statement = pg_statement.on_conflict_do_nothing(index_elements=key)
    else:
        raise NotImplementedError(f"the store supports sqlite and postgresql, not {name}")
    return session.execute(statement.returning(literal_column("1"))).first() is not None


def rows_updated(session: Session, statement: Update) -> int:
    """Execute an UPDATE and return how many rows it changed."""
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
