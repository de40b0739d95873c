"""The FIX acceptor as a user runs it: `hedgemesh up` exposes it on the port it writes to
cluster.json, with a password per counterparty in a 0600 file; QuickFIX (FIX44.xml both ways)
logs on, trades, and when `python -m hedgemesh.execution` is killed with SIGKILL mid-session
the launcher restarts it, QuickFIX logs on again without a reset, the numbers carry on (no
"MsgSeqNum too low", no ResendRequest needed for what was delivered), every execution report
arrives once, and the FIX orders are in /v1/orders and /v1/fills. Heavy: run it under
`flock /tmp/hedgemesh-heavy.lock`."""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import httpx
import pytest
from cluster_harness import Launcher, free_port, until
from fix_client import Client, initiator, settings_file

from hedgemesh.execution.domain.fix.codec import Tag
from hedgemesh.execution.domain.fix.orders import internal_id

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _filled(client: Client, cl_ord_id: str):  # type: ignore[no-untyped-def]
    return any(m.get(Tag.ORD_STATUS) in ("1", "2") for m in client.reports(cl_ord_id))


def test_up_exposes_fix_and_a_kill_9_of_execution_resumes_the_session(tmp_path: Path) -> None:
    api_port, fix_port = free_port(), free_port()
    launcher = Launcher(
        "--nats-port", "0",
        home=tmp_path / "var",
        env={"HEDGEMESH_API_PORT": str(api_port), "HEDGEMESH_EXECUTION_FIX_PORT": str(fix_port)},
    )  # fmt: skip
    try:
        launcher.wait_for_line("hedgemesh: running", timeout=90)
        fix = launcher.cluster()["fix"]
        assert fix["port"] == fix_port and fix["comp_id"] == "HEDGEMESH"
        passwords_file = Path(fix["passwords_file"])
        assert stat.S_IMODE(passwords_file.stat().st_mode) == 0o600
        password = json.loads(passwords_file.read_text())["CLIENT1"]

        client = Client(password)
        with initiator(client, settings_file(tmp_path, fix_port)):
            until(client.logged_on.is_set, 60, "logon", every=0.1)
            # the market is up once an order fills (execution waits for its first tick)
            client.new_order("K-0", "1", 1, ord_type="1")
            until(lambda: _filled(client, "K-0"), 60, "the first fill", every=0.1)
            before = client.of_type("A")

            pid = launcher.cluster()["instances"]["execution"]["pid"]
            os.kill(pid, signal.SIGKILL)

            def restarted():  # type: ignore[no-untyped-def]
                new = launcher.cluster()["instances"]["execution"]["pid"]
                return new not in (None, pid)

            until(restarted, 60, "execution restarted", every=0.1)
            again = lambda: client.logons >= 2 and client.logged_on.is_set()  # noqa: E731
            until(again, 90, "logon again", every=0.1)
            client.new_order("K-1", "2", 1, ord_type="1")
            until(lambda: _filled(client, "K-1"), 60, "a fill after the restart", every=0.1)

            ids = [m.get(Tag.EXEC_ID) for m in client.reports()]
            assert len(ids) == len(set(ids)), "no execution report twice"
            logouts = [m.get(Tag.TEXT) or "" for m in client.of_type("5")]
            assert not [t for t in logouts if "too low" in t], logouts
            logons = client.of_type("A")
            assert len(logons) == len(before) + 1
            assert all(m.get(Tag.RESET_SEQ_NUM_FLAG) != "Y" for m in logons)
            assert client.invalid_sent == [] and client.of_type("3") == []

        headers = launcher.api_headers("viewer")
        base = f"http://127.0.0.1:{api_port}"
        for name in ("K-0", "K-1"):
            coid = internal_id("CLIENT1", name)
            orders = httpx.get(f"{base}/v1/orders", headers=headers, timeout=10).json()["orders"]
            assert [o["cycle_id"] for o in orders if o["client_order_id"] == coid] == [
                "fix-CLIENT1"
            ]
            fills = httpx.get(
                f"{base}/v1/fills", params={"client_order_id": coid}, headers=headers, timeout=10
            ).json()["fills"]
            assert fills, name
    finally:
        try:
            launcher.stop(timeout=30)
        except Exception:
            launcher.kill()
