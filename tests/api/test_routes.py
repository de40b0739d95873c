"""Every endpoint through the app in this process (httpx ASGI transport) on a read model fed by
hand, a fake desk (KV and manager) and a scratch SQLite store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from api_examples import (
    ORIGIN,
    FakeDesk,
    Harness,
    chain,
    feed_batches,
    fill_reports,
    firm_limits,
    harness,
    order,
    proposal,
    risk_limits,
    session,
    snapshot,
    store_decisions,
    store_orders,
)

from hedgemesh.api.adapters.records import Records
from hedgemesh.api.domain.views import (
    AgentsResponse,
    ControlResult,
    DecisionsResponse,
    ErrorBody,
    FillsResponse,
    HealthResponse,
    LimitChanged,
    LimitsResponse,
    OrdersResponse,
    PnlResponse,
    PositionsResponse,
    RiskResponse,
)
from hedgemesh.runtime.kv import Versioned
from hedgemesh.store.db import make_engine, session_factory
from hedgemesh.wire import subjects
from hedgemesh.wire.hedging import DecisionOutcome
from hedgemesh.wire.instruments import Instrument, Side
from hedgemesh.wire.ops import (
    ControlAction,
    ControlCommand,
    ControlReply,
    Heartbeat,
    HedgePolicy,
    PolicyStatus,
    Role,
    ServiceState,
)
from hedgemesh.wire.state import FIRM_LIMITS_KEY

MARKET_S = 60.0


@pytest.fixture
def market():
    return session("SPX", "NDX")


@pytest.fixture
def api(tmp_path, market) -> Harness:
    """The app after a minute of SPX and NDX market data, its clock at the last tick."""
    h = harness(tmp_path)
    feed_batches(h.model, market.run_until(MARKET_S))
    h.clock.set(ORIGIN + timedelta(seconds=MARKET_S))
    return h


def book(market) -> dict[str, list[tuple[Instrument, int]]]:
    spx, ndx = chain(market, "SPX"), chain(market, "NDX")
    return {
        "SPX": [(spx[0], -30), (spx[7], 12), (spx[-1], -5), (Instrument.spot("SPX"), 250)],
        "NDX": [(ndx[3], 8)],
    }


def held(api: Harness, market) -> dict[str, list[tuple[Instrument, int]]]:
    holdings = book(market)
    for underlying, positions in holdings.items():
        api.model.on_snapshot(snapshot(underlying, positions, seq=3))
    return holdings


async def get(api: Harness, path: str, status: int = 200) -> Any:
    async with api.client() as client:
        response = await client.get(path)
    assert response.status_code == status, response.text
    return response


def error_of(response: Any) -> ErrorBody:
    body = ErrorBody.model_validate_json(response.content)
    assert body.message
    return body


# -- positions ---------------------------------------------------------------------------------


async def test_given_snapshots_then_positions_list_each_underlyings_holdings(api, market) -> None:
    holdings = held(api, market)
    view = PositionsResponse.model_validate_json((await get(api, "/v1/positions")).content)
    assert [u.underlying for u in view.underlyings] == ["NDX", "SPX"]
    assert view.count == 5
    spx = view.underlyings[1]
    assert spx.as_of_seq == 3 and spx.total_pnl == pytest.approx(spx.realised_pnl - 7.5)
    assert {(p.instrument, p.quantity) for p in spx.positions} == {
        (i.symbol, q) for i, q in holdings["SPX"]
    }


async def test_given_an_underlying_filter_then_only_it_is_listed(api, market) -> None:
    held(api, market)
    response = await get(api, "/v1/positions?underlying=NDX")
    view = PositionsResponse.model_validate_json(response.content)
    assert [u.underlying for u in view.underlyings] == ["NDX"] and view.count == 1


async def test_given_the_fast_path_on_or_off_then_positions_bodies_are_identical(
    tmp_path, market
) -> None:
    bodies = []
    for fast_path in (True, False):
        h = harness(tmp_path / str(fast_path), fast_path=fast_path)
        h.model.on_snapshot(snapshot("SPX", book(market)["SPX"], seq=3, ts=ORIGIN))
        bodies.append((await get(h, "/v1/positions")).content)
    assert bodies[0] == bodies[1]


async def test_given_a_newer_snapshot_then_positions_follow_and_an_older_one_is_ignored(
    api, market
) -> None:
    spx = chain(market)
    api.model.on_snapshot(snapshot("SPX", [(spx[0], -30)], seq=5))
    api.model.on_snapshot(snapshot("SPX", [(spx[0], -99)], seq=4))
    first = PositionsResponse.model_validate_json((await get(api, "/v1/positions")).content)
    api.model.on_snapshot(snapshot("SPX", [(spx[0], -10), (spx[1], 2)], seq=6))
    second = PositionsResponse.model_validate_json((await get(api, "/v1/positions")).content)
    assert [p.quantity for p in first.underlyings[0].positions] == [-30]
    assert [p.quantity for p in second.underlyings[0].positions] == [-10, 2]


# -- risk --------------------------------------------------------------------------------------


async def test_given_positions_then_risk_is_the_books_against_every_limit(api, market) -> None:
    held(api, market)
    api.model.on_limits("SPX", risk_limits("SPX", max_abs_delta=100.0), 4)
    api.model.on_limits(FIRM_LIMITS_KEY, firm_limits(max_abs_dollar_delta=1e9), 5)
    view = RiskResponse.model_validate_json((await get(api, "/v1/risk")).content)
    expected = api.model.book.risk(api.clock.now())
    i = api.model.book.index("SPX")
    spx = next(u for u in view.underlyings if u.underlying == "SPX")
    assert spx.greeks.delta == pytest.approx(expected.by_underlying.delta[i])
    assert spx.greeks.gamma == pytest.approx(expected.by_underlying.gamma[i])
    delta = next(c for c in spx.checks if c.name == "max_abs_delta")
    assert delta.limit == 100.0
    assert delta.utilisation == pytest.approx(abs(expected.by_underlying.delta[i]) / 100.0)
    assert delta.breached == (abs(expected.by_underlying.delta[i]) > 100.0)
    assert [b.bucket for b in spx.buckets] == list(expected.bucket_labels)
    bucket_vega = [b.greeks.vega_per_point for b in spx.buckets]
    assert bucket_vega == pytest.approx(list(expected.by_bucket.vega_per_point[i]))
    assert all(b.checks[0].limit == 150_000.0 for b in spx.buckets)
    assert spx.tick_age_s == 0.0 and not spx.stale
    assert view.total.greeks.dollar_delta == pytest.approx(expected.total.dollar_delta)
    firm = {c.name: c for c in view.total.checks}
    assert firm["max_abs_dollar_delta"].limit == 1e9
    ndx = next(u for u in view.underlyings if u.underlying == "NDX")
    assert all(c.limit is None and not c.breached for c in ndx.checks)


async def test_given_an_old_tick_then_risk_says_the_underlying_is_stale(api, market) -> None:
    held(api, market)
    api.model.on_limits("SPX", risk_limits("SPX", max_tick_age_s=30.0), 4)
    api.clock.advance(31.0)
    view = RiskResponse.model_validate_json((await get(api, "/v1/risk?underlying=SPX")).content)
    assert [u.underlying for u in view.underlyings] == ["SPX"]
    assert view.underlyings[0].tick_age_s == pytest.approx(31.0) and view.underlyings[0].stale


async def test_given_positions_without_market_data_then_they_are_listed_unpriced(
    tmp_path, market
) -> None:
    h = harness(tmp_path)
    h.model.on_snapshot(snapshot("SPX", book(market)["SPX"], seq=1))
    view = RiskResponse.model_validate_json((await get(h, "/v1/risk")).content)
    assert view.unpriced == ["SPX"] and view.underlyings == []
    assert view.total.greeks.dollar_delta == 0.0


async def test_given_a_new_tick_then_risk_is_recomputed(api, market) -> None:
    held(api, market)
    before = RiskResponse.model_validate_json((await get(api, "/v1/risk")).content)
    feed_batches(api.model, market.run_until(MARKET_S + 10))
    api.clock.advance(10)
    after = RiskResponse.model_validate_json((await get(api, "/v1/risk")).content)
    assert after.as_of > before.as_of
    assert after.underlyings[1].spot == api.model.book.tick("SPX").price


# -- limits ------------------------------------------------------------------------------------


def with_limits(api: Harness) -> None:
    api.desk.put(subjects.KV_LIMITS, "SPX", risk_limits("SPX"))
    api.desk.put(subjects.KV_LIMITS, FIRM_LIMITS_KEY, firm_limits())


async def put(api: Harness, name: str, body: Any) -> Any:
    async with api.client() as client:
        return await client.put(f"/v1/limits/{name}", json=body)


async def test_given_limits_in_the_read_model_then_get_lists_them_with_revisions(api) -> None:
    api.model.on_limits("SPX", risk_limits("SPX"), 7)
    api.model.on_limits(FIRM_LIMITS_KEY, firm_limits(), 8)
    view = LimitsResponse.model_validate_json((await get(api, "/v1/limits")).content)
    assert [(e.key, e.revision) for e in view.underlyings] == [("SPX", 7)]
    assert view.underlyings[0].limits["max_abs_delta"] == 1500.0
    assert view.firm is not None and view.firm.revision == 8


async def test_given_a_change_then_kv_holds_it_and_the_limits_show_it(api) -> None:
    with_limits(api)
    response = await put(api, "SPX.max_abs_delta", {"value": 900, "revision": 1})
    assert response.status_code == 200, response.text
    changed = LimitChanged.model_validate_json(response.content)
    assert changed.previous == 1500.0 and changed.entry.limits["max_abs_delta"] == 900.0
    stored, revision = api.desk.entries[(subjects.KV_LIMITS, "SPX")]
    assert stored.max_abs_delta == 900.0 and stored.changed_by == "alice"
    assert revision == changed.entry.revision == 3
    view = LimitsResponse.model_validate_json((await get(api, "/v1/limits")).content)
    assert view.underlyings[0].limits["max_abs_delta"] == 900.0


async def test_given_a_firm_limit_change_then_kv_firm_holds_it(api) -> None:
    with_limits(api)
    response = await put(api, "firm.max_abs_dollar_delta", {"value": 1.5e7})
    assert response.status_code == 200, response.text
    stored, _ = api.desk.entries[(subjects.KV_LIMITS, FIRM_LIMITS_KEY)]
    assert stored.max_abs_dollar_delta == 1.5e7


async def test_given_a_stale_revision_then_the_change_is_refused_and_kv_is_unchanged(api) -> None:
    with_limits(api)
    api.desk.put(subjects.KV_LIMITS, "SPX", risk_limits("SPX", max_abs_delta=1400.0))
    response = await put(api, "SPX.max_abs_delta", {"value": 900, "revision": 1})
    assert response.status_code == 409
    assert error_of(response).error == "STALE_REVISION"
    assert api.desk.entries[(subjects.KV_LIMITS, "SPX")][0].max_abs_delta == 1400.0


class RacingDesk(FakeDesk):
    """Another writer changes the limits between the API's read and its write."""

    async def get(self, bucket: str, key: str, model: type[Any]) -> Versioned[Any] | None:
        entry = await super().get(bucket, key, model)
        self.put(bucket, key, risk_limits(key, max_abs_gamma=1.0))
        return entry


