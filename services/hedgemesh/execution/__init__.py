"""The execution service: a simulated venue that works the manager's orders.

- `domain`: the engine (books per instrument quoted by synthetic liquidity providers around
  fair value, an algorithm per order, the epoch fence) and its reports, pure;
- `adapters`: the NATS component and the store-then-publish outbox;
- `config`, `bootstrap`, `__main__`: `python -m hedgemesh.execution`.

Consumes `Order`s from `HEDGE_ORDERS` (durable, acknowledged once stored), publishes every state
change as an `ExecutionReport` on `hedge.v1.exec.<UND>` (`Nats-Msg-Id` = exec id, stored
before it is published), re-quotes on `Tick`s and `Surface`s, and after any restart (kill -9
included) resumes every working order from its store. See docs/execution.md.
"""
