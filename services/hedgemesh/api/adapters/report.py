"""The post-trade report of a run: an HTML page with PNG charts and `report.json`, the figures
they show — from what the API serves (`gather`), so every number can be checked against it.

Sources: `GET /v1/history` (the control room's samples: P&L, its attribution, the hedges' P&L,
every limit's utilisation), `/v1/pnl`, `/v1/orders`, `/v1/fills`, `/v1/decisions` (the newest
1000 of each), `/v1/agents`. Figures:

1. **Hedged vs unhedged P&L** over the run: the book's P&L (the attribution's total) and the
   same book without its hedges (total − the hedges' P&L: what the hedge fills bought valued
   at the market, less what they cost).
2. **P&L attribution** over the run: delta, gamma, vega, vanna, volga, theta, costs, new
   trades, not followed, unexplained.
3. **Transaction-cost analysis**: per instrument, fills, quantity, notional, fees, the
   slippage against the order's limit price (what the collar left), the cost against the
   arrival price (the venue's mid when the order was first worked: implementation shortfall)
   and the market impact (the mid after each fill against the arrival price); per agent, the premium
   its approved proposals were charged, the risk they removed and the cost per unit of risk
   removed; and the hedges' costs against fair value (the attribution's transaction costs).
4. **Limit usage** over the run: every limit's utilisation, 100 % marked.
5. **Agent activity and take-overs**: decisions per agent over time; a change of the manager's
   epoch (a new leader) marked.
6. **Decisions by reason**: outcome × reason code.
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hedgemesh.wire.instruments import Instrument

__all__ = ["FIGURES", "ReportData", "figures", "gather", "render_html", "write_report"]

#: The charts, in order: file name → title.
FIGURES = {
    "pnl.png": "Hedged vs unhedged P&L",
    "attribution.png": "P&L attribution",
    "tca.png": "Transaction-cost analysis",
    "limits.png": "Limit usage",
    "activity.png": "Agent activity and take-overs",
    "reasons.png": "Decisions by reason",
}
PAGE = 1000
_PARTS = ("delta", "gamma", "vega", "vanna", "volga", "theta", "transaction_costs",
          "new_trades", "not_followed", "unexplained")  # fmt: skip


@dataclass(frozen=True)
class ReportData:
    """What the report is made of: the API's answers, as JSON."""

    history: list[dict[str, Any]]
    pnl: dict[str, Any]
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    agents: dict[str, Any]


Get = Callable[[str, dict[str, Any]], Awaitable[Any]]


async def gather(get: Get, step: Callable[[str], None] = lambda _: None) -> ReportData:
    """Read every source through `get(path, params)` (an authenticated GET returning JSON)."""
    answers: dict[str, Any] = {}
    for name, path, params in (
        ("history", "/v1/history", {}),
        ("pnl", "/v1/pnl", {}),
        ("orders", "/v1/orders", {"limit": PAGE}),
        ("fills", "/v1/fills", {"limit": PAGE}),
        ("decisions", "/v1/decisions", {"limit": PAGE}),
        ("agents", "/v1/agents", {}),
    ):
        answers[name] = await get(path, params)
        step(f"read {path}")
    return ReportData(
        history=answers["history"]["samples"],
        pnl=answers["pnl"],
        orders=answers["orders"]["orders"],
        fills=answers["fills"]["fills"],
        decisions=answers["decisions"]["decisions"],
        agents=answers["agents"],
    )


# -- the figures' numbers ---------------------------------------------------------------------


