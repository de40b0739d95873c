"""Subjects: tokens are checked, wildcards match exactly their own concrete subjects."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_examples import example

from hedgemesh.wire import MESSAGES, subjects
from hedgemesh.wire.ops import ControlCommand


def nats_match(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is exactly one token, a final `>` one or more tokens."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, want in enumerate(wanted):
        if want == ">":
            return i == len(wanted) - 1 and len(tokens) > i
        if i >= len(tokens) or (want != "*" and want != tokens[i]):
            return False
    return len(tokens) == len(wanted)


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("a.*.c", "a.b.c", True),
        ("a.*.c", "a.b.b.c", False),
        ("a.*", "a", False),
        ("a.>", "a.b.c", True),
        ("a.>", "a", False),
        ("a.b", "a.b", True),
        ("a.b", "a.b.c", False),
    ],
)
def test_given_the_reference_matcher_then_it_follows_nats_rules(pattern, subject, expected):
    assert nats_match(pattern, subject) is expected


TOKENS = ["SPX", "gamma-agent", "manager_1", "a", "Z" * 64]

# Family: (wildcard, concrete subjects made by the helpers).
FAMILIES = {
    "tick": (subjects.ALL_TICKS, [subjects.tick(t) for t in TOKENS]),
    "surface": (subjects.ALL_SURFACES, [subjects.surface(t) for t in TOKENS]),
    "trade": (subjects.BOOK_TRADE, [subjects.BOOK_TRADE]),
    "positions": (subjects.ALL_POSITIONS, [subjects.positions(t) for t in TOKENS]),
    "snapshot": (subjects.POSITIONS_SNAPSHOT, [subjects.POSITIONS_SNAPSHOT]),
    "proposal": (subjects.ALL_PROPOSALS, [subjects.proposal(t) for t in TOKENS]),
    "decision": (subjects.ALL_DECISIONS, [subjects.decision(t) for t in TOKENS]),
    "order": (subjects.ALL_ORDERS, [subjects.order(t) for t in TOKENS]),
    "exec": (subjects.ALL_EXEC_REPORTS, [subjects.exec_report(t) for t in TOKENS]),
    "heartbeat": (subjects.ALL_HEARTBEATS, [subjects.heartbeat(t, t) for t in TOKENS]),
    "control": (subjects.ALL_CONTROL, [subjects.control(t, "halt", t) for t in TOKENS]),
    "deadletter": (subjects.ALL_DEADLETTERS, [subjects.deadletter(t) for t in TOKENS]),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("other", sorted(FAMILIES))
def test_given_a_wildcard_then_it_matches_its_own_subjects_and_no_others(family, other):
    pattern, _ = FAMILIES[family]
    for subject in FAMILIES[other][1]:
        assert nats_match(pattern, subject) is (family == other), (pattern, subject)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_given_a_concrete_subject_then_versioned_and_free_of_wildcards(family):
    for subject in FAMILIES[family][1]:
        assert subject.startswith("hedge.v1.")
        assert all(token and token not in ("*", ">") for token in subject.split("."))


@pytest.mark.parametrize("value", TOKENS)
def test_given_a_valid_token_then_returned_unchanged(value):
    assert subjects.token(value) == value


@pytest.mark.parametrize(
    "value", ["", "a.b", "*", ">", "a b", "SPX\n", "\tSPX", "é", "Z" * 65, "a/b", None, 5]
)
def test_given_an_invalid_token_then_every_helper_refuses_it(value):
    helpers = [
        subjects.token,
        subjects.tick,
        subjects.surface,
        subjects.positions,
        subjects.proposal,
        subjects.decision,
        subjects.order,
        subjects.exec_report,
        lambda v: subjects.control(v, "halt", "api"),
        lambda v: subjects.control("manager", v, "api"),
        lambda v: subjects.control("manager", "halt", v),
        subjects.control_served,
        subjects.deadletter,
        lambda v: subjects.heartbeat("svc", v),
        lambda v: subjects.heartbeat(v, "inst"),
    ]
    for helper in helpers:
        with pytest.raises(ValueError, match="invalid subject token"):
            helper(value)


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_given_a_message_then_its_publish_subject_matches_its_pattern(kind):
    message = example(kind)
    if isinstance(message, ControlCommand):  # its subject names the sender
        assert nats_match(type(message).subject_pattern, message.subject_for("api"))
        return
    if not type(message).subject_pattern:
        with pytest.raises(LookupError, match="no subject"):
            _ = message.publish_subject
        return
    assert nats_match(type(message).subject_pattern, message.publish_subject)


def test_given_the_message_types_then_only_replies_and_kv_values_lack_a_subject():
    without = {kind for kind, cls in MESSAGES.items() if not cls.subject_pattern}
    assert without == {"control_reply", "trading_status", "risk_limits", "firm_limits",
                       "agent_params", "clock_record"}  # fmt: skip


@settings(max_examples=100, derandomize=True, database=None)
@given(st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True))
def test_given_any_valid_token_then_its_tick_subject_is_a_tick_and_nothing_else(value):
    subject = subjects.tick(value)
    assert nats_match(subjects.ALL_TICKS, subject)
    others = [pattern for name, (pattern, _) in FAMILIES.items() if name != "tick"]
    assert not any(nats_match(pattern, subject) for pattern in others)


def test_given_a_control_subject_then_its_parts_come_back_and_anything_else_is_none():
    assert subjects.control_parts(subjects.control("manager", "halt", "api")) == (
        "manager",
        "halt",
        "api",
    )
    assert nats_match(subjects.control_served("manager"), subjects.control("manager", "x", "y"))
    for other in (
        "hedge.v1.control.manager",
        "hedge.v1.control.manager.halt",
        "hedge.v1.control.a.b.c.d",
        "hedge.v1.md.tick.a.b.c",
        "x.v1.control.a.b.c",
    ):
        assert subjects.control_parts(other) is None, other
