"""`python -m hedgemesh.gamma_agent [--scenario FILE]`: one gamma-agent replica, until SIGTERM."""

from hedgemesh.agentkit.bootstrap import run_agent
from hedgemesh.gamma_agent.bootstrap import build
from hedgemesh.gamma_agent.config import GammaAgentSettings

if __name__ == "__main__":
    run_agent("hedgemesh.gamma_agent", GammaAgentSettings, build)
