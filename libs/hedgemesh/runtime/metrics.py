"""Prometheus metrics: the one registry of a process, how metrics are named and declared, and
the small HTTP port that serves them for services without an HTTP API of their own.

Names read `hedgemesh_<thing>_<unit>[_total]` (`hedgemesh_order_to_fill_seconds`,
`hedgemesh_dead_letters_total`); every metric carries a `service` label (the process's
service name, set once by `set_service`) so that one dashboard reads every replica alike.
Adding a metric is one line where it is counted:

    DENIALS = metrics.counter("pretrade_denials_total", "Orders refused before the book.", ["code"])
    DENIALS.labels(code=reason.value).inc()

`counter`, `histogram` and `gauge` return the metric already declared under the same name
(so a module imported twice, or a test building a service twice, shares it). Latency
histograms are in seconds with sub-millisecond buckets (`LATENCY_BUCKETS`).

`serve(port, host)` starts `/metrics` on a daemon thread (prometheus-client's server); the
api serves the same registry on its own port (`GET /metrics`). `render()` is the text format.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

__all__ = [
    "CONTENT_TYPE",
    "LATENCY_BUCKETS",
    "REGISTRY",
    "MetricsServer",
    "counter",
    "gauge",
    "histogram",
    "render",
    "serve",
    "service_label",
    "set_service",
]

#: The registry of this process (not prometheus-client's global one: nothing else lands in it).
REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Seconds: 50 µs to 10 s, sub-millisecond steps at the fast end.
LATENCY_BUCKETS: tuple[float, ...] = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0025, 0.005, 0.0075, 0.01,
    0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_NAME = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)+$")
_UNITS = ("_seconds", "_total", "_ratio", "_bytes", "_currency", "_count", "_messages", "_info")
_declared: dict[str, Any] = {}
_lock = threading.Lock()
_service = ["unknown"]

M = TypeVar("M", Counter, Gauge, Histogram)


def set_service(name: str) -> None:
    """The `service` label of every metric this process reports (its service's name)."""
    _service[0] = name


def service_label() -> str:
    return _service[0]


def _declare(kind: type[M], name: str, doc: str, labels: Sequence[str], **extra: Any) -> M:
    if not _NAME.match(name) or not name.endswith(_UNITS):
        raise ValueError(
            f"metric {name!r}: lower-case words joined by _, ending in a unit ({', '.join(_UNITS)})"
        )
    full = f"hedgemesh_{name}"
    with _lock:
        held = _declared.get(full)
        if held is not None:
            if not isinstance(held, kind):
                raise ValueError(f"metric {full} is already a {type(held).__name__}")
            return held
        metric = kind(
            full.removesuffix("_total") if kind is Counter else full,
            doc,
            ["service", *labels],
            registry=REGISTRY,
            **extra,
        )
        _declared[full] = metric
        return metric


class _Bound:
    """A metric with the process's `service` label filled in: `.labels(...)` takes the rest."""

    def __init__(self, metric: Any) -> None:
        self.metric = metric

    def labels(self, **labels: str) -> Any:
        return self.metric.labels(service=_service[0], **labels)

    def __getattr__(self, name: str) -> Any:  # inc, set, observe without other labels
        return getattr(self.metric.labels(service=_service[0]), name)


def counter(name: str, doc: str, labels: Sequence[str] = ()) -> Any:
    """A counter `hedgemesh_<name>` (name ends in `_total`)."""
    return _Bound(_declare(Counter, name, doc, labels))


def gauge(name: str, doc: str, labels: Sequence[str] = ()) -> Any:
    return _Bound(_declare(Gauge, name, doc, labels))


def histogram(
    name: str, doc: str, labels: Sequence[str] = (), buckets: Sequence[float] = LATENCY_BUCKETS
) -> Any:
    """A histogram `hedgemesh_<name>` (latencies: `_seconds`, `LATENCY_BUCKETS`)."""
    return _Bound(_declare(Histogram, name, doc, labels, buckets=tuple(buckets)))


def render() -> bytes:
    """Every metric of this process in Prometheus' text format."""
    return generate_latest(REGISTRY)


class MetricsServer:
    """`/metrics` on `host:port` in a daemon thread; `port` is the one bound (0 asks any)."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=REGISTRY)
        self.port = int(self._server.server_address[1])
        self.host = host

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(port: int, host: str = "127.0.0.1") -> MetricsServer:
    return MetricsServer(port, host)