async def test_given_a_concurrent_change_then_the_compare_and_set_loses_with_409(
    tmp_path,
) -> None:
    api = harness(tmp_path, desk=RacingDesk())
    with_limits(api)
    response = await put(api, "SPX.max_abs_delta", {"value": 900})
    assert response.status_code == 409
    assert error_of(response).error == "CONCURRENT_CHANGE"
    stored = api.desk.entries[(subjects.KV_LIMITS, "SPX")][0]
    assert stored.max_abs_delta == 1500.0 and stored.max_abs_gamma == 1.0


@pytest.mark.parametrize(
    ("name", "body", "status"),
    [
        ("SPX", {"value": 1}, 422),  # no limit in the name
        ("spx.max_abs_delta", {"value": 1}, 422),
        ("SPX.max_abs_delta.x", {"value": 1}, 422),
        ("SPX.not_a_limit", {"value": 1}, 404),
        ("SPX.changed_by", {"value": 1}, 404),
        ("firm.max_abs_delta", {"value": 1}, 404),  # a per-underlying limit, not the firm's
        ("QQQ.max_abs_delta", {"value": 1}, 404),  # no limits stored for QQQ
        ("SPX.max_abs_delta", {"value": -1}, 422),
        ("SPX.price_collar", {"value": 2}, 422),
        ("SPX.max_order_quantity", {"value": 2.5}, 422),
        ("SPX.max_abs_delta", {"value": "900"}, 422),
        ("SPX.max_abs_delta", {"value": True}, 422),
        ("SPX.max_abs_delta", {"value": None}, 422),
        ("SPX.max_abs_delta", {}, 422),
        ("SPX.max_abs_delta", {"value": 1, "extra": 2}, 422),
        ("SPX.max_abs_delta", {"value": 1, "revision": 0}, 422),
        ("SPX.max_abs_delta", [1], 422),
    ],
)
async def test_given_a_bad_limit_change_then_it_is_refused_with_a_message(
    api, name: str, body: Any, status: int
) -> None:
    with_limits(api)
    response = await put(api, name, body)
    assert response.status_code == status, response.text
    error_of(response)
    assert api.desk.entries[(subjects.KV_LIMITS, "SPX")][1] == 1


