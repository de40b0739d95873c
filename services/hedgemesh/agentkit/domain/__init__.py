"""What every specialist agent decides with, pure: `core` (`AgentCore.evaluate`, one hedge
cycle, and the `Specialist` protocol), `rules` (its plain parameters), `chain` (the listed
options it chooses from), `depth` (what its recent hedges took from the books)."""
