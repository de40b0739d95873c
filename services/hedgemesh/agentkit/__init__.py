"""What the specialist agents (gamma-agent, vega-agent) share: a `BookState` fed over NATS,
the desk's live limits and trading state, the triggers, the gates (stale data, HALTED,
REDUCING, one proposal in flight), the listed options to choose from, proposal building, and
leadership (only the leader publishes; standbys compute the same cycles).

- `config`: `AgentSettings` (bands as fractions of the live limits, triggers, choice of
  options, timings), subclassed by each agent with its env prefix;
- `domain`: `core` (`AgentCore.evaluate`, one pure hedge cycle, and the `Specialist` protocol
  each agent implements: its band test and its plan), `rules` (`AgentRules`, its plain
  parameters), `chain` (the listed options of an underlying, priced on the book's market),
  `depth` (what recent hedges took from the books);
- `adapters`: `component`, the NATS adapter (subscriptions, KV polling, snapshot requests,
  timer, publishing);
- `bootstrap`: `build_agent(specialist, settings)`, the service with its lease.

Decision rules and the cost model: docs/agents.md.
"""
