"""The store: SQLAlchemy models and repositories (SQLite by default, PostgreSQL by URL).

- `db`: `StoreSettings` (`HEDGEMESH_DATABASE_URL`), `make_engine`, `session_factory`, and
  `migrate`, which runs the Alembic migrations (the only way the schema is made);
- `models`: the tables;
- `execution`: `ExecutionRepository`, orders and reports, idempotent by client order id and
  exec id, with an outbox of reports not yet published;
- `ledger`: `LedgerRepository`, booked trades and fills, positions and accounts;
- `decisions`: `DecisionRepository`, the manager's decided cycles, a decision per proposal,
  routed orders (outboxes) and the agents' budget periods.
- `audit`: `AuditRepository`, the API's trail of mutating REST calls (who, what, before, after,
  when, outcome).

No NATS here: services hand it wire models and records (`hedgemesh.records`: the plain
dataclasses their domains make), it hands back the same.
"""
