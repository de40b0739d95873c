"""Control of the feed on `hedge.v1.control.marketdata`: pause and resume one underlying's ticks
and surfaces (a feed outage on demand, for the stale-data circuit breaker and drills).

- `halt` (param `underlying`, optional: every underlying without it): stop publishing its ticks
  and surfaces;
- `resume` (the same param): publish them again, from the market's present;
- `status`: the paused underlyings and the publisher's counters.

The market goes on while an underlying is paused (its path, the chain, client trades); resuming
publishes the current tick, as a feed coming back would. Refusals: `UNSUPPORTED_ACTION`,
`UNKNOWN_UNDERLYING`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from hedgemesh.runtime import Clock, Rejected
from hedgemesh.runtime.bus import Envelope
from hedgemesh.wire.ops import ControlAction, ControlCommand, ControlReply

if TYPE_CHECKING:
    from hedgemesh.marketdata.publisher import MarketDataPublisher

CONTROL_TARGET = "marketdata"


class FeedControl:
    """Answers control commands for the publisher's feed."""

    def __init__(self, publisher: MarketDataPublisher, clock: Clock) -> None:
        self.publisher = publisher
        self.clock = clock

    async def handle(self, command: ControlCommand, envelope: Envelope) -> ControlReply:
        publisher = self.publisher
        if command.action in (ControlAction.HALT, ControlAction.RESUME):
            underlyings = self._underlyings(command)
            if command.action is ControlAction.HALT:
                publisher.paused |= underlyings
            else:
                publisher.paused -= underlyings
        elif command.action is not ControlAction.STATUS:
            detail = f"marketdata answers halt, resume and status, not {command.action}"
            raise Rejected("UNSUPPORTED_ACTION", detail)
        return ControlReply(
            command_id=command.id,
            target=CONTROL_TARGET,
            ok=True,
            state={"paused": sorted(publisher.paused), **asdict(publisher.stats)},
            ts=self.clock.now(),
        )

    def _underlyings(self, command: ControlCommand) -> set[str]:
        symbols = set(self.publisher.scenario.symbols)
        underlying = command.params.get("underlying")
        if underlying is None:
            return symbols
        if underlying not in symbols:
            raise Rejected("UNKNOWN_UNDERLYING", f"{underlying!r} is not one of {sorted(symbols)}")
        return {str(underlying)}
