"""`hedgemesh kill-switch engage|release|status`: execution's kill switch, as admin.

The API may engage the switch (`POST /v1/execution/kill-switch`, operator) but never release
it: its NATS user may send execution `halt` and `status` only. Releasing takes the admin's NATS
credentials, which `hedgemesh up` keeps in `$HEDGEMESH_HOME/cluster.json` (0600); elsewhere set
`HEDGEMESH_NATS_URL`, `HEDGEMESH_NATS_USER=admin` and `HEDGEMESH_NATS_PASSWORD`. The command
goes out on `hedge.v1.control.execution.<action>.admin`, and execution audits it with that
origin (`hedgemesh audit verify` covers it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
from pathlib import Path
from typing import Any

from hedgemesh.launcher import state

_ACTIONS = {"engage": "halt", "release": "resume", "status": "status"}


def add_parser(commands: Any) -> None:
    switch = commands.add_parser("kill-switch", help="engage or release execution's kill switch")
    switch.add_argument("action", choices=sorted(_ACTIONS))
    switch.add_argument("--reason", default="", help="why (kept with the switch and the audit)")
    switch.add_argument("--by", default="admin", help="the operator's name (informational)")
    switch.add_argument("--home", type=Path, default=None)
    switch.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from hedgemesh.runtime import NatsSettings
    from hedgemesh.runtime.errors import NatsUnavailable, NoResponders

    if os.environ.get("HEDGEMESH_NATS_URL"):
        settings = NatsSettings(name="hedgemesh-kill-switch")
    else:
        url = state.read(state.home_dir(args.home))["nats_url"]
        settings = NatsSettings(url=url, name="hedgemesh-kill-switch")
    try:
        reply = asyncio.run(_send(settings, _ACTIONS[args.action], args.reason, args.by))
    except (NatsUnavailable, NoResponders, TimeoutError) as error:
        print(f"kill-switch: execution did not answer: {error}")
        return 2
    print(json.dumps(reply, indent=2, sort_keys=True))
    return 0 if reply["ok"] else 1


async def _send(settings: Any, action: str, reason: str, by: str) -> dict[str, Any]:
    """Send `action` to execution as admin, stamped with the cluster's simulated time (its
    clock record in KV, when there is one: execution refuses a command from its future)."""
    from hedgemesh.cli.ops import cluster_now
    from hedgemesh.runtime import connect
    from hedgemesh.runtime.bus import Bus
    from hedgemesh.wire import subjects
    from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY, ClockRecord
    from hedgemesh.wire.ops import ControlCommand

    bus = Bus(await connect(settings, initial_timeout_s=5.0), "admin")
    try:
        record = None
        with contextlib.suppress(Exception):  # no bucket or no key: a live clock
            kv = await bus.js.key_value(subjects.KV_CLOCK)
            record = ClockRecord.from_json((await kv.get(CLUSTER_CLOCK_KEY)).value or b"")
        now, _speed = cluster_now({}, record)
        command = ControlCommand(
            target="execution", action=action, issued_by=by, reason=reason, ts=now
        )
        reply = await bus.command(command, timeout_s=5.0)
    finally:
        await bus.close()
    controls = reply.state.get("controls", {})
    return {"ok": reply.ok, "reason": reply.reason, "detail": reply.detail, "controls": controls}
