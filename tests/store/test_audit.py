"""AuditRepository: entries appended with their JSON, read back newest first, filtered, paged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from store_examples import T0

from hedgemesh.store.audit import AuditEntry, AuditRepository


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
