"""A stand-in for `hedgemesh up` in tests: a nats-server and one sample service under a
supervisor; prints their pids, then waits to be killed."""

import sys
import time
from pathlib import Path

from hedgemesh.launcher import catalog
from hedgemesh.launcher.catalog import ServiceSpec
from hedgemesh.launcher.supervisor import Supervisor
from hedgemesh.runtime import NatsServer

SAMPLE = str(Path(__file__).with_name("sample_service.py"))


class ScriptSpec(ServiceSpec):
    @property
    def command(self) -> tuple[str, ...]:
        return (SAMPLE,)


if __name__ == "__main__":
    home = Path(sys.argv[1])
    server = NatsServer(store_dir=home / "nats").start()
    spec = ScriptSpec(name="sample", module="unused")
    supervisor = Supervisor(
        catalog.instances((spec,)), env={"HEDGEMESH_NATS_URL": server.url}, log_dir=home / "logs"
    )
    supervisor.start_all()
    print(server.pid, *(c.pid for c in supervisor.children.values()), flush=True)
    while True:
        supervisor.poll()
        time.sleep(0.1)