async def test_given_non_finite_or_malformed_json_then_the_change_is_refused(api) -> None:
    with_limits(api)
    async with api.client() as client:
        for raw in (b'{"value": NaN}', b'{"value": Infinity}', b'{"value": 1e999}', b"{"):
            response = await client.put(
                "/v1/limits/SPX.max_abs_delta",
                content=raw,
                headers={"content-type": "application/json"},
            )
            assert response.status_code == 422, (raw, response.text)
            error_of(response)


async def test_given_no_nats_then_a_limit_change_answers_503(api) -> None:
    with_limits(api)
    api.desk.connected = False
    response = await put(api, "SPX.max_abs_delta", {"value": 900})
    assert response.status_code == 503 and error_of(response).error == "UNAVAILABLE"


# -- orders, fills and decisions ---------------------------------------------------------------


def stored_orders(api: Harness, market) -> list:
    spx_call = chain(market)[5]
    filled = order("SPX-1", quantity=10, at=ORIGIN)
    partial = order(
        "SPX-2", instrument=spx_call, quantity=6, side=Side.SELL, at=ORIGIN + timedelta(seconds=5)
    )
    ndx = order(
        "NDX-1", instrument=Instrument.spot("NDX"), quantity=3, at=ORIGIN + timedelta(seconds=9)
    )
    store_orders(
        api.store_url,
        (filled, fill_reports(filled, [4, 6], 5001.0, ORIGIN)),
        (partial, fill_reports(partial, [2], 24.5, ORIGIN + timedelta(seconds=5))),
        (ndx, []),
    )
    return [filled, partial, ndx]


