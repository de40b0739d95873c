"""The container health check reads the file a service touches after each heartbeat."""

from __future__ import annotations

import os

from hedgemesh.runtime.healthcheck import check, main
from hedgemesh.runtime.service import RuntimeSettings, Service


def test_given_fresh_file_then_healthy(tmp_path) -> None:
    path = tmp_path / "health"
    path.write_text("ledger ledger ready\n")
    assert check(path, 10.0)[0]
    assert main([str(path)]) == 0


def test_given_stale_or_missing_or_stopping_then_unhealthy(tmp_path) -> None:
    path = tmp_path / "health"
    assert not check(path, 10.0)[0]
    path.write_text("ledger ledger ready\n")
    old = path.stat().st_mtime - 60
    os.utime(path, (old, old))
    healthy, why = check(path, 10.0)
    assert not healthy and "limit" in why
    path.write_text("ledger ledger stopping\n")
    assert check(path, 10.0) == (False, "stopping")
    assert main([str(path)]) == 1


async def test_given_health_file_setting_then_service_touches_it_on_heartbeat(
    tmp_path, nats_server, eventually
) -> None:
    from hedgemesh.runtime.connection import NatsSettings

    path = tmp_path / "h" / "health"
    settings = RuntimeSettings(instance="probe-1", heartbeat_interval_s=0.1, health_file=path)
    service = Service("probe", settings=settings, nats=NatsSettings(url=nats_server.url))
    await service.start()
    try:
        await eventually(path.exists, timeout=5)
        assert check(path, 5.0)[0]
    finally:
        await service.stop()
