"""Execution's adapters: the NATS component around the engine, and the store-then-publish
outbox."""
