"""The API's ports: `feed` (NATS subscriptions and KV polls into the read model), `desk`
(control commands to the manager, KV `limits` and `agent_params`), `cas` (compare-and-set of a
KV entry), `records` (the stores read: orders, fills, decisions, the audit trail)."""
