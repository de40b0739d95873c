"""Marketdata's domain is the market library's `hedgemesh.market.session.MarketSession` (the
scenario's paths, surfaces, listed chain, events and client flow, pure, one batch per time
step): the same session the backtest lab and the tests drive. Nothing here adds to it; the
service only paces and publishes it (`adapters.component`)."""

from hedgemesh.market.session import Batch, MarketSession

__all__ = ["Batch", "MarketSession"]
