"""`hedgemesh up` as a user runs it: a real process, a real nats-server, Ctrl-C to stop."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from cluster_harness import Launcher, leaked_secrets

from hedgemesh.cli import up
from hedgemesh.launcher import catalog
from hedgemesh.runtime import permissions
from hedgemesh.runtime.connection import NatsSettings, connect
from hedgemesh.runtime.streams import BUCKETS, STREAMS
from hedgemesh.wire import Heartbeat, subjects
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord

READY = "hedgemesh: NATS ready at "


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[Launcher]:
    # The API's own tokens are not what these tests are about: its development mode opens it.
    started = Launcher("--nats-port", "0", home=tmp_path / "var", env={"HEDGEMESH_DEV_MODE": "1"})
    yield started
    if started.proc.poll() is None:
        started.proc.kill()
        started.proc.wait()


def _http_status(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


def _http_post(url: str, headers: dict[str, str], body: Any) -> int:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url, data=data, method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


def _http_json(url: str, headers: dict[str, str]) -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
        return json.loads(r.read())


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
    command = [sys.executable, "-m", "hedgemesh.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=clean)


def _violations(logs: list[Path]) -> list[str]:
    """Every line of `logs` that reports a permissions violation."""
    return [
        f"{log.name}: {line}"
        for log in logs
        for line in log.read_text(errors="replace").splitlines()
        if "violation" in line.lower()
    ]


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
    assert up.without_user(cluster["nats_url"]) == url

    nc = await connect(NatsSettings(url=cluster["nats_url"], name="probe"), initial_timeout_s=5.0)
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


async def test_given_up_then_every_service_runs_as_its_own_user_without_a_permission_violation(
    launcher: Launcher, tmp_path: Path, eventually
) -> None:
    url = launcher.wait_for_line(READY, timeout=60)[len(READY) :].split()[0]
    launcher.wait_for_line("hedgemesh: running", timeout=60)
    home = tmp_path / "var"
    cluster = json.loads((home / "cluster.json").read_text())
    for secret in (
        home / "nats" / "credentials.json",
        home / "nats" / "nats.conf",
        home / "cluster.json",  # the admin's URL, with its password
    ):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    passwords = json.loads((home / "nats" / "credentials.json").read_text())
    assert set(passwords) == set(permissions.GRANTS) and len(set(passwords.values())) == len(
        passwords
    )

    with pytest.raises((TimeoutError, nats.errors.Error)):  # no user, no connection
        await nats.connect(url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False)

    nc = await connect(NatsSettings(url=cluster["nats_url"], name="probe"), initial_timeout_s=5.0)
    ready: dict[str, str] = {}

    async def on_heartbeat(msg: Any) -> None:
        beat = Heartbeat.from_json(msg.data)
        ready[beat.instance] = beat.state.value

    expected = {i.name for i in catalog.instances()}
    try:
        await nc.subscribe(subjects.ALL_HEARTBEATS, cb=on_heartbeat)
        await eventually(
            lambda: all(ready.get(name) == "ready" for name in expected), timeout=90, interval=0.2
        )
    finally:
        await nc.close()
    # The API's tokens: one per role, only the owner may read them, said where they are.
    tokens_file = Path(cluster["api_tokens_file"])
    assert tokens_file.parent == home and stat.S_IMODE(tokens_file.stat().st_mode) == 0o600
    roles = [t["role"] for t in json.loads(tokens_file.read_text())["tokens"]]
    assert roles == ["viewer", "operator", "admin"]
    assert any(f"API tokens (admin, operator, viewer) in {tokens_file}" in s for s in launcher.seen)
    positions = f"{cluster['api_url']}/v1/positions"
    assert _http_status(positions, {}) == 401
    assert _http_status(positions, launcher.api_headers("viewer")) == 200
    # Control from REST and over NATS, each audited once with its origin; the chain verifies.
    operator, api = launcher.api_headers("operator"), cluster["api_url"]
    assert _http_post(f"{api}/v1/control/halt", operator, {"reason": "drill"}) == 200
    assert _http_post(f"{api}/v1/execution/kill-switch", operator, {"reason": "drill"}) == 200
    released = _cli("kill-switch", "release", "--reason", "drill over", "--home", str(home))
    assert released.returncode == 0, released.stdout
    trail = _http_json(f"{api}/v1/audit", operator)["entries"]
    assert [(e["origin"], e["actor"], e["path"]) for e in trail][:3] == [
        ("admin", "admin", "hedge.v1.control.execution.resume.admin"),
        ("api", "operator", "/v1/execution/kill-switch"),
        ("api", "operator", "/v1/control/halt"),
    ]
    verified = _cli("audit", "verify", "--database-url", f"sqlite:///{home / 'hedgemesh.db'}")
    assert verified.returncode == 0 and "ok, " in verified.stdout, verified.stdout
    wrong = {"Authorization": "Bearer not-a-token-of-this-api-0123456789"}
    assert _http_status(positions, wrong) == 401  # a failed login: logged, without the token
    logs = [home / "nats" / "nats-server.log", *(home / "logs").glob("*.log")]
    assert _violations(logs) == []
    printed = {"hedgemesh status": launcher.status(), "status --json": launcher.status("--json")}
    assert launcher.stop(signal.SIGINT) == 0
    printed["hedgemesh up"] = "\n".join(launcher.drain())
    assert leaked_secrets(home, printed) == []


def test_the_local_config_grants_what_deploy_nats_conf_grants() -> None:
    passwords = {user: f"secret-{user}" for user in permissions.GRANTS}
    local = up.local_nats_config(passwords)
    deploy = (Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats.conf").read_text()
    block = deploy[deploy.index("authorization {") :]
    for user, password in passwords.items():
        block = block.replace(permissions.env_reference(user), json.dumps(password))
    assert local.endswith(block)


def test_each_service_gets_its_own_user_and_password() -> None:
    passwords = {user: f"secret-{user}" for user in permissions.GRANTS}
    env = up.nats_env(passwords)
    for spec in catalog.SERVICES:
        assert env[spec.name] == {
            "HEDGEMESH_NATS_USER": spec.name,
            "HEDGEMESH_NATS_PASSWORD": passwords[spec.name],
        }
    assert (
        up.with_user("nats://127.0.0.1:4222", "admin", "a-B_9")
        == "nats://admin:a-B_9@127.0.0.1:4222"
    )


async def test_given_nats_killed_9_then_up_restarts_it_and_every_service_is_heard_again(
    launcher: Launcher, tmp_path: Path, eventually
) -> None:
    launcher.wait_for_line("hedgemesh: running", timeout=60)
    home = tmp_path / "var"
    cluster = json.loads((home / "cluster.json").read_text())
    expected = {i.name for i in catalog.instances()}
    heard: dict[str, str] = {}

    async def on_heartbeat(msg: Any) -> None:
        beat = Heartbeat.from_json(msg.data)
        heard[beat.instance] = beat.state.value

    def all_ready() -> bool:
        return all(heard.get(name) == "ready" for name in expected)

    nc = await connect(NatsSettings(url=cluster["nats_url"], name="probe"), initial_timeout_s=5.0)
    try:
        await nc.subscribe(subjects.ALL_HEARTBEATS, cb=on_heartbeat)
        await eventually(all_ready, timeout=90, interval=0.2)

        os.kill(cluster["nats_pid"], signal.SIGKILL)
        launcher.wait_for_line("hedgemesh: nats-server restarted", timeout=30)
        heard.clear()  # from now on: heard through the new server
        await eventually(all_ready, timeout=30, interval=0.2)
    finally:
        await nc.close()
    restarted = json.loads((home / "cluster.json").read_text())
    assert restarted["nats_pid"] != cluster["nats_pid"] and _pid_alive(restarted["nats_pid"])
    assert restarted["nats_url"] == cluster["nats_url"]  # the same port
    printed = {"hedgemesh status": launcher.status()}
    assert launcher.stop(signal.SIGINT) == 0
    # Every service reconnected (and said so) with its password: no log line holds one.
    printed["hedgemesh up"] = "\n".join(launcher.drain())
    assert leaked_secrets(home, printed) == []


async def test_given_up_with_a_nats_cluster_of_3_then_services_share_r3_streams_and_one_clock(
    tmp_path: Path, eventually
) -> None:
    """`hedgemesh up --nats-cluster 3`: three servers joined by routes, every stream and bucket
    at R3, every service ready through them as its own user (no violation in any log), the
    run's clock record in KV, and a node killed -9 restarted by `up` on its own ports."""
    home = tmp_path / "var"
    launcher = Launcher(
        "--nats-port", "0", "--nats-cluster", "3", home=home, env={"HEDGEMESH_DEV_MODE": "1"}
    )
    try:
        launcher.wait_for_line("hedgemesh: NATS cluster of 3 servers, streams and buckets at R3")
        launcher.wait_for_line("hedgemesh: running", timeout=90)
        cluster = launcher.cluster()
        servers = cluster["nats_servers"]
        assert len(servers) == 3 and len(cluster["nats_url"].split(",")) == 3
        nc = await connect(NatsSettings(url=cluster["nats_url"], name="probe"), initial_timeout_s=5)
        ready: dict[str, str] = {}

        async def on_heartbeat(msg: Any) -> None:
            beat = Heartbeat.from_json(msg.data)
            ready[beat.instance] = beat.state.value

        try:
            js = nc.jetstream()
            for spec in STREAMS:
                assert (await js.stream_info(spec.name)).config.num_replicas == 3, spec.name
            for bucket in BUCKETS:
                assert (await js.stream_info(f"KV_{bucket.name}")).config.num_replicas == 3
            clock = ClockRecord.from_json(
                (await (await js.key_value(subjects.KV_CLOCK)).get(CLUSTER_CLOCK_KEY)).value
            )
            # Held by `up` until the desk is ready, then started by marketdata at the ceiling.
            assert clock.top_speed == cluster["clock"]["speed"]
            assert clock.start.isoformat() == cluster["clock"]["start"]
            await nc.subscribe(subjects.ALL_HEARTBEATS, cb=on_heartbeat)
            expected = {i.name for i in catalog.instances()}
            await eventually(
                lambda: all(ready.get(n) == "ready" for n in expected), timeout=90, interval=0.2
            )
            os.kill(servers[1]["pid"], signal.SIGKILL)
            launcher.wait_for_line("hedgemesh: nats-server restarted", timeout=30)

            def restarted() -> dict[str, Any] | None:  # cluster.json is written just after
                node = launcher.cluster()["nats_servers"][1]
                return node if node["pid"] != servers[1]["pid"] else None

            assert (await eventually(restarted, timeout=5))["url"] == servers[1]["url"]
        finally:
            await nc.close()
        logs = [*(home / "nats").glob("n*/nats-server.log"), *(home / "logs").glob("*.log")]
        assert len(logs) > 3
        assert _violations(logs) == []
        assert launcher.stop(signal.SIGINT) == 0
    finally:
        launcher.kill()


