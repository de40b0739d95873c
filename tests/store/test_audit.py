"""AuditRepository: entries appended with their JSON, read back newest first, filtered, paged."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker
from store_examples import T0

from hedgemesh.store.audit import GENESIS, AuditEntry, AuditRepository, Verdict
from hedgemesh.store.roles import grant_statements


@pytest.fixture
def repo(sessions) -> AuditRepository:
    return AuditRepository(sessions)


def entry(n: int, **changes) -> AuditEntry:
    values = {
        "at": T0 + timedelta(seconds=n),
        "actor": "alice",
        "role": "admin",
        "method": "PUT",
        "path": "/v1/limits/SPX.max_abs_delta",
        "status": 200,
        "body": {"value": 1000.0 + n, "revision": n},
        "before": {"value": 1500.0, "revision": n},
        "after": {"value": 1000.0 + n, "revision": n + 1},
    }
    return AuditEntry(**{**values, **changes})


def test_given_an_entry_when_read_back_then_every_field_and_the_json_are_kept(repo) -> None:
    written = entry(1, body=["a", {"nested": [1, 2.5, None]}], after=None)
    entry_id = repo.record(written)
    (read,) = repo.entries()
    assert entry_id > 0
    assert read.id == entry_id
    assert read.at == written.at and read.at.tzinfo is not None
    assert (read.actor, read.role, read.method, read.path, read.status) == (
        "alice",
        "admin",
        "PUT",
        "/v1/limits/SPX.max_abs_delta",
        200,
    )
    assert read.body == ["a", {"nested": [1, 2.5, None]}]
    assert read.before == {"value": 1500.0, "revision": 1}
    assert read.after is None


def test_given_entries_then_newest_first_and_every_filter_narrows(repo) -> None:
    repo.record(entry(1))
    repo.record(entry(2, actor="bob", role="operator", method="POST", path="/v1/control/halt"))
    repo.record(entry(3, status=409))
    repo.record(entry(4, path="/v1/limits/firm.max_abs_dollar_delta"))
    assert [e.at for e in repo.entries()] == [T0 + timedelta(seconds=n) for n in (4, 3, 2, 1)]
    assert [e.actor for e in repo.entries(actor="bob")] == ["bob"]
    assert [e.path for e in repo.entries(method="POST")] == ["/v1/control/halt"]
    assert len(repo.entries(path="/v1/limits/")) == 3
    assert len(repo.entries(path="/v1/limits/SPX.")) == 2
    assert [e.status for e in repo.entries(status=409)] == [409]
    assert len(repo.entries(since=T0 + timedelta(seconds=3))) == 2


def test_given_a_path_filter_with_like_wildcards_then_they_match_only_themselves(repo) -> None:
    repo.record(entry(1, path="/v1/limits/SPX.max_abs_delta"))
    assert repo.entries(path="/v1/limits/SPX%") == []
    assert repo.entries(path="/v1/limits/SPX_max") == []


def test_given_more_entries_than_a_page_then_before_id_pages_backwards(repo) -> None:
    ids = [repo.record(entry(n)) for n in range(7)]
    first = repo.entries(limit=3)
    second = repo.entries(limit=3, before_id=first[-1].id)
    third = repo.entries(limit=3, before_id=second[-1].id)
    assert [e.id for e in first + second + third] == ids[::-1]


def test_given_a_path_longer_than_the_column_then_it_is_cut(repo) -> None:
    repo.record(entry(1, path="/v1/" + "x" * 1000))
    (read,) = repo.entries()
    assert len(read.path) == 512


def test_given_a_limit_outside_the_range_then_value_error(repo) -> None:
    with pytest.raises(ValueError, match="limit"):
        repo.entries(limit=0)


def test_given_a_text_body_with_any_characters_then_it_is_kept(repo) -> None:
    text = 'not JSON: \x00 \ufffd é "quoted" \\ {'
    repo.record(entry(1, body=text, before="x", after=[None]))
    (read,) = repo.entries()
    assert (read.body, read.before, read.after) == (text, "x", [None])


# -- the hash chain and the insert-only table ---------------------------------------------------


def test_given_entries_then_each_is_chained_to_the_one_before_and_the_chain_verifies(repo):
    for n in range(3):
        repo.record(entry(n, origin="execution" if n == 1 else "api"))
    rows = list(reversed(repo.entries()))
    assert rows[0].prev_hash == GENESIS
    assert [r.prev_hash for r in rows[1:]] == [r.hash for r in rows[:-1]]
    assert rows[1].origin == "execution"
    assert repo.verify() == Verdict(True, 3)


def test_given_an_empty_trail_then_it_verifies(repo):
    assert repo.verify() == Verdict(True, 0)


@pytest.mark.parametrize("statement", [
    "UPDATE api_audit SET actor = 'mallory'",
    "DELETE FROM api_audit",
])  # fmt: skip
def test_given_a_row_then_the_database_refuses_to_change_or_delete_it(repo, engine, statement):
    repo.record(entry(1))
    with pytest.raises(DBAPIError, match="insert-only"), engine.begin() as connection:
        connection.execute(text(statement))
    assert repo.verify().ok


def _tamper(engine, *statements: str) -> None:
    """What someone with DDL rights could do: lift the triggers, change rows, put them back."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as connection:
        if sqlite:
            connection.execute(text("DROP TRIGGER api_audit_no_update"))
            connection.execute(text("DROP TRIGGER api_audit_no_delete"))
        else:
            connection.execute(text("ALTER TABLE api_audit DISABLE TRIGGER USER"))
        for statement in statements:
            connection.execute(text(statement))


