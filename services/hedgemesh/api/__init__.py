"""The REST API (`python -m hedgemesh.api`): the desk's positions, risk, limits, orders, fills,
decisions, agents and P&L as JSON, and its controls (halt, resume, reduce-only).

- `config`: `ApiSettings` (`HEDGEMESH_API_*`);
- `app`: `create_app(settings)`, the FastAPI application and its lifespan;
- `readmodel`: what the API follows over NATS, in memory, with responses encoded once per change;
- `pnl`: P&L attribution followed incrementally (`hedgemesh.quant.attribution`);
- `feed`: the NATS subscriptions and KV polls that feed the read model;
- `desk`: the ports to the manager (control) and to KV `limits`; `records`: the stores read
  (execution's orders and fills, the manager's decisions);
- `fastpath`: cached GETs answered before routing; `routes`: the endpoints.

See docs/api.md.
"""