async def test_given_stored_orders_then_they_are_listed_newest_first_and_filtered(
    api, market
) -> None:
    filled, partial, ndx = stored_orders(api, market)

    async def ids(query: str = "") -> list[str]:
        body = (await get(api, f"/v1/orders{query}")).content
        return [o.client_order_id for o in OrdersResponse.model_validate_json(body).orders]

    assert await ids() == [ndx.client_order_id, partial.client_order_id, filled.client_order_id]
    assert await ids("?status=filled") == [filled.client_order_id]
    assert await ids("?status=partially_filled") == [partial.client_order_id]
    assert await ids("?status=pending") == [ndx.client_order_id]
    assert await ids("?status=working") == [ndx.client_order_id, partial.client_order_id]
    assert await ids("?underlying=SPX&limit=1") == [partial.client_order_id]
    assert await ids("?since=2024-01-02T14:30:05Z") == [
        ndx.client_order_id,
        partial.client_order_id,
    ]
    view = OrdersResponse.model_validate_json((await get(api, "/v1/orders?status=filled")).content)
    assert view.orders[0].cum_quantity == 10 and view.orders[0].fees == pytest.approx(1.0)


async def test_given_stored_fills_then_they_are_listed_newest_first_and_filtered(
    api, market
) -> None:
    filled, partial, _ = stored_orders(api, market)
    view = FillsResponse.model_validate_json((await get(api, "/v1/fills")).content)
    assert [(f.client_order_id, f.last_quantity) for f in view.fills] == [
        (partial.client_order_id, 2),
        (filled.client_order_id, 6),
        (filled.client_order_id, 4),
    ]
    assert view.fills[0].side is Side.SELL and view.fills[0].cycle_id == "SPX-2"
    one = await get(api, f"/v1/fills?client_order_id={filled.client_order_id}&limit=1")
    assert [f.last_quantity for f in FillsResponse.model_validate_json(one.content).fills] == [6]