@pytest.mark.parametrize(("statements", "bad_id"), [
    (["UPDATE api_audit SET after = '{\"value\": 1.0}' WHERE id = 2"], 2),
    (["UPDATE api_audit SET actor = 'mallory' WHERE id = 1"], 1),
    (["DELETE FROM api_audit WHERE id = 2"], 3),
    (["DELETE FROM api_audit WHERE id = 3"], None),  # the newest cut: the head says more
])  # fmt: skip
def test_given_a_row_edited_or_deleted_behind_the_triggers_then_verify_finds_it(
    repo, engine, statements, bad_id
):
    for n in range(3):
        repo.record(entry(n))
    assert repo.verify().ok
    _tamper(engine, *statements)
    verdict = repo.verify()
    assert not verdict.ok and verdict.bad_id == bad_id, verdict


def test_given_a_probe_then_nothing_is_kept_and_a_missing_table_raises(repo, engine):
    repo.record(entry(1))
    repo.probe()
    assert len(repo.entries()) == 1 and repo.verify() == Verdict(True, 1)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE audit_head"))
    with pytest.raises(DBAPIError):
        repo.probe()


def test_given_the_api_role_then_it_appends_to_the_trail_but_may_not_change_it_or_others(
    engine, repo
):
    if engine.dialect.name != "postgresql":
        pytest.skip("roles are PostgreSQL's")
    role = f"hm_api_{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        connection.execute(text(f'CREATE ROLE "{role}" NOLOGIN'))
        for statement in grant_statements("api", role, schema=schema):
            connection.execute(text(statement))
    try:
        with engine.connect() as connection:
            connection.execute(text(f'SET ROLE "{role}"'))
            AuditRepository(sessionmaker(bind=connection)).record(entry(1))
            connection.commit()
            for refused in (
                "UPDATE api_audit SET actor = 'mallory'",
                "DELETE FROM api_audit",
                "ALTER TABLE api_audit DISABLE TRIGGER USER",
                "INSERT INTO exec_switches (name, engaged, reason, changed_by, changed_at) "
                "VALUES ('kill', false, '', 'x', now())",
            ):
                with pytest.raises(DBAPIError, match=r"(?i)permission denied|must be owner"):
                    connection.execute(text(refused))
                connection.rollback()
                connection.execute(text(f'SET ROLE "{role}"'))
            connection.execute(text("RESET ROLE"))  # the pool keeps the session
            connection.commit()
        assert repo.verify() == Verdict(True, 1)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f'DROP OWNED BY "{role}"'))
            connection.execute(text(f'DROP ROLE "{role}"'))
