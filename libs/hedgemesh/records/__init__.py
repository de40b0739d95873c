"""Records: what the services' domains produce and the store keeps, as plain frozen dataclasses.

They sit below the domain code and below the store, so that a domain can build and read them
without SQLAlchemy: `decisions` (the manager's cycles, decisions, budget periods), `ledger`
(booked events, positions, accounts), `execution` (stored orders, switches). The store maps
them to its tables (`hedgemesh.store.*` re-exports them where its callers always found them).
"""
