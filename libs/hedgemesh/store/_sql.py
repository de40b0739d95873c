"""Small SQL helpers shared by the repositories (dialect-aware, no business logic).

Statements are built once per table and dialect and executed with parameters, so SQLAlchemy's
compiled cache serves every call (building a statement with its values inline costs more than
running it).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, Table, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Update

_DIALECT_INSERTS: dict[str, Any] = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _dialect_insert(dialect: str, table: Table) -> Any:
    """The dialect's own INSERT (the one with ON CONFLICT)."""
    if dialect not in _DIALECT_INSERTS:
        raise NotImplementedError(f"the store supports sqlite and postgresql, not {dialect}")
    return _DIALECT_INSERTS[dialect](table)


@functools.cache
def _insert_ignore(dialect: str, table: Table, key: tuple[str, ...]) -> Any:
    return (
        _dialect_insert(dialect, table)
        .on_conflict_do_nothing(index_elements=key)
        .returning(literal_column("1"))
    )


@functools.cache
def _upsert(dialect: str, table: Table, key: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    statement = _dialect_insert(dialect, table)
    changes = {name: statement.excluded[name] for name in columns if name not in key}
    return statement.on_conflict_do_update(index_elements=key, set_=changes)


def table_of(entity: type[Any]) -> Table:
    table = entity.__table__
    assert isinstance(table, Table)
    return table


def insert_if_absent(
    session: Session, entity: type[Any], values: Mapping[str, Any], key: Sequence[str]
) -> bool:
    """INSERT one row of the mapped `entity` unless one with the same unique `key` exists;
    True when inserted.

    `ON CONFLICT (key) DO NOTHING RETURNING 1` on both SQLite (3.35+) and PostgreSQL: atomic
    under concurrent writers and, unlike catching an IntegrityError, it leaves the transaction
    usable. (RETURNING rather than the row count, which drivers do not all report here.)
    """
    statement = _insert_ignore(session.get_bind().dialect.name, table_of(entity), tuple(key))
    return session.execute(statement, dict(values)).first() is not None


def upsert(
    session: Session, entity: type[Any], values: Mapping[str, Any], key: Sequence[str]
) -> None:
    """INSERT one row, or UPDATE every other column of the row with the same unique `key`."""
    dialect = session.get_bind().dialect.name
    statement = _upsert(dialect, table_of(entity), tuple(key), tuple(values))
    session.execute(statement, dict(values))


def rows_updated(
    session: Session, statement: Update, values: Mapping[str, Any] | None = None
) -> int:
    """Execute an UPDATE (with `values` as its parameters) and return how many rows changed."""
    result = session.execute(statement, dict(values) if values is not None else None)
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
