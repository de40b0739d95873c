"""Execution's domain, no I/O: the engine over the simulated venue, fair values, reports."""
