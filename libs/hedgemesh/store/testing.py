"""Throw-away databases for tests: every store test runs on SQLite, and on PostgreSQL too when
`HEDGEMESH_TEST_DATABASE_URL` is set.

    @pytest.fixture(params=available_backends())
    def database_url(request, tmp_path):
        with scratch_database(request.param, tmp_path) as url:
            yield url
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

#: The environment variable naming a PostgreSQL server for tests, e.g.
#: `postgresql+psycopg://postgres@127.0.0.1:5432/test`.
TEST_DATABASE_URL_ENV = "HEDGEMESH_TEST_DATABASE_URL"


def available_backends() -> list[str]:
    """`["sqlite"]`, plus `"postgresql"` when `HEDGEMESH_TEST_DATABASE_URL` is set."""
    return ["sqlite", *(["postgresql"] if os.environ.get(TEST_DATABASE_URL_ENV) else [])]


@contextlib.contextmanager
def scratch_database(backend: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database, removed afterwards: a SQLite file in `folder`, or a fresh
    schema on the PostgreSQL server of `HEDGEMESH_TEST_DATABASE_URL` (the URL's `search_path`
    points at it, so tests running side by side never see each other's tables)."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'store.db'}"
        return
    server = os.environ.get(TEST_DATABASE_URL_ENV)
    if backend != "postgresql" or not server:
        raise ValueError(f"no test database for {backend!r} (is {TEST_DATABASE_URL_ENV} set?)")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = make_url(server).update_query_dict({"options": f"-csearch_path={schema}"})
            yield url.render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()
