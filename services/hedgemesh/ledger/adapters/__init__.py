"""The ledger's adapters: `component` (JetStream consumers of trades and fills, the store, the
snapshots it publishes and answers)."""
