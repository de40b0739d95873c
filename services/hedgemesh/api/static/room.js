// hedgemesh control room: signs in, follows GET /v1/stream (server-sent events), draws the
// frames, and sends the controls (each confirmed first; the API checks roles and audits).
"use strict";

const $ = (id) => document.getElementById(id);
const ROLES = ["viewer", "operator", "admin"];
const state = { who: null, csrf: null, source: null, history: [], frame: null, charts: {} };

const num = (x, digits = 0) =>
  x === null || x === undefined || Number.isNaN(x)
    ? "–"
    : Number(x).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const money = (x) => num(x, 0);
const pct = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(0)} %`);
const esc = (s) => String(s ?? "").replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

// -- signing in ------------------------------------------------------------------------------

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (state.csrf) headers["x-csrf-token"] = state.csrf;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { ok: response.ok, status: response.status, data };
}

function signedIn(who) {
  state.who = who;
  state.csrf = who.csrf;
  $("who").textContent = `${who.name} (${who.role})`;
  $("sign-in").hidden = true;
  $("room").hidden = false;
  $("sign-out").hidden = false;
  const rank = ROLES.indexOf(who.role);
  for (const el of document.querySelectorAll("[data-needs]")) {
    el.disabled = ROLES.indexOf(el.dataset.needs) > rank;
    if (el.disabled) el.title = `needs the ${el.dataset.needs} role`;
  }
  $("role-note").textContent = rank < 2 ? `(your role: ${who.role}; greyed controls need more)` : "";
  follow();
}

function showSignIn(message) {
  $("sign-in").hidden = false;
  $("room").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in-error").textContent = message || "";
}

$("sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const result = await api("POST", "/v1/session", { token: $("token").value.trim() });
  $("token").value = "";
  if (result.ok) signedIn(result.data);
  else showSignIn(result.data?.message || `sign-in refused (${result.status})`);
});

$("sign-out").addEventListener("click", async () => {
  await api("DELETE", "/v1/session");
  if (state.source) state.source.close();
  state.csrf = null;
  showSignIn("signed out");
});

// -- the stream ------------------------------------------------------------------------------

function follow() {
  if (state.source) state.source.close();
  const source = new EventSource("/v1/stream");
  state.source = source;
  source.addEventListener("snapshot", (event) => {
    const data = JSON.parse(event.data);
    state.history = data.history;
    render(data.frame, true);
  });
  source.addEventListener("frame", (event) => {
    const data = JSON.parse(event.data);
    state.history.push(data.sample);
    if (state.history.length > 20000) state.history.shift();
    render(data.frame, false);
  });
  source.onerror = async () => {
    setBanner("disconnected", ["the stream is interrupted; reconnecting"]);
    const who = await api("GET", "/v1/session");
    if (who.status === 401) { source.close(); showSignIn("the session ended: sign in again"); }
  };
}

function setBanner(status, causes) {
  const banner = $("banner");
  banner.dataset.status = status;
  banner.textContent = status;
  $("causes").textContent = causes.join(" · ");
}

function render(frame, rebuild) {
  state.frame = frame;
  setBanner(frame.banner.status, frame.banner.causes);
  const trading = frame.trading?.state || frame.risk.trading_state || "–";
  $("trading-state").textContent = trading;
  $("trading-state").dataset.state = trading;
  $("trading-reason").textContent = frame.trading?.reason ? `${frame.trading.reason} (${frame.trading.changed_by})` : "";
  $("market-time").textContent = frame.at.replace("T", " ").slice(0, 19);
  renderRisk(frame.risk);
  renderPnl(frame.pnl);
  renderStress(frame.stress);
  renderAgents(frame.agents, frame.params);
  renderOrders(frame.orders, frame.fills, frame.decisions);
  renderLimitChoices(frame.limits);
  drawCharts(rebuild);
}

// -- panels ----------------------------------------------------------------------------------

function utilCell(check) {
  if (!check || check.limit === null) return `<td>${check ? num(check.value, 2) : "–"}</td><td class="muted">no limit</td><td></td>`;
  const u = check.utilisation ?? 0;
  const cls = check.breached ? "breach" : u > 0.8 ? "warn" : "";
  return `<td class="${check.breached ? "breach" : ""}">${num(check.value, 2)}</td><td>${num(check.limit, 2)}</td>` +
    `<td><span class="util ${cls}"><i style="width:${Math.min(100, 100 * u)}%"></i></span> <span class="${check.breached ? "breach" : ""}">${pct(u)}${check.breached ? " BREACH" : ""}</span></td>`;
}

function renderRisk(risk) {
  $("risk-as-of").textContent = `at ${risk.as_of.slice(11, 19)}`;
  let rows = "<tr><th>book</th><th>limit</th><th>value</th><th>limit value</th><th>utilisation</th></tr>";
  for (const u of risk.underlyings) {
    for (const c of u.checks) rows += `<tr data-check="${u.underlying}.${c.name}"><td>${u.underlying}${u.stale ? " (stale)" : ""}</td><td class="text">${c.name}</td>${utilCell(c)}</tr>`;
  }
  for (const c of risk.total.checks) rows += `<tr data-check="firm.${c.name}"><td>firm</td><td class="text">${c.name}</td>${utilCell(c)}</tr>`;
  $("risk-table").innerHTML = rows;
  let buckets = "<tr><th>underlying</th><th>bucket</th><th>dollar delta</th><th>dollar gamma / 1 %</th><th>vega / pt</th><th>theta / day</th><th>vega vs limit</th></tr>";
  for (const u of risk.underlyings) {
    for (const b of u.buckets) {
      const g = b.greeks;
      buckets += `<tr><td>${u.underlying}</td><td class="text">${b.bucket}</td><td>${money(g.dollar_delta)}</td><td>${money(g.dollar_gamma_per_pct)}</td><td>${money(g.vega_per_point)}</td><td>${money(g.theta_per_day)}</td><td>${pct(b.checks[0]?.utilisation)}</td></tr>`;
    }
  }
  $("bucket-table").innerHTML = buckets;
}

const PNL_PARTS = ["delta", "gamma", "vega", "vanna", "volga", "theta", "transaction_costs", "new_trades", "not_followed", "unexplained"];

function renderPnl(pnl) {
  const a = pnl.attribution;
  $("pnl-total").textContent = money(a.total);
  $("pnl-ledger").textContent = money(pnl.total_pnl);
  $("pnl-window").textContent = a.window_start ? `since ${a.window_start.replace("T", " ").slice(0, 19)}` : "";
  let rows = "<tr><th>source</th><th>firm</th>" + pnl.underlyings.map((u) => `<th>${u.underlying}</th>`).join("") + "</tr>";
  for (const part of [...PNL_PARTS, "total"]) {
    rows += `<tr data-part="${part}"><td>${part.replace("_", " ")}</td><td>${num(a[part], 2)}</td>` +
      pnl.underlyings.map((u) => `<td>${num(u.attribution[part], 2)}</td>`).join("") + "</tr>";
  }
  $("pnl-table").innerHTML = rows;
}

function renderStress(stress) {
  const select = $("stress-book");
  if (!stress) { $("stress-table").innerHTML = "<tr><td>no priced book yet</td></tr>"; return; }
  const books = ["firm", ...Object.keys(stress.underlyings)];
  if (select.options.length !== books.length) {
    const held = select.value;
    select.innerHTML = books.map((b) => `<option>${b}</option>`).join("");
    if (books.includes(held)) select.value = held;
  }
  const cells = select.value === "firm" || !select.value ? stress.firm : stress.underlyings[select.value];
  const figure = $("stress-figure").value;
  const grid = cells[figure];
  if (!grid) { $("stress-table").innerHTML = "<tr><td>not defined firm-wide (units do not add)</td></tr>"; return; }
  const worst = Math.max(1, ...grid.flat().map(Math.abs));
  let rows = "<tr><th>vol \\ spot</th>" + stress.spot_shocks.map((s) => `<th>${s > 0 ? "+" : ""}${(100 * s).toFixed(0)} %</th>`).join("") + "</tr>";
  grid.forEach((line, i) => {
    const v = stress.vol_shocks[i];
    rows += `<tr><td>${v > 0 ? "+" : ""}${v} pts</td>` + line.map((x) => {
      const a = Math.min(1, Math.abs(x) / worst) * 0.6;
      const colour = x < 0 ? `rgba(229,72,77,${a})` : `rgba(47,191,113,${a})`;
      return `<td style="background:${colour}">${money(x)}</td>`;
    }).join("") + "</tr>";
  });
  $("stress-table").innerHTML = rows;
}

function renderAgents(agents, params) {
  let rows = "<tr><th>service</th><th>leader</th><th>instances (role, state, heartbeat age, lag)</th><th>budget</th><th>last proposal</th><th>live parameters</th></tr>";
  for (const a of agents.agents) {
    const inst = a.instances.map((i) => `${esc(i.instance)}: ${i.role}, ${i.state}${i.alive ? "" : " (silent)"}, ${i.last_heartbeat_age_s.toFixed(1)} s, ${i.lag_ms.toFixed(0)} ms`).join("<br>");
    const budget = a.budget ? `${money(a.budget.left)} left of ${money(a.budget.allocated)} (spent ${money(a.budget.spent)})` : "";
    const p = a.last_proposal;
    const proposal = p ? `${esc(p.trigger)} ${p.underlying}, ${p.legs} legs, ${p.age_s.toFixed(0)} s ago: <span class="muted">${esc(p.reason)}</span>` : "";
    const live = params[a.service];
    const liveText = live ? `rev ${live.revision}: ${Object.keys(live.params).length ? esc(JSON.stringify(live.params)) : "environment settings"}` : "";
    rows += `<tr data-agent="${esc(a.service)}"><td>${esc(a.service)}</td><td>${esc(a.leader ?? "none")}</td><td class="text">${inst}</td><td>${budget}</td><td class="text">${proposal}</td><td class="text">${liveText}</td></tr>`;
  }
  const m = agents.manager;
  rows += `<tr><td>manager status</td><td colspan="5" class="text">${m.available ? esc(JSON.stringify({ trading_state: m.state.trading_state, epoch: m.state.epoch, role: m.state.role })) : `unavailable: ${esc(m.detail)}`}</td></tr>`;
  $("agents-table").innerHTML = rows;
}

function renderOrders(orders, fills, decisions) {
  $("orders-table").innerHTML = "<tr><th>created</th><th>order</th><th>instrument</th><th>side</th><th>qty</th><th>status</th><th>filled</th><th>avg</th></tr>" +
    orders.map((o) => `<tr><td>${o.created_at.slice(11, 19)}</td><td class="text">${esc(o.client_order_id.slice(0, 12))}</td><td class="text">${esc(o.instrument)}</td><td class="text">${o.side}</td><td>${o.quantity}</td><td class="text">${o.status ?? "pending"}${o.reason_code ? ` (${o.reason_code})` : ""}</td><td>${o.cum_quantity}</td><td>${num(o.avg_price, 2)}</td></tr>`).join("");
  $("fills-table").innerHTML = "<tr><th>at</th><th>instrument</th><th>side</th><th>qty</th><th>price</th><th>fees</th></tr>" +
    fills.map((f) => `<tr><td>${f.ts.slice(11, 19)}</td><td class="text">${esc(f.instrument)}</td><td class="text">${f.side}</td><td>${f.last_quantity}</td><td>${num(f.last_price, 2)}</td><td>${num(f.fees, 2)}</td></tr>`).join("");
  $("decisions-table").innerHTML = "<tr><th>at</th><th>agent</th><th>underlying</th><th>outcome</th><th>reason code</th><th>scale</th><th>detail</th></tr>" +
    decisions.map((d) => `<tr><td>${d.ts.slice(11, 19)}</td><td class="text">${esc(d.agent)}</td><td class="text">${d.underlying}</td><td class="text">${d.outcome}</td><td class="text">${d.reason_code ?? ""}</td><td>${num(d.scale_factor, 2)}</td><td class="text">${esc(d.detail)}</td></tr>`).join("");
}

function renderLimitChoices(limits) {
  const select = $("limit-select");
  const entries = [...limits.underlyings, ...(limits.firm ? [limits.firm] : [])];
  const names = entries.flatMap((e) => Object.keys(e.limits).map((l) => `${e.key}.${l}`));
  if (select.options.length !== names.length) {
    const held = select.value;
    select.innerHTML = names.map((n) => `<option>${n}</option>`).join("");
    if (names.includes(held)) select.value = held;
  }
  const [key, ...rest] = select.value.split(".");
  const entry = entries.find((e) => e.key === key);
  $("limit-current").textContent = entry ? num(entry.limits[rest.join(".")], 4) : "–";
}
$("stress-book").addEventListener("change", () => state.frame && renderStress(state.frame.stress));
$("stress-figure").addEventListener("change", () => state.frame && renderStress(state.frame.stress));
$("limit-select").addEventListener("change", () => state.frame && renderLimitChoices(state.frame.limits));
$("greek-select").addEventListener("change", () => drawCharts(true));

// -- charts (uPlot) ----------------------------------------------------------------------------

const COLOURS = ["#6cb6ff", "#f69d50", "#8ddb8c", "#dcbdfb", "#f47067", "#e0c97f", "#96d0ff", "#ff938a", "#b4f1b4", "#c6a0f6"];

function chart(id, series, data, yLabel) {
  const el = $(id);
  const width = Math.max(300, el.clientWidth || 500);
  const opts = {
    width, height: 220,
    scales: { x: { time: true } },
    axes: [{ stroke: "#8a96a3", grid: { stroke: "#2a3540" } }, { stroke: "#8a96a3", grid: { stroke: "#2a3540" }, label: yLabel, size: 70 }],
    series: [{}, ...series.map((s, i) => ({ label: s, stroke: COLOURS[i % COLOURS.length], width: 1.5, spanGaps: true }))],
    legend: { live: false },
  };
  if (state.charts[id]) state.charts[id].destroy();
  el.innerHTML = "";
  state.charts[id] = new uPlot(opts, data, el);
}

function seriesData(keys, pick) {
  const h = state.history;
  const x = h.map((s) => Date.parse(s.at) / 1000);
  return [x, ...keys.map((k) => h.map((s) => { const v = pick(s, k); return v === undefined ? null : v; }))];
}

function drawCharts(rebuild) {
  const h = state.history;
  if (!h.length) return;
  const last = h[h.length - 1];
  const unds = Object.keys(last.underlyings);
  const utilKeys = unds.flatMap((u) => Object.keys(last.underlyings[u].utilisation).map((c) => `${u}.${c}`));
  utilKeys.push(...Object.keys(last.firm).map((c) => `firm.${c}`));
  const greek = $("greek-select").value;
  const pnlKeys = ["total", ...PNL_PARTS, "ledger"];
  const specs = [
    ["chart-utilisation", utilKeys, (s, k) => {
      const [u, c] = k.split(/\.(.+)/);
      const v = u === "firm" ? s.firm[c] : s.underlyings[u]?.utilisation[c];
      return v === null || v === undefined ? null : 100 * v;
    }, "% of limit"],
    ["chart-greeks", unds, (s, k) => s.underlyings[k]?.[greek], greek.replaceAll("_", " ")],
    ["chart-pnl", pnlKeys, (s, k) => s.pnl[k], "currency"],
  ];
  for (const [id, keys, pick, label] of specs) {
    const data = seriesData(keys, pick);
    const existing = state.charts[id];
    if (rebuild || !existing || existing.series.length !== keys.length + 1) chart(id, keys, data, label);
    else existing.setData(data);
  }
}

// -- controls ----------------------------------------------------------------------------------

function confirmThen(text, action) {
  const dialog = $("confirm");
  $("confirm-text").textContent = text;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "ok") return;
    $("action-result").className = "muted";
    $("action-result").textContent = "sending…";
    await action();
  };
  dialog.showModal();
}

function report(result, what) {
  const el = $("action-result");
  el.className = result.ok ? "ok" : "error";
  el.textContent = result.ok ? `${what}: done` : `${what}: ${result.status} ${result.data?.error ?? ""} ${result.data?.message ?? ""}`;
}

for (const [id, action] of [["btn-halt", "halt"], ["btn-resume", "resume"], ["btn-reduce", "reduce-only"]]) {
  $(id).addEventListener("click", () => {
    const reason = $("control-reason").value || `${action} from the control room`;
    confirmThen(`${action.toUpperCase()} the desk? (${reason})`, async () =>
      report(await api("POST", `/v1/control/${action}`, { reason }), action));
  });
}

$("limit-apply").addEventListener("click", () => {
  const name = $("limit-select").value;
  const value = Number($("limit-value").value);
  if (!name || $("limit-value").value === "" || !Number.isFinite(value)) { report({ ok: false, status: "", data: { message: "enter a number" } }, "limit"); return; }
  const [key] = name.split(".");
  const entries = [...state.frame.limits.underlyings, ...(state.frame.limits.firm ? [state.frame.limits.firm] : [])];
  const revision = entries.find((e) => e.key === key)?.revision;
  confirmThen(`Change ${name} from ${$("limit-current").textContent} to ${value}?`, async () =>
    report(await api("PUT", `/v1/limits/${name}`, { value, revision }), `limit ${name}`));
});

function agentChange(change, text) {
  const agent = $("agent-select").value;
  const revision = state.frame?.params?.[agent]?.revision;
  confirmThen(`${text} ${agent}?`, async () =>
    report(await api("PUT", `/v1/agents/${agent}/params`, { ...change, revision }), `${agent} parameters`));
}
$("agent-disable").addEventListener("click", () => agentChange({ enabled: false }, "Disable"));
$("agent-enable").addEventListener("click", () => agentChange({ enabled: true }, "Enable"));
$("agent-apply").addEventListener("click", () => {
  const change = {};
  for (const [id, field] of [["agent-band", "band_fraction"], ["agent-target", "target_fraction"], ["agent-move", "price_move"], ["agent-timer", "timer_interval_s"]]) {
    if ($(id).value !== "") change[field] = Number($(id).value);
  }
  if (!Object.keys(change).length) { report({ ok: false, status: "", data: { message: "enter a value" } }, "parameters"); return; }
  agentChange(change, `Set ${JSON.stringify(change)} on`);
});

// -- start -------------------------------------------------------------------------------------

(async () => {
  const who = await api("GET", "/v1/session");
  if (who.ok) signedIn(who.data); else showSignIn("");
})();
