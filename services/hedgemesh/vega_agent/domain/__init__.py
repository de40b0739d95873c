"""The vega-agent's decision (`specialist.VegaSpecialist`): its band test and its plan, pure.
Everything around it is the agents' shared kit (`hedgemesh.agentkit`)."""

from hedgemesh.vega_agent.domain.specialist import VegaSpecialist

__all__ = ["VegaSpecialist"]
