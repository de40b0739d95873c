"""TLS for NATS clients, by settings, against a nats-server that requires it, with a certificate
authority made in the test: trusted, the connection works; untrusted or plain, it fails."""

from __future__ import annotations

import json

import pytest

from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.errors import NatsUnavailable
from hedgemesh.runtime.server import NatsServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def tls_server(tmp_path, tls_files):
    config = tmp_path / "tls.conf"
    config.write_text(
        "tls {\n"
        f"  cert_file: {json.dumps(str(tls_files.cert))}\n"
        f"  key_file: {json.dumps(str(tls_files.key))}\n"
        "  timeout: 2\n"
        "}\n"
    )
    with NatsServer(store_dir=tmp_path / "nats", config_file=config) as server:
        yield server


async def test_given_the_ca_then_a_tls_connection_carries_requests(tls_server, tls_files):
    url = tls_server.url.replace("nats://", "tls://")
    settings = NatsSettings(url=url, tls_ca_file=tls_files.ca, name="tls-client")
    nc = await connect(settings, initial_timeout_s=5.0)
    try:
        assert nc.is_connected and nc.connected_url.scheme == "tls"

        async def pong(msg) -> None:
            await msg.respond(b"pong")

        sub = await nc.subscribe("probe", cb=pong)
        assert (await nc.request("probe", b"ping", timeout=2)).data == b"pong"
        await sub.unsubscribe()
    finally:
        await nc.close()


@pytest.mark.parametrize("how", ["plain", "untrusted"])
async def test_given_no_or_the_wrong_trust_then_the_connection_fails(tls_server, how):
    url = tls_server.url if how == "plain" else tls_server.url.replace("nats://", "tls://")
    settings = NatsSettings(url=url, name="tls-refused", connect_timeout_s=1.0)
    with pytest.raises((TimeoutError, NatsUnavailable, OSError)):
        nc = await connect(settings, initial_timeout_s=3.0)
        await nc.close()


def test_given_no_tls_setting_then_no_context_and_a_tls_url_verifies() -> None:
    assert NatsSettings(url="nats://127.0.0.1:4222").tls_context() is None
    context = NatsSettings(url="tls://127.0.0.1:4222").tls_context()
    assert context is not None and context.check_hostname
