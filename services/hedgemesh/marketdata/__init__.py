"""The marketdata service: `python -m hedgemesh.marketdata [--scenario FILE]`.

Runs a scenario (`hedgemesh.scenario`) on the injected clock through `hedgemesh.market`:
publishes each underlying's `Surface` and `Tick` on `hedge.v1.md.surface.<UND>` and
`hedge.v1.md.tick.<UND>` at the scenario's tick times, the book's initial positions as
`ClientTrade`s on the JetStream subject `hedge.v1.book.trade` (`Nats-Msg-Id` = trade id) at
start, and the scenario's Poisson client flow on the same subject.

- `config`: settings (`HEDGEMESH_MARKETDATA_*`, `HEDGEMESH_SCENARIO`);
- `domain`: the market library's `MarketSession` (pure);
- `adapters`: `component`, which paces the session on the clock and publishes, and `control`;
- `bootstrap`: builds the service from settings (tests pass a clock and NATS settings).
"""
