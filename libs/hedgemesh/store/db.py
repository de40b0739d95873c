"""Engines, sessions and schema migrations for every service's store.

`HEDGEMESH_DATABASE_URL` picks the database: a SQLite file under `$HEDGEMESH_HOME` (or
`./var`) by default, PostgreSQL by URL (`postgresql+psycopg://user@host:5432/hedgemesh`).
The schema is created and upgraded only by the Alembic migrations in
`hedgemesh/store/migrations`: every service calls `migrate(url)` at start-up, and several may
do so at once (a PostgreSQL advisory lock, or a lock file beside the SQLite database, lets one
migrate while the others wait, then find nothing left to do).

SQLite runs in WAL mode with foreign keys on and a busy timeout; transactions begin with a
plain `BEGIN` (the pysqlite driver's own implicit transactions are switched off), so that
every repository method is one real transaction. Write methods issue their first write
before any read, which takes SQLite's write lock at once (waiting up to the busy timeout)
rather than upgrading a read snapshot that another writer may have made stale.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

#: The PostgreSQL advisory lock key that serialises migrations ("hedgemsh" in ASCII).
MIGRATION_LOCK_KEY = 0x6865_6467_656D_7368 & 0x7FFF_FFFF_FFFF_FFFF
_MIGRATIONS = Path(__file__).with_name("migrations")


def default_database_url() -> str:
    """A SQLite file `hedgemesh.db` under `$HEDGEMESH_HOME`, or `./var` when it is unset."""
    home = Path(os.environ.get("HEDGEMESH_HOME") or "var")
    return f"sqlite:///{home / 'hedgemesh.db'}"


class StoreSettings(BaseSettings):
    """Where the store lives; `HEDGEMESH_DATABASE_URL` and friends set it."""

    model_config = SettingsConfigDict(env_prefix="HEDGEMESH_DATABASE_", frozen=True, extra="ignore")

    url: str = Field(
        default_factory=default_database_url,
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db.",
    )
    busy_timeout_s: float = Field(
        default=10.0, gt=0, le=600, description="SQLite: how long to wait for the write lock."
    )
    pool_size: int = Field(default=5, ge=1, le=100, description="PostgreSQL connections kept.")
    echo: bool = Field(default=False, description="Log every SQL statement.")


def redacted_url(url: str | URL) -> str:
    """The URL as it may be logged: the password replaced by `***`."""
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_path(url: str | URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database or another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str | URL, settings: StoreSettings | None = None) -> Engine:
    """An engine configured for the store.

    SQLite: the file's folder is created, WAL journal, foreign keys on, busy timeout,
    `synchronous=NORMAL` (durable at every checkpoint, safe against a process crash), and real
    `BEGIN`-delimited transactions. PostgreSQL: a pre-ping on checkout, so a connection the
    server dropped is replaced rather than failing a request.
    """
    settings = settings or StoreSettings()
    if not is_sqlite(url):
        return create_engine(
            url, pool_pre_ping=True, pool_size=settings.pool_size, echo=settings.echo
        )
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, echo=settings.echo, connect_args={"timeout": settings.busy_timeout_s}
    )
    busy_ms = int(settings.busy_timeout_s * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # no implicit transactions: we BEGIN ourselves
        cursor = dbapi_connection.cursor()
        try:
            if path is not None:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after a commit (repositories return plain values)."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(connection: Connection | None = None) -> Any:
    """The Alembic configuration of the store's migrations (no alembic.ini needed).

    `connection` is handed to `migrations/env.py`, which then migrates through it.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest migration's revision id."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {_MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None before the first migration."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(url: str | URL | Engine, revision: str = "head") -> str | None:
    """Upgrade the database to `revision` (the newest by default); returns the revision reached.

    Safe to call from several processes at once: they take turns (PostgreSQL: a session-level
    advisory lock; SQLite: an exclusive lock on `<file>.migrate.lock`), and whoever comes
    second finds the schema already at head.
    """
    from alembic import command

    engine = url if isinstance(url, Engine) else make_engine(url)
    try:
        with _migration_lock(engine), engine.connect() as connection:
            command.upgrade(alembic_config(connection), revision)
            connection.commit()
        return current_revision(engine)
    finally:
        if not isinstance(url, Engine):
            engine.dispose()


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as lock_connection:
            # Session-level lock on its own connection: held across Alembic's transactions.
            lock_connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
            lock_connection.commit()
            try:
                yield
            finally:
                lock_connection.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY}
                )
                lock_connection.commit()
        return
    path = sqlite_path(engine.url)
    if path is None:  # in memory, or another backend: nobody else can see it
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate.lock", "a+b") as lock_file:
        fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