async def test_given_stored_decisions_then_they_are_listed_newest_first_and_filtered(api) -> None:
    store_decisions(
        api.store_url,
        (proposal("p1", cycle="SPX-1"), DecisionOutcome.APPROVED, 0.0),
        (proposal("p2", agent="vega-agent", cycle="SPX-2"), DecisionOutcome.SCALED, 1.0),
        (proposal("p3", underlying="NDX", cycle="NDX-1"), DecisionOutcome.REJECTED, 2.0),
    )

    async def proposals(query: str = "") -> list[str]:
        body = (await get(api, f"/v1/decisions{query}")).content
        return [d.proposal_id for d in DecisionsResponse.model_validate_json(body).decisions]

    assert await proposals() == ["p3", "p2", "p1"]
    assert await proposals("?agent=vega-agent") == ["p2"]
    assert await proposals("?outcome=rejected") == ["p3"]
    assert await proposals("?underlying=SPX") == ["p2", "p1"]
    assert await proposals("?cycle_id=SPX-1") == ["p1"]
    assert await proposals("?since=2024-01-02T14:30:01%2B00:00&limit=1") == ["p3"]
    view = DecisionsResponse.model_validate_json((await get(api, "/v1/decisions")).content)
    scaled = view.decisions[1]
    assert scaled.reason_code == "BUDGET_EXHAUSTED" and scaled.scale_factor == 0.5
    assert scaled.legs == {"SPX": -40} and scaled.premium == 100.0


# -- agents, control, P&L, health --------------------------------------------------------------


def heartbeat(service: str, instance: str, role: Role, seq: int = 1) -> Heartbeat:
    return Heartbeat(
        service=service,
        instance=instance,
        role=role,
        state=ServiceState.READY,
        seq=seq,
        started_at=ORIGIN,
        pid=100 + seq,
        epoch=4 if role is Role.LEADER else None,
    )


def manager_answering(state: dict[str, Any], ok: bool = True, reason: str = ""):
    async def manager(command: ControlCommand) -> ControlReply:
        return ControlReply(
            command_id=command.id,
            target="manager",
            ok=ok,
            reason=reason,
            detail="" if ok else "refused for the test",
            state={**state, "action": command.action.value},
        )

    return manager