def figures(data: ReportData) -> dict[str, Any]:
    """Every number the charts and tables show (report.json)."""
    attribution = data.pnl["attribution"]
    hedges = data.pnl.get("hedge_pnl", 0.0)
    by_instrument: dict[str, dict[str, float]] = defaultdict(
        lambda: {"fills": 0, "quantity": 0, "notional": 0.0, "fees": 0.0, "slippage": 0.0,
                 "arrival_cost": 0.0, "impact": 0.0, "fills_with_arrival": 0}
    )  # fmt: skip
    limits = {o["client_order_id"]: o for o in data.orders}
    for fill in data.fills:
        row = by_instrument[fill["instrument"]]
        multiplier = Instrument.parse(fill["instrument"]).multiplier  # options: the default
        row["fills"] += 1
        row["quantity"] += fill["last_quantity"]
        row["notional"] += fill["last_quantity"] * fill["last_price"] * multiplier
        row["fees"] += fill["fees"]
        sign = 1.0 if fill["side"] == "buy" else -1.0
        arrival = fill.get("arrival_price")
        if arrival is not None:
            # Positive: a cost — filled worse than the arrival price; the mid moved against us.
            quantity = fill["last_quantity"] * multiplier
            row["arrival_cost"] += sign * (fill["last_price"] - arrival) * quantity
            if fill.get("mid_after") is not None:
                row["impact"] += sign * (fill["mid_after"] - arrival) * quantity
            row["fills_with_arrival"] += 1
        order = limits.get(fill["client_order_id"])
        if order is not None and order["limit_price"] is not None:
            # Positive: filled better than the limit the collar allowed.
            row["slippage"] += (
                sign * (order["limit_price"] - fill["last_price"]) * fill["last_quantity"]
            ) * multiplier
    by_agent: dict[str, dict[str, float]] = defaultdict(
        lambda: {"decisions": 0, "approved": 0, "premium": 0.0, "risk_removed": 0.0}
    )
    reasons: Counter[str] = Counter()
    for d in data.decisions:
        row = by_agent[d["agent"]]
        row["decisions"] += 1
        if d["outcome"] in ("approved", "scaled"):
            row["approved"] += 1
            row["premium"] += d["premium"]
            row["risk_removed"] += d["risk_removed"]
        reasons[f"{d['outcome']}: {d['reason_code'] or 'none'}"] += 1
    for row in by_agent.values():
        row["cost_per_risk_removed"] = (
            row["premium"] / row["risk_removed"] if row["risk_removed"] else None
        )
    peaks: dict[str, float] = {}
    for sample in data.history:
        for book, row in sample["underlyings"].items():
            for name, u in row["utilisation"].items():
                if u is not None:
                    peaks[f"{book}.{name}"] = max(peaks.get(f"{book}.{name}", 0.0), u)
        for name, u in sample["firm"].items():
            if u is not None:
                peaks[f"firm.{name}"] = max(peaks.get(f"firm.{name}", 0.0), u)
    epochs = sorted({d["epoch"] for d in data.decisions})
    return {
        "pnl": {
            "hedged": attribution["total"],
            "hedges": hedges,
            "unhedged": round(attribution["total"] - hedges, 2),
            "ledger": data.pnl["total_pnl"],
            "attribution": {k: attribution[k] for k in _PARTS},
            "window_start": attribution.get("window_start"),
        },
        "tca": {
            "by_instrument": dict(sorted(by_instrument.items())),
            "by_agent": dict(sorted(by_agent.items())),
            "costs_against_fair_value": attribution["transaction_costs"],
        },
        "limits": {"peak_utilisation": dict(sorted(peaks.items()))},
        "activity": {
            "decisions_by_agent": {a: r["decisions"] for a, r in sorted(by_agent.items())},
            "manager_epochs": epochs,
            "take_overs": max(len(epochs) - 1, 0),
        },
        "decisions_by_reason": dict(sorted(reasons.items())),
        "counts": {
            "samples": len(data.history),
            "orders": len(data.orders),
            "fills": len(data.fills),
            "decisions": len(data.decisions),
        },
    }


# -- the charts -------------------------------------------------------------------------------


