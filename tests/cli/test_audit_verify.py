"""`hedgemesh audit verify`: 0 on an intact trail, 1 naming the row edited or deleted behind the
triggers, on SQLite and on PostgreSQL (when `HEDGEMESH_TEST_DATABASE_URL` is set)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from hedgemesh.cli import main
from hedgemesh.store.audit import AuditEntry, AuditRepository
from hedgemesh.store.db import make_engine, migrate, session_factory
from hedgemesh.store.testing import available_backends, scratch_database

T0 = datetime(2026, 12, 8, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("backend", available_backends())
def test_given_a_trail_then_verify_passes_and_an_edited_row_fails_it(backend, tmp_path, capsys):
    with scratch_database(backend, tmp_path) as url:
        migrate(url)
        engine = make_engine(url)
        repo = AuditRepository(session_factory(engine))
        for n in range(3):
            repo.record(
                AuditEntry(at=T0 + timedelta(seconds=n), actor="ann", role="operator",
                           method="POST", path="/v1/control/halt", status=200, body={"n": n})
            )  # fmt: skip
        assert main(["audit", "verify", "--database-url", url]) == 0
        assert "ok, 3 rows chained" in capsys.readouterr().out
        with engine.begin() as connection:
            if backend == "sqlite":
                connection.execute(text("DROP TRIGGER api_audit_no_update"))
            else:
                connection.execute(text("ALTER TABLE api_audit DISABLE TRIGGER USER"))
            connection.execute(text("UPDATE api_audit SET status = 409 WHERE id = 2"))
        engine.dispose()
        assert main(["audit", "verify", "--database-url", url]) == 1
        assert "BROKEN at row 2" in capsys.readouterr().out


def test_given_no_store_then_verify_says_it_cannot_read_it(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'none.db'}"
    assert main(["audit", "verify", "--database-url", url]) == 2
    assert "cannot read the trail" in capsys.readouterr().out


def test_given_db_grants_then_the_api_role_may_only_append_to_the_audit(capsys):
    assert main(["db", "grants", "api", "hedgemesh_api"]) == 0
    sql = capsys.readouterr().out
    assert 'GRANT INSERT ON "public"."api_audit" TO "hedgemesh_api";' in sql
    assert "UPDATE, DELETE" not in sql  # the api owns no table
    assert main(["db", "grants", "nobody", "x"]) == 2
