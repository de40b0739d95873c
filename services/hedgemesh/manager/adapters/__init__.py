"""The manager's adapters: the NATS component (`component`) and its control commands
(`control`); the store is `hedgemesh.store.decisions`."""
