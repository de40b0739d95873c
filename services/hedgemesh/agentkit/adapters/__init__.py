"""The agents' adapter, shared by every specialist: `component` (NATS in, proposals out)."""
