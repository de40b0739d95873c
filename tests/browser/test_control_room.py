"""The control room in a real headless browser (Playwright's Python package driving Debian's
`chromium`; never `playwright install`) on a real cluster started by `hedgemesh up`.

Scrapes every service's /metrics, finds the `--book` holding in /v1/positions, signs in with
the admin's token (every control), sees the numbers move, halts (clicked and confirmed) and
sees HALTED with the agents refusing to propose and no order routed, saves a screenshot
(`HEDGEMESH_SCREENSHOT` names where; by default the test's temporary folder), changes a limit
on the page and finds it in `/v1/limits` and `/v1/audit`, and resumes.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "system"))
from cluster_harness import Launcher, free_port, until

CHROMIUM = os.environ.get("HEDGEMESH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no chromium at {CHROMIUM} (apt-get install chromium)"
    ),
    pytest.mark.timeout(300),
]
#: The flags of a headless Chromium in a container with no network beyond loopback.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
]
SPEED = 60.0


#: A holding brought with `up --book`: far from anything the agents trade.
BYOB = f"NDX-{(datetime.now(UTC) + timedelta(days=400)):%Y%m%d}-C-25000"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Launcher, str]]:
    port = free_port()
    book = tmp_path / "book.csv"
    book.write_text(f"instrument,quantity,price,counterparty\n{BYOB},5,120.5,byob-test\n")
    launcher = Launcher(
        "--nats-port", "0", "--no-restart", "--speed", str(SPEED), "--book", str(book),
        home=tmp_path / "var",
        env={"HEDGEMESH_API_PORT": str(port)},
    )  # fmt: skip
    try:
        launcher.wait_for_line("hedgemesh: running", timeout=90)
        yield launcher, f"http://127.0.0.1:{port}"
    finally:
        try:
            launcher.stop(timeout=20)
        except Exception:
            launcher.kill()


def _token(launcher: Launcher, role: str) -> str:
    return launcher.api_headers(role)["Authorization"].removeprefix("Bearer ")


def test_given_the_control_room_then_an_operator_watches_halts_and_changes_a_limit(
    cluster: tuple[Launcher, str], tmp_path: Path
) -> None:
    launcher, url = cluster
    admin = launcher.api_headers("admin")
    http = httpx.Client(base_url=url, headers=admin, timeout=5)
    until(lambda: _answers(http), 90, "the API answering /health")
    until(lambda: http.get("/v1/fills", params={"limit": 1}).json()["fills"], 120, "a first fill")
    _every_service_exports_metrics(launcher, http)
    # The book brought with `up --book` went through the ledger like client flow.
    positions = http.get("/v1/positions", params={"underlying": "NDX"}).json()["underlyings"]
    held = {p["instrument"]: p["quantity"] for p in positions[0]["positions"]}
    assert held.get(BYOB) == 5, held

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 2600})
        page.set_default_timeout(30_000)
        page.goto(url + "/")

        # Sign in with the admin's token: the page keeps a session cookie from then on.
        page.locator("#sign-in").wait_for(state="visible")
        page.fill("#token", _token(launcher, "admin"))
        page.click("#sign-in-button")
        page.locator("#room").wait_for(state="visible")
        # The room shows before the sign-in's answer names who it is: wait for the name.
        page.wait_for_function("document.getElementById('who').textContent.includes('admin')")

        # The numbers move: the market time and the risk table change from frame to frame.
        page.wait_for_function("document.getElementById('market-time').textContent.length > 5")
        first = page.inner_text("#market-time")
        risk_first = page.inner_text("#risk-table")
        until(lambda: page.inner_text("#market-time") != first, 20, "the market time moving")
        until(lambda: page.inner_text("#risk-table") != risk_first, 30, "the risk figures moving")
        assert "SPX" in page.inner_text("#risk-table") and "NDX" in page.inner_text("#risk-table")
        page.wait_for_function("document.querySelector('#chart-pnl canvas') !== null")
        assert page.inner_text("#pnl-total") not in ("", "–")
        assert page.locator("#stress-table td").count() > 40
        assert "gamma-agent" in page.inner_text("#agents-table")

        # Halt: clicked, confirmed; the page shows HALTED and nothing new is hedged: the agents
        # refuse to propose (their evaluations end `halted`; the manager would refuse any
        # proposal with TRADING_HALTED) and no order is routed.
        page.fill("#control-reason", "browser drill")
        page.click("#btn-halt")
        page.locator("#confirm").wait_for(state="visible")
        assert "HALT" in page.inner_text("#confirm-text")
        page.click("#confirm-ok")
        until(lambda: page.inner_text("#trading-state") == "HALTED", 20, "the banner HALTED")
        assert "browser drill" in page.inner_text("#trading-reason")
        assert http.get("/v1/agents").json()["trading_state"] == "HALTED"
        time.sleep(1.0)  # what was routed before the halt lands
        before = {
            o["client_order_id"]
            for o in http.get("/v1/orders", params={"limit": 1000}).json()["orders"]
        }
        refusals = _halted_evaluations(launcher, http)
        until(
            lambda: _halted_evaluations(launcher, http) > refusals,
            30,
            "the agents refusing to propose while HALTED",
        )
        time.sleep(3.0)  # three simulated minutes of market and client flow
        after = http.get("/v1/orders", params={"limit": 1000}).json()["orders"]
        assert {o["client_order_id"] for o in after} == before, "an order was routed while HALTED"
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(_screenshot_path(tmp_path)))  # the viewport: 1400 x 2600

        # Change a limit on the page: confirmed, then in /v1/limits and the audit trail.
        page.select_option("#limit-select", "SPX.max_abs_delta")
        page.fill("#limit-value", "1234")
        page.click("#limit-apply")
        page.locator("#confirm").wait_for(state="visible")
        page.click("#confirm-ok")
        until(
            lambda: page.inner_text("#action-result") == "limit SPX.max_abs_delta: done",
            20,
            "the limit change answered",
        )
        limits = http.get("/v1/limits").json()
        spx = next(e for e in limits["underlyings"] if e["key"] == "SPX")
        assert spx["limits"]["max_abs_delta"] == 1234.0
        assert spx["changed_by"] == "admin"
        audit = http.get("/v1/audit", params={"path": "/v1/limits/SPX."}).json()["entries"]
        assert audit[0]["after"]["value"] == 1234.0 and audit[0]["actor"] == "admin"
        halts = http.get("/v1/audit", params={"path": "/v1/control/halt"}).json()["entries"]
        assert halts[0]["status"] == 200 and halts[0]["body"]["reason"] == "browser drill"

        # Resume from the page.
        page.click("#btn-resume")
        page.click("#confirm-ok")
        until(lambda: page.inner_text("#trading-state") == "ACTIVE", 20, "ACTIVE again")
        browser.close()


def _scrape(http: httpx.Client, url: str) -> dict[str, float]:
    """Sums of each sample name over its labels, from Prometheus' text format."""
    from prometheus_client.parser import text_string_to_metric_families

    response = http.get(url)
    assert response.status_code == 200, url
    sums: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            sums[sample.name] = sums.get(sample.name, 0.0) + sample.value
    return sums


