"""The gamma-agent's decision (`specialist.GammaSpecialist`): its band test and its plan, pure.
Everything around it is the agents' shared kit (`hedgemesh.agentkit`)."""

from hedgemesh.gamma_agent.domain.specialist import GammaSpecialist

__all__ = ["GammaSpecialist"]