async def test_given_heartbeats_proposals_and_budgets_then_agents_show_them(api) -> None:
    api.desk.manager = manager_answering(
        {
            "trading_state": "ACTIVE",
            "budgets": {"agents": {"gamma-agent": {"allocated": 5e6, "spent": 1e5}}},
        }
    )
    api.model.on_heartbeat(heartbeat("gamma-agent", "gamma-agent-1", Role.LEADER))
    api.model.on_heartbeat(heartbeat("gamma-agent", "gamma-agent-2", Role.STANDBY))
    api.model.on_proposal(proposal("p9"))
    api.clock.advance(3.0)
    view = AgentsResponse.model_validate_json((await get(api, "/v1/agents")).content)
    gamma = view.agents[0]
    assert gamma.service == "gamma-agent" and gamma.leader == "gamma-agent-1"
    assert [i.role for i in gamma.instances] == [Role.LEADER, Role.STANDBY]
    assert gamma.instances[0].last_heartbeat_age_s == pytest.approx(3.0)
    assert gamma.instances[0].alive and gamma.instances[0].epoch == 4
    assert gamma.last_proposal is not None and gamma.last_proposal.id == "p9"
    assert gamma.budget == {"allocated": 5e6, "spent": 1e5}
    assert view.manager.available and view.manager.state["trading_state"] == "ACTIVE"


async def test_given_an_agent_running_a_learned_policy_then_agents_show_its_fallbacks(api) -> None:
    status = PolicyStatus(
        asked=HedgePolicy.LEARNED,
        last=HedgePolicy.BAND,
        decisions=40,
        fallbacks=3,
        reason="checksum",
        detail="weights.npz fails its checksum",
    )
    beat = heartbeat("gamma-agent", "gamma-agent-1", Role.LEADER).evolve(policy=status)
    api.model.on_heartbeat(Heartbeat.from_json(beat.to_json()))  # as it comes over the wire
    view = AgentsResponse.model_validate_json((await get(api, "/v1/agents")).content)
    assert view.agents[0].instances[0].policy == status


async def test_given_a_silent_instance_then_it_is_shown_not_alive_and_not_leading(api) -> None:
    api.model.on_heartbeat(heartbeat("vega-agent", "vega-agent-1", Role.LEADER))
    api.clock.advance(api.context.settings.heartbeat_stale_s + 1)
    view = AgentsResponse.model_validate_json((await get(api, "/v1/agents")).content)
    assert view.agents[0].leader is None and not view.agents[0].instances[0].alive


async def test_given_no_manager_then_agents_still_list_and_say_why_no_budgets(api) -> None:
    api.model.on_heartbeat(heartbeat("gamma-agent", "g1", Role.LEADER))
    view = AgentsResponse.model_validate_json((await get(api, "/v1/agents")).content)
    assert [a.service for a in view.agents] == ["gamma-agent"]
    assert not view.manager.available and "no manager" in view.manager.detail


async def test_given_status_asked_recently_then_the_manager_is_not_asked_again(api) -> None:
    api.desk.manager = manager_answering({})
    await get(api, "/v1/agents")
    await get(api, "/v1/agents")
    assert len(api.desk.commands) == 1
    api.clock.advance(api.context.settings.status_max_age_s + 0.1)
    await get(api, "/v1/agents")
    assert [c.action for c in api.desk.commands] == [ControlAction.STATUS] * 2


@pytest.mark.parametrize(
    ("path", "action"),
    [
        ("halt", ControlAction.HALT),
        ("resume", ControlAction.RESUME),
        ("reduce-only", ControlAction.REDUCE),
    ],
)
async def test_given_a_control_command_then_the_manager_gets_it_and_its_state_is_echoed(
    api, path: str, action: ControlAction
) -> None:
    api.desk.manager = manager_answering({"trading_state": "HALTED"})
    async with api.client() as client:
        response = await client.post(f"/v1/control/{path}", json={"reason": "test drill"})
    assert response.status_code == 200, response.text
    result = ControlResult.model_validate_json(response.content)
    command = api.desk.commands[-1]
    assert command.action is action and command.reason == "test drill"
    assert command.target == "manager" and command.issued_by == "alice"
    assert result.ok and result.command_id == command.id
    assert result.state == {"trading_state": "HALTED", "action": action.value}


