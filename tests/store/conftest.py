"""Store fixtures: every test runs on SQLite, and on PostgreSQL too when
`HEDGEMESH_TEST_DATABASE_URL` is set (each test in a fresh schema, dropped afterwards)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from hedgemesh.store.db import make_engine, migrate, session_factory
from hedgemesh.store.testing import available_backends, scratch_database


@pytest.fixture(params=available_backends())
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database on each available backend."""
    with scratch_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """An engine on a database migrated to head."""
    migrate(database_url)
    store_engine = make_engine(database_url)
    yield store_engine
    store_engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
