"""Scenario checks of the chaos suite on what the observer heard (the end-to-end invariants over
the streams and the stores are `invariants.py`'s)."""

from __future__ import annotations

from collections import Counter

from chaos_harness import Observer

from hedgemesh.wire.codes import ReasonCode
from hedgemesh.wire.orders import ExecStatus


def assert_no_duplicate_orders(observer: Observer) -> int:
    """No client order id accepted twice by execution, and an id one leader sends again (its
    outbox's retry, de-duplicated by JetStream) is the same order each time. Two leaders may
    send one id with different contents (a deposed leader finishing the cycle its successor
    decided again): the stream keeps the first and execution fences the older epoch. Returns
    the number of orders checked."""
    accepted = Counter(
        h.message.client_order_id
        for h in observer.reports
        if h.message.status is ExecStatus.ACCEPTED
    )
    twice = {coid: n for coid, n in accepted.items() if n > 1}
    assert not twice, f"orders accepted more than once: {twice}"
    first: dict[tuple[str, int], tuple] = {}
    for h in observer.orders:
        o = h.message
        key = (o.instrument, o.side, o.quantity, o.limit_price, o.cycle_id)
        assert first.setdefault((o.client_order_id, o.epoch), key) == key, (
            f"{o.client_order_id} sent twice by epoch {o.epoch} with different contents"
        )
    return len({coid for coid, _ in first})


def assert_no_order_accepted_from(observer: Observer, epoch: int, after: float) -> int:
    """Every order stamped with `epoch` (or older) heard after `after` was refused
    STALE_EPOCH, and none of them was accepted or filled; returns how many there were."""
    late = {
        h.message.client_order_id
        for h in observer.orders
        if h.at > after and h.message.epoch <= epoch
    }
    for h in observer.reports:
        r = h.message
        if r.client_order_id in late:
            assert r.status is ExecStatus.REJECTED and r.reason_code is ReasonCode.STALE_EPOCH, (
                f"{r.client_order_id} from fenced epoch {epoch} was {r.status.value}"
            )
    return len(late)