def test_given_a_book_file_with_bad_rows_then_up_names_each_and_starts_nothing(
    tmp_path: Path,
) -> None:
    book = tmp_path / "book.csv"
    book.write_text("instrument,quantity,price\nSPX,1.5,5000\nFOO,1,1\nSPX,10,5000\n")
    launcher = Launcher("--book", str(book), home=tmp_path / "var")
    assert launcher.proc.wait(30) == 2
    launcher.wait_for_line("hedgemesh: ")
    output = launcher.seen + list(launcher.lines.queue)
    assert f"hedgemesh: {book}:2: quantity: not a whole number: '1.5'" in output
    assert any(line.startswith(f"hedgemesh: {book}:3: instrument: unknown underlying FOO")
               for line in output)  # fmt: skip
    assert not (tmp_path / "var" / "nats").exists()  # nothing started


def test_make_up_installs_the_runtime_dependencies_only(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    plan = subprocess.run(
        ["make", "-n", "-C", str(repo), "up", f"VENV={tmp_path / 'venv'}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    installs = [line for line in plan.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all(line.rstrip().endswith("-e .") for line in installs), installs


def test_given_an_earlier_runs_book_then_up_says_it_resumes_it_and_fresh_deletes_it(
    tmp_path: Path, capsys
) -> None:
    home = tmp_path / "var"
    assert up.prepare_home(home, fresh=False)  # nothing there: nothing said
    assert capsys.readouterr().out == ""
    (home / "nats" / "jetstream").mkdir(parents=True)
    (home / "hedgemesh.db").write_text("an old book")
    (home / "hedgemesh.db-wal").write_text("")
    assert up.prepare_home(home, fresh=False)
    assert "resuming the book an earlier run left" in capsys.readouterr().out
    assert (home / "hedgemesh.db").exists()
    assert up.prepare_home(home, fresh=True)
    assert "--fresh: deleted" in capsys.readouterr().out
    assert not (home / "hedgemesh.db").exists() and not (home / "nats" / "jetstream").exists()
    assert not (home / "hedgemesh.db-wal").exists()
