"""A NATS cluster on loopback: several `nats-server` processes from the wheel, joined by routes,
with clustered JetStream (streams and buckets at R3 on three nodes).

    with NatsCluster(3, store_dir="var/nats", config_file="nats.conf") as cluster:
        cluster.url        # "nats://127.0.0.1:4222,nats://127.0.0.1:4223,..." for every client
        cluster.kill(1)    # SIGKILL one node, as a crash would
        cluster.start(1)   # back on its own ports with its own store

A cluster of one is a plain server (no routes), so `hedgemesh up` runs one code path for both.
Every node is launched before any is waited on: a clustered server reports healthy only once
a quorum of its peers runs and JetStream has a meta leader.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from hedgemesh.runtime.server import DEFAULT_HOST, NatsServer, Route

CLUSTER_NAME = "hedgemesh"
#: JetStream replicas for a cluster of `n` nodes: R3 from three nodes on, else one per node.
MAX_REPLICAS = 3


def replicas_for(nodes: int) -> int:
    """Stream and bucket replicas on a cluster of `nodes` servers (R3 from three on)."""
    return max(1, min(nodes, MAX_REPLICAS))


def free_ports(count: int, host: str = DEFAULT_HOST) -> list[int]:
    """`count` distinct ports free now (held open together while picking, so none repeats)."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((host, 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


class NatsCluster:
    """`size` nats-server processes with JetStream; node `i` stores in `store_dir/n<i+1>` (a
    single node in `store_dir` itself) and keeps its client and route ports across restarts.

    `ports`: each node's client port (0: any free port, learnt at start). Route ports are picked
    free when the cluster is made. `config_file` (users and permissions) is shared by every node.
    """

    def __init__(
        self,
        size: int = 3,
        *,
        store_dir: str | os.PathLike[str],
        ports: Sequence[int] | None = None,
        config_file: str | os.PathLike[str] | None = None,
        host: str = DEFAULT_HOST,
        name: str = CLUSTER_NAME,
    ) -> None:
        if size < 1:
            raise ValueError(f"a NATS cluster needs at least one server, got {size}")
        ports = list(ports) if ports is not None else [0] * size
        if len(ports) != size:
            raise ValueError(f"{size} servers need {size} client ports, got {ports}")
        store = Path(store_dir)
        self.name = name
        if size == 1:
            self.servers = [
                NatsServer(port=ports[0], host=host, store_dir=store, config_file=config_file)
            ]
            return
        route_ports = free_ports(size, host)
        routes = tuple(f"nats://{host}:{port}" for port in route_ports)
        self.servers = [
            NatsServer(
                port=ports[i],
                host=host,
                store_dir=store / f"n{i + 1}",
                config_file=config_file,
                route=Route(f"{name}-n{i + 1}", name, route_ports[i], routes, host),
            )
            for i in range(size)
        ]

    @property
    def size(self) -> int:
        return len(self.servers)

    @property
    def replicas(self) -> int:
        return replicas_for(self.size)

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    @property
    def url(self) -> str:
        """Every node's client URL, comma-separated: what `HEDGEMESH_NATS_URL` takes."""
        return ",".join(self.urls)

    def start(self, node: int | None = None) -> Self:
        """Start every node (launched together, then each waited on), or node `node` alone."""
        chosen = self.servers if node is None else [self.servers[node]]
        for server in chosen:
            server.launch()
        try:
            for server in chosen:
                server.wait_ready()
        except BaseException:
            for server in chosen:
                server.kill()
            raise
        return self

    def kill(self, node: int) -> None:
        """SIGKILL node `node`, as a crash would; the others carry on."""
        self.servers[node].kill()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def close(self) -> None:
        for server in self.servers:
            server.close()

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NatsCluster({', '.join(map(repr, self.servers))})"
