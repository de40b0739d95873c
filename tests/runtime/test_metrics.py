"""Prometheus metrics: names with units, one metric per name, the `service` label, and a
service's `/metrics` port scraped over HTTP and parsed while it handles real NATS messages."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hedgemesh.runtime import metrics
from hedgemesh.runtime.bus import Envelope
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.wire import subjects
from hedgemesh.wire.ops import Heartbeat

pytestmark = pytest.mark.timeout(30)


def scrape(text: str) -> dict[str, list]:
    """Samples by metric name, from Prometheus' text format."""
    samples: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


@pytest.mark.parametrize("bad", ["Latency", "order_latency", "orders__total", "x_seconds_"])
def test_given_a_name_without_a_unit_or_not_snake_case_then_it_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unit"):
        metrics.counter(bad, "no")


def test_given_the_same_name_twice_then_one_metric_and_another_kind_is_refused() -> None:
    first = metrics.counter("probe_things_total", "Things.", ["what"])
    again = metrics.counter("probe_things_total", "Things.", ["what"])
    assert again.metric is first.metric
    with pytest.raises(ValueError, match="already"):
        metrics.gauge("probe_things_total", "Things.")
    metrics.set_service("probe-service")
    first.labels(what="a").inc(3)
    samples = scrape(metrics.render().decode())["hedgemesh_probe_things_total"]
    assert any(
        s.labels == {"service": "probe-service", "what": "a"} and s.value == 3 for s in samples
    )


async def test_given_a_service_with_a_metrics_port_then_its_metrics_are_scraped_and_parsed(
    nats_server, eventually
) -> None:
    settings = RuntimeSettings(instance="m1", heartbeat_interval_s=0.05, metrics_port=0)
    service = Service("probe", settings=settings, nats=NatsSettings(url=nats_server.url))
    seen: list[Heartbeat] = []

    class Listener:
        async def start(self, svc: Service) -> None:
            async def on_beat(beat: Heartbeat, _: Envelope) -> None:
                seen.append(beat)

            await svc.bus.subscribe(subjects.ALL_HEARTBEATS, Heartbeat, on_beat)

        async def stop(self) -> None:
            return None

    service.components.append(Listener())
    await service.start()
    try:
        assert service.metrics_server is not None and service.metrics_server.port > 0
        await eventually(lambda: len(seen) >= 3, timeout=10)
        url = f"http://127.0.0.1:{service.metrics_server.port}/metrics"
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(url)
        assert response.status_code == 200
        samples = scrape(response.text)
        handled = [
            s
            for s in samples["hedgemesh_messages_total"]
            if s.labels == {"service": "probe", "kind": "heartbeat"}
        ]
        assert handled and handled[0].value >= 3
        # A latency histogram with sub-millisecond buckets, in seconds.
        buckets = [
            s
            for s in samples["hedgemesh_handler_seconds_bucket"]
            if s.labels["kind"] == "heartbeat"
        ]
        assert {"0.0001", "0.0005", "+Inf"} <= {s.labels["le"] for s in buckets}
        assert "hedgemesh_lag_seconds" in samples
    finally:
        await service.stop()
    assert service.metrics_server is None
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient(timeout=1) as client:
            await client.get(url)
    await asyncio.sleep(0)
