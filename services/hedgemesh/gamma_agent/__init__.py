"""The gamma-agent: `python -m hedgemesh.gamma_agent` (two replicas, lease `gamma-agent`).

Recomputes the book's gamma and delta per underlying on every tick (`BookState`, one
vectorised pass) and, when gamma leaves its band or a price-move or timer trigger fires,
proposes shorter-dated near-the-money option legs (the cheapest gamma per unit of expected
cost) on `hedge.v1.proposal.gamma-agent`.

- `config`: `GammaAgentSettings` (`HEDGEMESH_GAMMA_AGENT_*`);
- `domain`: `GammaSpecialist`, the band test and the plan (pure);
- `bootstrap`: `build()`, the service. The shared machinery is `hedgemesh.agentkit`.
"""
