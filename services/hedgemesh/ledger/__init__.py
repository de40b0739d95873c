"""The ledger service: turns client trades and fills into positions, cash and P&L.

- `domain`: the arithmetic (average cost, realised and unrealised P&L, fees), pure; marks from
  `hedgemesh.market.view.MarketView` (fair values from the last tick and surface);
- `adapters`: the NATS and database side (`LedgerComponent`);
- `config`, `bootstrap`, `__main__`: `python -m hedgemesh.ledger`.

Books each trade (`HEDGE_TRADES`) and fill (`HEDGE_EXEC`) once, in one database transaction,
acknowledged after the commit; publishes a `PositionSnapshot` per underlying on
`hedge.v1.positions.<UND>` after bookings (coalesced: `adapters/pacer.py`) and every
`snapshot_interval_s` real seconds, and answers
`PositionSnapshotRequest` on `hedge.v1.ledger.snapshot`.
"""
