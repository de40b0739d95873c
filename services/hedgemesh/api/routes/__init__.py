"""The endpoints, one module per resource; `ROUTERS` lists them for `create_app`."""

from hedgemesh.api.routes import (
    agents,
    audit,
    book,
    control,
    decisions,
    health,
    limits,
    orders,
    params,
    pnl,
)

ROUTERS = (
    book.router,
    limits.router,
    orders.router,
    decisions.router,
    agents.router,
    params.router,
    pnl.router,
    control.router,
    audit.router,
    health.router,
)
