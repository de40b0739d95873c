"""The REST API (`python -m hedgemesh.api`): the desk's positions, risk, limits, orders, fills,
decisions, agents and P&L as JSON, and its controls (halt, resume, reduce-only).

- `config`: `ApiSettings` (`HEDGEMESH_API_*`); `bootstrap`: the production wiring;
- `app`: `create_app(settings)`, the FastAPI application and its lifespan; `context`, `deps`,
  `errors`: what the routes work with; `fastpath`: cached GETs answered before routing;
  `routes`: the endpoints;
- `domain`: `readmodel` (what the API follows over NATS, in memory, with responses encoded once
  per change), `pnl` (P&L attribution followed incrementally), `render`, `views`;
- `adapters`: `feed` (the NATS subscriptions and KV polls that feed the read model), `desk`
  (the ports to the manager and to KV), `cas`, `records` (the stores read);
- `security`: `auth`, `gate`, `ratelimit`, `audit`.

See docs/api.md.
"""
