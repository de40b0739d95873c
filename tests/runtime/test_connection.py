"""Service-grade connections: settings from the environment, waiting for NATS, draining."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hedgemesh.runtime.connection import NatsSettings, connect, drain
from hedgemesh.runtime.server import NatsServer

pytestmark = pytest.mark.timeout(20)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_given_environment_variables_then_the_settings_read_them(monkeypatch, tmp_path):
    monkeypatch.setenv("HEDGEMESH_NATS_URL", "nats://a:4222, nats://b:4222")
    monkeypatch.setenv("HEDGEMESH_NATS_CREDS_FILE", str(tmp_path / "user.creds"))
    monkeypatch.setenv("HEDGEMESH_NATS_PING_INTERVAL_S", "2")
    settings = NatsSettings()
    assert settings.servers == ["nats://a:4222", "nats://b:4222"]
    assert settings.creds_file == tmp_path / "user.creds"
    assert settings.ping_interval_s == 2.0
    assert settings.reconnect_wait_s == 0.25


async def test_given_a_client_connected_then_it_reconnects_forever_and_pings_every_second(
    nats_server,
):
    nc = await connect(NatsSettings(url=nats_server.url, name="probe"), initial_timeout_s=5.0)
    try:
        assert nc.is_connected
        assert nc.options["max_reconnect_attempts"] == -1
        assert nc.options["ping_interval"] == 1.0
        assert nc.options["allow_reconnect"]
    finally:
        await drain(nc)
    assert nc.is_closed
    await drain(nc)  # draining a closed connection is a no-op


async def test_given_nats_starts_after_the_service_then_the_first_connect_waits_for_it(tmp_path):
    port = _free_port()
    settings = NatsSettings(url=f"nats://127.0.0.1:{port}", name="early")
    connecting = asyncio.create_task(connect(settings, initial_timeout_s=10.0))
    await asyncio.sleep(0.3)  # a few refused attempts first
    assert not connecting.done()
    with NatsServer(port=port, store_dir=tmp_path):
        nc = await asyncio.wait_for(connecting, 10.0)
        assert nc.is_connected
        await drain(nc)


async def test_given_no_nats_then_the_first_connect_gives_up_after_its_timeout():
    settings = NatsSettings(url=f"nats://127.0.0.1:{_free_port()}", name="lonely")
    with pytest.raises(TimeoutError):
        await connect(settings, initial_timeout_s=0.3)


async def test_given_a_url_with_a_password_then_the_connected_line_names_only_the_host(
    tmp_path, caplog
):
    config = tmp_path / "auth.conf"
    config.write_text('authorization { user: "admin", password: "s3cret-pw" }\n')
    with NatsServer(store_dir=tmp_path / "js", config_file=config) as server:
        url = server.url.replace("nats://", "nats://admin:s3cret-pw@")
        with caplog.at_level("INFO", logger="hedgemesh.runtime.connection"):
            nc = await connect(NatsSettings(url=url, name="status"), initial_timeout_s=5.0)
            await drain(nc)
    assert f"connected to {server.url.removeprefix('nats://')}" in caplog.text
    assert "s3cret-pw" not in caplog.text
