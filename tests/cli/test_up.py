"""`hedgemesh up` as a user runs it: a real process, a real nats-server, Ctrl-C to stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_harness import Launcher

from hedgemesh.cli import up
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.streams import BUCKETS, STREAMS

READY = "hedgemesh: NATS ready at "


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    started = Launcher("--nats-port", "0", home=tmp_path / "var")
    yield started
    if started.proc.poll() is None:
        started.proc.kill()
        started.proc.wait()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_given_up_then_nats_runs_with_every_stream_and_stops_cleanly_on_ctrl_c(
    launcher: Launcher, tmp_path: Path
) -> None:
    url = launcher.wait_for_line(READY)[len(READY) :].split()[0]
    launcher.wait_for_line("hedgemesh: running")
    cluster = json.loads((tmp_path / "var" / "cluster.json").read_text())
    assert cluster["nats_url"] == url

    nc = await connect(NatsSettings(url=url, name="probe"), initial_timeout_s=5.0)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            assert (await js.stream_info(spec.name)).config.name == spec.name
        for bucket in BUCKETS:
            assert (await (await js.key_value(bucket.name)).status()).bucket == bucket.name
    finally:
        await nc.close()
    with urllib.request.urlopen(f"{cluster['nats_monitor_url']}/varz", timeout=5) as response:
        assert json.load(response)["jetstream"]["config"]["sync_always"] is True

    assert launcher.stop(signal.SIGINT) == 0
    assert not (tmp_path / "var" / "cluster.json").exists()
    assert not _pid_alive(cluster["nats_pid"])


def test_given_requested_port_is_busy_then_up_names_it_and_exits(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        launcher = Launcher("--nats-port", str(busy), home=tmp_path / "var")
        assert launcher.proc.wait(15) == 1
        launcher.wait_for_line("hedgemesh: ")
        output = " ".join(launcher.seen + list(launcher.lines.queue))
    assert str(busy) in output
    assert "HEDGEMESH_NATS_PORT" in output


def test_given_default_port_taken_then_a_free_port_is_chosen_and_said(monkeypatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        monkeypatch.setattr(up, "DEFAULT_NATS_PORT", holder.getsockname()[1])
        choice = up.choose_nats_port(None)
    assert choice.port == 0
    assert "is taken" in choice.note and "HEDGEMESH_NATS_PORT" in choice.note


def test_given_explicit_port_then_it_is_used_as_is() -> None:
    assert up.choose_nats_port(4333) == up.PortChoice(4333)


def test_the_local_server_and_compose_config_both_sync_every_write() -> None:
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf"
    assert "sync_interval: always" in deploy.read_text()
    assert "sync_interval: always" in up.LOCAL_NATS_CONFIG


def test_given_the_api_port_taken_then_the_api_gets_a_free_one_and_it_is_said(monkeypatch) -> None:
    from hedgemesh.launcher import catalog

    [api] = [spec for spec in catalog.SERVICES if spec.http is not None]
    monkeypatch.delenv(api.http.port_env, raising=False)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        choice = up.choose_port(None, taken, api.http.port_env, "api")
    assert choice.port not in (0, taken)
    assert "is taken" in choice.note and api.http.port_env in choice.note
