"""Marketdata's adapters: `component` (the session paced on the service's clock, published:
ticks and surfaces on core NATS, client trades on JetStream) and `control` (pause and resume a
feed, through a narrow `FeedPort`)."""
