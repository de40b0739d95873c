"""Alembic environment of the store: migrates through the connection `db.migrate` hands over
(`config.attributes["connection"]`), or one made from `sqlalchemy.url` (for the alembic CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from hedgemesh.store.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copying tables
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection handed over and no sqlalchemy.url set")
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the store's migrations run online only (hedgemesh.store.db.migrate)")
run_migrations_online()
