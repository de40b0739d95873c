"""The vega-agent: `python -m hedgemesh.vega_agent` (two replicas, lease `vega-agent`).

Vega per expiry bucket of every underlying (`BookState`, one vectorised pass); when a bucket
or the total leaves its band, or a price-move or timer trigger fires, proposes longer-dated
near-the-money option legs in the buckets that need them (the cheapest vega per unit of
expected cost), with the gamma they bring, on `hedge.v1.proposal.vega-agent`.

- `config`: `VegaAgentSettings` (`HEDGEMESH_VEGA_AGENT_*`);
- `domain`: `VegaSpecialist`, the band test and the plan (pure);
- `bootstrap`: `build()`, the service. The shared machinery is `hedgemesh.agentkit`.
"""