def _times(samples: Sequence[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(s["at"]) for s in samples]


def _charts(data: ReportData, numbers: dict[str, Any], out: Path, step: Callable[[str], None]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    currency = "currency (the book's)"
    when = _times(data.history)
    files = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        files.append(out / name)
        step(name)

    fig, ax = plt.subplots(figsize=(9, 4))
    hedged = [s["pnl"]["total"] for s in data.history]
    unhedged = [s["pnl"]["total"] - (s["pnl"].get("hedges") or 0.0) for s in data.history]
    ax.plot(when, hedged, label="hedged (the book)", color="#1f77b4")
    ax.plot(when, unhedged, label="unhedged (without its hedges)", color="#d62728", ls="--")
    ax.set_ylabel(currency)
    ax.set_title(FIGURES["pnl.png"])
    ax.legend()
    save(fig, "pnl.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    for part in _PARTS:
        ax.plot(when, [s["pnl"].get(part, 0.0) for s in data.history], label=part)
    ax.plot(when, hedged, label="total", color="black", lw=2)
    ax.set_ylabel(currency)
    ax.set_title(FIGURES["attribution.png"])
    ax.legend(ncol=3, fontsize=7)
    save(fig, "attribution.png")

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    tca = numbers["tca"]
    names = list(tca["by_instrument"])
    left.barh(names, [tca["by_instrument"][n]["fees"] for n in names], label="fees")
    left.barh(names, [tca["by_instrument"][n]["slippage"] for n in names], label="vs limit price",
              alpha=0.6)  # fmt: skip
    left.barh(names, [tca["by_instrument"][n]["arrival_cost"] for n in names],
              label="cost vs arrival", alpha=0.5)  # fmt: skip
    left.barh(names, [tca["by_instrument"][n]["impact"] for n in names], label="impact",
              alpha=0.4)  # fmt: skip
    left.set_xlabel(currency)
    left.set_title("by instrument")
    left.legend(fontsize=7)
    left.tick_params(axis="y", labelsize=6)
    agents = list(tca["by_agent"])
    right.bar(agents, [tca["by_agent"][a]["cost_per_risk_removed"] or 0.0 for a in agents])
    right.set_ylabel("premium per unit of risk removed")
    right.set_title("by agent")
    fig.suptitle(FIGURES["tca.png"])
    save(fig, "tca.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    for name in numbers["limits"]["peak_utilisation"]:
        book, limit = name.split(".", 1)

        def value(s: dict[str, Any], book: str = book, limit: str = limit) -> float | None:
            held = (
                s["firm"]
                if book == "firm"
                else s["underlyings"].get(book, {}).get("utilisation", {})
            )
            u = held.get(limit)
            return None if u is None else 100.0 * u

        ax.plot(when, [value(s) for s in data.history], label=name, lw=1)
    ax.axhline(100.0, color="red", ls=":", lw=1)
    ax.set_ylabel("% of the limit")
    ax.set_title(FIGURES["limits.png"])
    if numbers["limits"]["peak_utilisation"]:
        ax.legend(fontsize=6, ncol=3)
    save(fig, "limits.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    by_agent: dict[str, list[datetime]] = defaultdict(list)
    for d in sorted(data.decisions, key=lambda d: d["ts"]):
        by_agent[d["agent"]].append(datetime.fromisoformat(d["ts"]))
    for agent, times in sorted(by_agent.items()):
        ax.step(times, range(1, len(times) + 1), where="post", label=agent)
    previous = None
    for d in sorted(data.decisions, key=lambda d: d["ts"]):
        if previous is not None and d["epoch"] != previous:
            ax.axvline(datetime.fromisoformat(d["ts"]), color="grey", ls="--", lw=1)
        previous = d["epoch"]
    ax.set_ylabel("decisions (cumulative)")
    ax.set_title(FIGURES["activity.png"] + " (dashed: a new manager leader)")
    if by_agent:
        ax.legend()
    save(fig, "activity.png")

    fig, ax = plt.subplots(figsize=(9, 4))
    reasons = numbers["decisions_by_reason"]
    ax.barh(list(reasons), list(reasons.values()))
    ax.set_xlabel("decisions")
    ax.set_title(FIGURES["reasons.png"])
    ax.tick_params(axis="y", labelsize=7)
    save(fig, "reasons.png")
    return files


def _table(rows: dict[str, dict[str, Any]]) -> str:
    if not rows:
        return "<p>none</p>"
    columns = list(next(iter(rows.values())))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><td>{html.escape(k)}</td>"
        + "".join(f"<td>{'' if v[c] is None else f'{v[c]:,.2f}'}</td>" for c in columns)
        + "</tr>"
        for k, v in rows.items()
    )
    return f"<table><tr><th></th>{head}</tr>{body}</table>"


def render_html(numbers: dict[str, Any], images: dict[str, str]) -> str:
    """The page: each figure (`images`: file name → its src, a path or a data URI) with its
    numbers."""
    pnl = numbers["pnl"]
    parts = "".join(
        f"<tr><td>{k}</td><td>{v:,.2f}</td></tr>" for k, v in pnl["attribution"].items()
    )
    sections = {
        "pnl.png": f"<p>hedged {pnl['hedged']:,.2f}; unhedged {pnl['unhedged']:,.2f} (the "
        f"hedges made {pnl['hedges']:,.2f}); the ledger's total {pnl['ledger']:,.2f}; since "
        f"{pnl['window_start']}</p>",
        "attribution.png": f"<table>{parts}</table>",
        "tca.png": _table(numbers["tca"]["by_instrument"])
        + _table(numbers["tca"]["by_agent"])
        + f"<p>hedges' costs against fair value: "
        f"{numbers['tca']['costs_against_fair_value']:,.2f}</p>",
        "limits.png": "<table>"
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{100 * v:.0f} %</td></tr>"
            for k, v in numbers["limits"]["peak_utilisation"].items()
        )
        + "</table>",
        "activity.png": f"<p>manager take-overs: {numbers['activity']['take_overs']}</p>",
        "reasons.png": "<table>"
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>"
            for k, v in numbers["decisions_by_reason"].items()
        )
        + "</table>",
    }
    body = "".join(
        f'<section><h2>{title}</h2><img src="{images.get(name, "")}" alt="{title}">'
        f"{sections[name]}</section>"
        for name, title in FIGURES.items()
    )
    counts = numbers["counts"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>hedgemesh post-trade report"
        "</title><style>body{font-family:system-ui,sans-serif;max-width:1000px;margin:auto}"
        "table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #ddd;"
        "padding:2px 8px;text-align:right}td:first-child{text-align:left}img{max-width:100%}"
        "</style></head><body><h1>hedgemesh post-trade report</h1>"
        f"<p>{counts['samples']} samples, {counts['orders']} orders, {counts['fills']} fills, "
        f"{counts['decisions']} decisions. Figures in report.json.</p>{body}</body></html>"
    )


def write_report(
    data: ReportData, out: Path, step: Callable[[str], None] = lambda _: None, inline: bool = False
) -> str:
    """Write `out/report.html`, the PNGs and `out/report.json`; the HTML (with the images as
    data URIs when `inline`)."""
    out.mkdir(parents=True, exist_ok=True)
    numbers = figures(data)
    (out / "report.json").write_text(json.dumps(numbers, indent=2, default=str))
    files = _charts(data, numbers, out, step)
    images = {
        f.name: "data:image/png;base64," + base64.b64encode(f.read_bytes()).decode()
        if inline
        else f.name
        for f in files
    }
    page = render_html(numbers, images)
    (out / "report.html").write_text(page)
    step("report.html")
    return page