def _every_service_exports_metrics(launcher: Launcher, http: httpx.Client) -> None:
    """Each instance's /metrics (listed in cluster.json, as `hedgemesh status` shows them),
    scraped and parsed until the hedge cycle's figures are there (each service starts its
    counting when its first message arrives)."""
    instances = launcher.cluster()["instances"]
    assert all(info["metrics_url"] for info in instances.values()), instances
    wanted = {
        "marketdata": "hedgemesh_ticks_published_total",
        "execution": "hedgemesh_order_to_fill_seconds_count",
        "ledger": "hedgemesh_ledger_bookings_total",
        "gamma-agent": "hedgemesh_evaluations_total",
        "vega-agent": "hedgemesh_evaluations_total",
        "manager": "hedgemesh_decisions_total",
        "api": "hedgemesh_limit_utilisation_ratio",
    }

    def missing() -> list[str]:
        by_service: dict[str, dict[str, float]] = {}
        for info in instances.values():
            held = by_service.setdefault(info["service"], {})
            for name, value in _scrape(http, info["metrics_url"]).items():
                held[name] = held.get(name, 0.0) + value
        return [f"{s}: {m}" for s, m in wanted.items() if not by_service[s].get(m, 0.0) > 0]

    last: list[list[str]] = [[]]

    def complete() -> bool:
        last[0] = missing()
        return not last[0]

    try:
        until(complete, 60, "every service's metrics")
    except AssertionError as error:
        raise AssertionError(f"{error}; missing {last[0]}") from None


def _halted_evaluations(launcher: Launcher, http: httpx.Client) -> float:
    """The agents' evaluations that proposed nothing because the desk is HALTED."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for info in launcher.cluster()["instances"].values():
        if info["service"] not in ("gamma-agent", "vega-agent"):
            continue
        for family in text_string_to_metric_families(http.get(info["metrics_url"]).text):
            for sample in family.samples:
                if (
                    sample.name == "hedgemesh_evaluations_total"
                    and sample.labels.get("outcome") == "halted"
                ):
                    total += sample.value
    return total


def _answers(http: httpx.Client) -> bool:
    try:
        return http.get("/health").status_code == 200
    except httpx.TransportError:
        return False


def _screenshot_path(tmp_path: Path) -> Path:
    path = Path(os.environ.get("HEDGEMESH_SCREENSHOT") or tmp_path / "control-room.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
