"""The NATS runtime: the one library that imports `nats`.

- `server`: a local nats-server process (`NatsServer`); `nats_cluster`: several joined by routes
  with clustered JetStream (`NatsCluster`);
- `connection`: service-grade connections (`NatsSettings`, `connect`, `drain`);
- `bus`: typed publish/subscribe with dead-lettering, request/reply (`Bus`, `Envelope`);
- `streams`: every stream, bucket and durable consumer (`ensure_streams`, `DurableConsumer`);
- `kv`: typed KV with compare-and-set (`TypedKV`); `lease`: leadership with a fencing epoch;
- `clock`: injected time (`LiveClock`, `SteppedClock`, `AcceleratedClock`), no NATS needed;
- `service`: the runner every service's `__main__` calls (`Service`, `run_service`).

Names are imported lazily, so `hedgemesh.runtime.clock` alone does not load nats-py.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "NatsServer": "server",
    "NatsCluster": "nats_cluster",
    "NatsSettings": "connection",
    "connect": "connection",
    "drain": "connection",
    "Bus": "bus",
    "BusStats": "bus",
    "Envelope": "bus",
    "Outcome": "bus",
    "PublishAck": "bus",
    "DurableConsumer": "streams",
    "ensure_streams": "streams",
    "STREAMS": "streams",
    "BUCKETS": "streams",
    "TypedKV": "kv",
    "Versioned": "kv",
    "Lease": "lease",
    "LeaseRecord": "lease",
    "Clock": "clock",
    "LiveClock": "clock",
    "SteppedClock": "clock",
    "AcceleratedClock": "clock",
    "Service": "service",
    "Component": "service",
    "Health": "service",
    "RuntimeSettings": "service",
    "run_service": "service",
    "Rejected": "errors",
    "NatsUnavailable": "errors",
    "NoResponders": "errors",
    "JetStreamRefused": "errors",
    "CasConflict": "errors",
    "CorruptValue": "errors",
    "NatsServerError": "errors",
    "PortInUse": "errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
