"""The post-trade report from a short run: written from the API's answers (HTML, a PNG per
figure, report.json), its figures checked against the same API; and served to the dashboard."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from api_examples import (
    ADMIN_TOKEN,
    ORIGIN,
    bearer,
    chain,
    desk_harness,
    feed_batches,
    fill_reports,
    order,
    proposal,
    risk_limits,
    session,
    snapshot,
    store_decisions,
    store_orders,
)

from hedgemesh.api.adapters.report import FIGURES, gather, write_report
from hedgemesh.api.app import create_app
from hedgemesh.wire.hedging import DecisionOutcome
from hedgemesh.wire.instruments import Instrument, Side


@pytest.fixture
async def run(tmp_path):
    """A short run: a minute of market, a book, hedge orders with fills, decisions, and
    the control room's frames every 10 s of it."""
    h = desk_harness(tmp_path)
    market = session("SPX", "NDX")
    feed_batches(h.model, market.run_until(10))
    spx = chain(market, "SPX")
    h.model.on_snapshot(snapshot("SPX", [(spx[3], -20), (Instrument.spot("SPX"), 150)], seq=2))
    h.model.on_limits("SPX", risk_limits("SPX"), 1)
    hedge = order("SPX-1", quantity=10, at=ORIGIN + timedelta(seconds=5))
    sold = order("SPX-2", instrument=spx[3], quantity=4, side=Side.SELL)
    store_orders(
        h.store_url,
        (
            hedge,
            fill_reports(
                hedge, [4, 6], 5001.0, ORIGIN + timedelta(seconds=6), 5000.5, [5001.0, 5001.5]
            ),
        ),
        (sold, fill_reports(sold, [4], 20.0, ORIGIN + timedelta(seconds=7))),
    )
    store_decisions(
        h.store_url,
        (proposal("p1", cycle="SPX-1"), DecisionOutcome.APPROVED, 0.0),
        (proposal("p2", agent="vega-agent", cycle="SPX-2"), DecisionOutcome.SCALED, 1.0),
        (proposal("p3", underlying="NDX", cycle="NDX-1"), DecisionOutcome.REJECTED, 2.0),
    )
    app = create_app(h.context.settings, context=h.context)
    monitor = app.state.monitor
    for until in (20, 30, 40, 50, 60):
        feed_batches(h.model, market.run_until(until))
        h.clock.set(ORIGIN + timedelta(seconds=until))
        await monitor.step()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://api.test",
        headers=bearer(ADMIN_TOKEN),
    ) as client:
        yield client
    await monitor.stop()


async def test_given_a_short_run_then_the_reports_figures_are_the_apis(run, tmp_path):
    async def get(path, params):
        response = await run.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    steps: list[str] = []
    data = await gather(get, steps.append)
    write_report(data, tmp_path / "out", steps.append)
    out = tmp_path / "out"
    for name in FIGURES:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    page = (out / "report.html").read_text()
    assert all(f'src="{name}"' in page for name in FIGURES)
    assert len(steps) == 6 + len(FIGURES) + 1
    numbers = json.loads((out / "report.json").read_text())

    pnl = await get("/v1/pnl", {})
    assert numbers["pnl"]["hedged"] == pnl["attribution"]["total"]
    assert numbers["pnl"]["unhedged"] == pytest.approx(
        pnl["attribution"]["total"] - pnl["hedge_pnl"], abs=0.01
    )
    fills = (await get("/v1/fills", {"limit": 1000}))["fills"]
    by_instrument = numbers["tca"]["by_instrument"]
    assert (
        by_instrument["SPX"]["quantity"]
        == sum(f["last_quantity"] for f in fills if f["instrument"] == "SPX")
        == 10
    )
    assert by_instrument[spx_option(fills)]["notional"] == pytest.approx(4 * 20.0 * 100)
    # Bought 10 at 5001 against an arrival mid of 5000.5; the mid after each fill 5001, 5001.5.
    assert by_instrument["SPX"]["arrival_cost"] == pytest.approx(0.5 * 10)
    assert by_instrument["SPX"]["impact"] == pytest.approx(0.5 * 4 + 1.0 * 6)
    assert by_instrument[spx_option(fills)]["fills_with_arrival"] == 0  # none recorded
    decisions = (await get("/v1/decisions", {"limit": 1000}))["decisions"]
    assert sum(numbers["decisions_by_reason"].values()) == len(decisions) == 3
    assert numbers["decisions_by_reason"]["rejected: TRADING_HALTED"] == 1
    assert numbers["tca"]["by_agent"]["gamma-agent"]["approved"] == 1
    history = (await get("/v1/history", {}))["samples"]
    assert numbers["counts"]["samples"] == len(history) == 5
    risk = await get("/v1/risk", {})
    spx = next(u for u in risk["underlyings"] if u["underlying"] == "SPX")
    delta = next(c for c in spx["checks"] if c["name"] == "max_abs_delta")
    assert numbers["limits"]["peak_utilisation"]["SPX.max_abs_delta"] >= delta["utilisation"] - 1e-9


def spx_option(fills):
    return next(f["instrument"] for f in fills if f["instrument"] != "SPX")


async def test_given_the_dashboard_then_the_report_is_one_page_with_its_charts_inline(run):
    response = await run.get("/v1/report")
    assert response.status_code == 200
    assert response.text.count("data:image/png;base64,") == len(FIGURES)
    assert "hedgemesh post-trade report" in response.text
