"""The manager: nets the agents' proposals, enforces limits and budgets, routes orders.

- `domain`: pure decision logic — `gather` (a cycle's proposals), `solve` (the joint LP),
  `engine` (a decision per proposal, orders), `limits`, `budgets`, `trading`, `inflight`;
- `adapters`: the NATS component (leadership, control, KV, outbox) and the store;
- `config`, `bootstrap`, `__main__`: `python -m hedgemesh.manager`.

See docs/manager.md.
"""
