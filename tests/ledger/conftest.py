"""Ledger fixtures: the database on SQLite, and on PostgreSQL too when
`HEDGEMESH_TEST_DATABASE_URL` is set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hedgemesh.store.testing import available_backends, scratch_database


@pytest.fixture(params=available_backends())
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    with scratch_database(request.param, tmp_path) as url:
        yield url
