"""`python -m hedgemesh.runtime.declare`: create or update every stream and bucket, then exit.

What compose's `nats-init` runs (as the NATS `admin` user) before any service starts: with
permissions on, services may read stream and bucket info but not create or change them. Settings
come from the environment (`HEDGEMESH_NATS_URL`, `HEDGEMESH_NATS_USER`,
`HEDGEMESH_NATS_PASSWORD`, `HEDGEMESH_STREAM_REPLICAS`, `HEDGEMESH_CLOCK_RESET`). Exits 1 with
the reason when NATS cannot be reached within `HEDGEMESH_DECLARE_TIMEOUT_S` (30 s) or refuses.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from hedgemesh.runtime.connection import NatsSettings, connect, drain
from hedgemesh.runtime.streams import ensure_streams
from hedgemesh.wire import subjects
from hedgemesh.wire.clock import CLUSTER_CLOCK_KEY

#: `1`: delete the clock record (compose's `nats-init` runs before any service: each
#: `docker compose up` begins a new simulated day).
RESET_CLOCK_ENV = "HEDGEMESH_CLOCK_RESET"

log = logging.getLogger("hedgemesh.runtime.declare")


async def declare(
    settings: NatsSettings,
    *,
    replicas: int = 1,
    timeout_s: float = 30.0,
    reset_clock: bool = False,
) -> None:
    """Connect (waiting up to `timeout_s`), ensure every stream and bucket, drain.
    `reset_clock`: delete the cluster's clock record, so the first service up begins a new one."""
    nc = await connect(settings, initial_timeout_s=timeout_s)
    try:
        js = nc.jetstream(timeout=settings.request_timeout_s)
        buckets = await ensure_streams(js, replicas=replicas)
        if reset_clock:
            await buckets[subjects.KV_CLOCK].delete(CLUSTER_CLOCK_KEY)
            log.info("the cluster's clock record is reset: the first service up begins it")
    finally:
        await drain(nc)


def main() -> int:
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        replicas = int(os.environ.get("HEDGEMESH_STREAM_REPLICAS", "1"))
        timeout_s = float(os.environ.get("HEDGEMESH_DECLARE_TIMEOUT_S", "30"))
        reset = os.environ.get(RESET_CLOCK_ENV, "").lower() in ("1", "true", "yes")
        settings = NatsSettings(name="hedgemesh-declare")
        asyncio.run(declare(settings, replicas=replicas, timeout_s=timeout_s, reset_clock=reset))
    except Exception as error:
        print(
            f"hedgemesh: declaring streams failed: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 1
    log.info("streams and buckets declared")
    return 0


if __name__ == "__main__":
    sys.exit(main())