async def test_given_the_manager_refuses_then_control_answers_409_with_its_reason(api) -> None:
    api.desk.manager = manager_answering({"trading_state": "ACTIVE"}, ok=False, reason="NOT_LEADER")
    async with api.client() as client:
        response = await client.post("/v1/control/halt")
    assert response.status_code == 409
    error = error_of(response)
    assert error.error == "NOT_LEADER" and error.detail["trading_state"] == "ACTIVE"


async def test_given_no_manager_then_control_answers_503_saying_so(api) -> None:
    async with api.client() as client:
        response = await client.post("/v1/control/resume")
    assert response.status_code == 503
    assert "no manager answers" in error_of(response).message


async def test_given_positions_and_moves_then_pnl_lists_totals_and_attribution(api, market) -> None:
    held(api, market)
    feed_batches(api.model, market.run_until(MARKET_S + 300))
    view = PnlResponse.model_validate_json((await get(api, "/v1/pnl")).content)
    assert [u.underlying for u in view.underlyings] == ["NDX", "SPX"]
    spx = view.underlyings[1]
    assert spx.total_pnl == pytest.approx(30.0 - 7.5)  # the ledger's, as in the snapshot
    a = spx.attribution
    names = ("delta", "gamma", "vega", "vanna", "volga", "theta", "transaction_costs")
    names += ("new_trades", "not_followed", "unexplained")
    # Components and total in cents: they add up exactly, to the cent.
    assert round(sum(getattr(a, n) for n in names) * 100) == round(a.total * 100)
    # The default window, the trading day, began before the API followed: the ledger's P&L
    # at the baseline is carried in as not followed.
    followed = api.model.pnl["SPX"]
    assert a.window_start is not None and a.since is not None and a.window_start < a.since
    assert a.not_followed == pytest.approx(followed.ledger_pnl_at_baseline, abs=0.005)
    assert a.total == pytest.approx(followed.change + a.not_followed, abs=0.01)
    assert view.attribution.total == pytest.approx(
        sum(u.attribution.total for u in view.underlyings), abs=0.02
    )
    one = PnlResponse.model_validate_json((await get(api, "/v1/pnl?underlying=SPX")).content)
    assert [u.underlying for u in one.underlyings] == ["SPX"]
    # A window from the baseline on: the change of value since, nothing carried in.
    since = a.since.isoformat().replace("+00:00", "Z")
    own = PnlResponse.model_validate_json((await get(api, f"/v1/pnl?since={since}")).content)
    b = own.underlyings[1].attribution
    assert b.not_followed == 0.0 and b.window_start == a.since
    assert b.total == pytest.approx(followed.change, abs=0.01)


async def test_given_nats_and_the_store_then_health_is_ok(api) -> None:
    view = HealthResponse.model_validate_json((await get(api, "/health")).content)
    assert view.status == "ok" and view.nats_connected and view.database_reachable


def unreachable_store() -> Records:
    """A PostgreSQL store on a port nobody listens on."""
    return Records(session_factory(make_engine("postgresql+psycopg://hm@127.0.0.1:1/hm")))


async def test_given_no_nats_or_no_database_then_health_answers_503_saying_which(api) -> None:
    api.desk.connected = False
    view = HealthResponse.model_validate_json((await get(api, "/health", 503)).content)
    assert not view.nats_connected and view.database_reachable and "NATS" in view.detail
    api.desk.connected = True
    api.context.records = unreachable_store()
    view = HealthResponse.model_validate_json((await get(api, "/health", 503)).content)
    assert view.nats_connected and not view.database_reachable and "store" in view.detail


async def test_given_no_database_then_store_reads_answer_503(api) -> None:
    api.context.records = unreachable_store()
    for path in ("/v1/orders", "/v1/fills", "/v1/decisions"):
        response = await get(api, path, 503)
        assert "the store could not read" in error_of(response).message
