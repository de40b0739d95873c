"""`python -m hedgemesh.vega_agent [--scenario FILE]`: one vega-agent replica, until SIGTERM."""

from hedgemesh.agentkit.bootstrap import run_agent
from hedgemesh.vega_agent.bootstrap import build
from hedgemesh.vega_agent.config import VegaAgentSettings

if __name__ == "__main__":
    run_agent("hedgemesh.vega_agent", VegaAgentSettings, build)
