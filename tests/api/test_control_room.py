"""The control room's server side in this process: the page and its files (offline docs too),
signing in to a session cookie with CSRF on changes, and the live frames (snapshot first)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from api_examples import (
    OPERATOR_TOKEN,
    ORIGIN,
    chain,
    desk_harness,
    feed_batches,
    risk_limits,
    session,
    snapshot,
)

from hedgemesh.api.adapters.monitor import Monitor
from hedgemesh.api.security.auth import Caller, Role
from hedgemesh.api.security.session import Sessions
from hedgemesh.wire.instruments import Instrument


@pytest.fixture
def api(tmp_path):
    h = desk_harness(tmp_path)
    market = session("SPX", "NDX")
    feed_batches(h.model, market.run_until(60))
    h.clock.set(ORIGIN + timedelta(seconds=60))
    spx = chain(market, "SPX")
    h.model.on_snapshot(snapshot("SPX", [(spx[3], -20), (Instrument.spot("SPX"), 150)], seq=2))
    h.model.on_limits("SPX", risk_limits("SPX"), 1)
    return h


async def test_given_no_token_then_the_page_and_its_files_are_served_and_the_docs_are_local(api):
    async with api.client(token=None) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "hedgemesh control room" in page.text
        for path in ("/static/room.js", "/static/vendor/uPlot.iife.min.js"):
            assert (await client.get(path)).status_code == 200, path
        for path, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
            docs = await client.get(path)
            assert docs.status_code == 200
            assert f"/static/vendor/{asset}" in docs.text and "cdn" not in docs.text.lower()
            assert (await client.get(f"/static/vendor/{asset}")).status_code == 200
        assert (await client.get("/v1/stream")).status_code == 401  # the data is not open


async def test_given_a_token_then_signing_in_sets_a_cookie_that_reads_and_changes_with_csrf(api):
    async with api.client(token=None) as client:
        refused = await client.post("/v1/session", json={"token": "not-a-token-of-the-api-x"})
        assert refused.status_code == 401
        signed = await client.post("/v1/session", json={"token": OPERATOR_TOKEN})
        assert signed.status_code == 200
        who = signed.json()
        assert who["name"] == "olga" and who["role"] == "operator" and who["csrf"]
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        # The cookie alone reads, and says who it is.
        assert (await client.get("/v1/risk")).status_code == 200
        assert (await client.get("/v1/session")).json()["csrf"] == who["csrf"]
        # A change needs the CSRF token beside the cookie; with it, the operator may halt.
        assert (await client.post("/v1/control/halt", json={})).status_code == 403
        halted = await client.post(
            "/v1/control/halt", json={"reason": "drill"}, headers={"x-csrf-token": who["csrf"]}
        )
        assert halted.status_code == 200, halted.text
        assert api.desk.commands[-1].issued_by == "olga"
        # Roles hold as with the token: an operator may not change a limit.
        change = await client.put(
            "/v1/limits/SPX.max_abs_delta",
            json={"value": 10},
            headers={"x-csrf-token": who["csrf"]},
        )
        assert change.status_code == 403
        out = await client.delete("/v1/session", headers={"x-csrf-token": who["csrf"]})
        assert out.status_code == 204
        assert (await client.get("/v1/risk")).status_code == 401
    audit = api.context.records.audit(limit=10)
    # Signing out, the refused limit change and the halt are audited under the token's name.
    paths = ["/v1/session", "/v1/limits/SPX.max_abs_delta", "/v1/control/halt"]
    assert [e.path for e in audit[:3]] == paths
    assert audit[2].actor == "olga" and audit[2].status == 200 and audit[1].status == 403


def test_given_sessions_then_they_expire_and_only_digests_are_kept():
    now = [0.0]
    sessions = Sessions(ttl_s=10.0, max_sessions=2, monotonic=lambda: now[0])
    first, _ = sessions.open(Caller("a", Role.VIEWER))
    assert sessions.get(first) is not None
    assert all(first.encode() not in key for key in sessions._open)
    now[0] = 10.0
    assert sessions.get(first) is None
    ids = [sessions.open(Caller(n, Role.VIEWER))[0] for n in "bcd"]
    assert len(sessions) == 2 and sessions.get(ids[0]) is None


async def test_given_the_desk_then_a_frame_holds_every_panel_and_a_page_gets_a_snapshot_first(
    api,
):
    monitor = Monitor(api.context, interval_s=3600)
    frame = await monitor.step()
    assert frame["banner"]["status"] in {"ready", "stale", "degraded"}
    assert {u["underlying"] for u in frame["risk"]["underlyings"]} == {"SPX", "NDX"}
    spx_checks = next(u for u in frame["risk"]["underlyings"] if u["underlying"] == "SPX")
    assert "max_abs_dollar_gamma_per_pct" in {c["name"] for c in spx_checks["checks"]}
    assert frame["pnl"]["attribution"]["window_start"] is not None
    grid = frame["stress"]
    assert len(grid["firm"]["pnl"]) == len(grid["vol_shocks"])
    assert grid["underlyings"]["SPX"]["pnl"][1][4] == pytest.approx(0.0, abs=0.01)
    assert set(frame["params"]) == {"gamma-agent", "vega-agent"}
    for panel in ("agents", "limits", "orders", "fills", "decisions", "trading"):
        assert panel in frame
    # The manager answered (the fake desk's): a second frame adds a second history sample.
    api.clock.advance(10)
    await monitor.step()
    events = monitor.events()
    first = await anext(events)
    assert first["event"] == "snapshot"
    snap = json.loads(first["data"])
    assert len(snap["history"]) == 2 and snap["frame"]["at"] == monitor.latest["at"]
    assert set(snap["history"][-1]["underlyings"]) == {"SPX", "NDX"}
    pending = anext(events)
    await monitor.step()
    second = await pending
    assert second["event"] == "frame" and "sample" in json.loads(second["data"])
    await events.aclose()
    assert monitor.watchers == 0
    await monitor.stop()


async def test_given_a_stale_tick_or_no_manager_then_the_banner_says_why(api):
    api.desk.manager = None
    monitor = Monitor(api.context, interval_s=3600)
    api.clock.advance(120)  # the last tick is now two minutes old: over max_tick_age_s
    frame = await monitor.step()
    banner = frame["banner"]
    assert banner["status"] == "degraded"
    assert any("manager does not answer" in c for c in banner["causes"])
    assert any(c.startswith("SPX: tick") for c in banner["causes"])


async def test_given_a_frame_then_metrics_hold_each_limits_utilisation_and_need_a_token(api):
    from prometheus_client.parser import text_string_to_metric_families

    await Monitor(api.context, interval_s=3600).step()
    async with api.client(token=None) as client:
        assert (await client.get("/metrics")).status_code == 401
    async with api.client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
    spx_delta = [
        s
        for s in samples
        if s.name == "hedgemesh_limit_utilisation_ratio"
        and s.labels["book"] == "SPX"
        and s.labels["limit"] == "max_abs_delta"
    ]
    risk = api.model.risk_view()
    check = next(c for c in risk.underlyings[1].checks if c.name == "max_abs_delta")
    assert risk.underlyings[1].underlying == "SPX"
    assert spx_delta and spx_delta[0].value == pytest.approx(check.utilisation)


async def test_given_trades_then_an_admin_books_them_through_the_trade_stream_audited(api):
    rows = [
        {"instrument": "SPX", "quantity": 100, "price": 5000.0, "trade_id": "byob-1"},
        {"instrument": "SPX", "quantity": -20, "price": 5001.0, "trade_id": "byob-2"},
    ]
    async with api.client(token=OPERATOR_TOKEN) as client:
        assert (await client.post("/v1/book/trades", json={"trades": rows})).status_code == 403
    async with api.client() as client:
        missing = await client.post(
            "/v1/book/trades", json={"trades": [*rows, {"instrument": "SPX", "quantity": 1}]}
        )
        assert missing.status_code == 422
        assert missing.json()["detail"][0]["loc"] == ["body", "trades", 2, "price"]
        unknown = {"instrument": "RUT", "quantity": 1, "price": 2000.0}
        bad = await client.post("/v1/book/trades", json={"trades": [*rows, unknown]})
        assert bad.status_code == 422
        assert [(d["item"], d["field"]) for d in bad.json()["detail"]] == [(3, "instrument")]
        assert not api.desk.trades  # nothing sent while a row is bad
        ok = await client.post("/v1/book/trades", json={"trades": rows, "source": "desk.csv"})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"booked": ["byob-1", "byob-2"], "duplicates": []}
        again = await client.post("/v1/book/trades", json={"trades": rows})
        assert again.json() == {"booked": [], "duplicates": ["byob-1", "byob-2"]}
    assert api.desk.trades["byob-2"].signed_quantity == -20
    entry = api.context.records.audit(limit=1)[0]
    assert entry.path == "/v1/book/trades" and entry.after["duplicates"] == ["byob-1", "byob-2"]


def test_given_a_cluster_clock_faster_than_real_time_then_heartbeat_ages_are_real_seconds():
    from hedgemesh.api.domain.readmodel import ReadModel
    from hedgemesh.runtime.clock import SteppedClock
    from hedgemesh.wire.ops import Heartbeat, Role, ServiceState

    market, real = SteppedClock(ORIGIN), SteppedClock(ORIGIN)
    model = ReadModel(["SPX"], clock=market, heartbeat_stale_s=10.0)
    model.real = real
    beat = Heartbeat(
        service="gamma-agent",
        instance="g1",
        role=Role.LEADER,
        state=ServiceState.READY,
        seq=1,
        started_at=ORIGIN,
        pid=1,
        lag_ms=0.0,
    )
    model.on_heartbeat(beat)
    market.advance(390 * 2.0)  # two real seconds of a day-in-a-minute clock
    real.advance(2.0)
    instance = model.agents_view().agents[0].instances[0]
    assert instance.last_heartbeat_age_s == pytest.approx(2.0) and instance.alive
