"""The one source of truth for the list of services.

The local launcher (`hedgemesh up`), `docker-compose.yml` and the Kubernetes manifests
(`deploy/k8s/`) are all rendered from or checked against `SERVICES`: each entry is a service,
its module (started as `python -m <module>`), how many replicas run (one leads, the others stand
by) and, for Kubernetes, what each replica asks of a node.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class HttpSpec:
    """A service that serves HTTP: its port setting, default port and health path."""

    port_env: str
    default_port: int
    host_env: str
    health_path: str = "/health"


@dataclass(frozen=True)
class FixSpec:
    """A FIX 4.4 acceptor (execution's): its settings' names, the default port and the
    counterparties (SenderCompIDs) given a password by default."""

    port_env: str = "HEDGEMESH_EXECUTION_FIX_PORT"
    host_env: str = "HEDGEMESH_EXECUTION_FIX_HOST"
    passwords_env: str = "HEDGEMESH_EXECUTION_FIX_PASSWORDS"
    passwords_file_env: str = "HEDGEMESH_EXECUTION_FIX_PASSWORDS_FILE"
    default_port: int = 9878
    counterparties: tuple[str, ...] = ("CLIENT1",)

    def password_env(self, counterparty: str) -> str:
        """The operator's variable holding a counterparty's password (compose)."""
        return f"HEDGEMESH_FIX_PASSWORD_{counterparty.upper().replace('-', '_')}"


@dataclass(frozen=True)
class Resources:
    """What one replica asks of a Kubernetes node: CPU and memory requested, memory limit.
    Starting points from the benchmarks (docs/scaling.md), not a measured fit for every book."""

    cpu_m: int = 250
    memory_mi: int = 256
    memory_limit_mi: int = 512


@dataclass(frozen=True)
class ServiceSpec:
    """One service of the cluster."""

    name: str
    module: str
    replicas: int = 1
    needs_database: bool = False
    description: str = ""
    #: Extra environment for every replica (the launcher adds the shared settings).
    env: dict[str, str] = field(default_factory=dict)
    http: HttpSpec | None = None
    fix: FixSpec | None = None
    """A FIX acceptor: on in `hedgemesh up` and compose, off unless configured in Kubernetes
    (the `fix` overlay)."""
    resources: Resources = field(default_factory=Resources)

    @property
    def command(self) -> tuple[str, ...]:
        """The command after the interpreter: `python -m <module>`."""
        return ("-m", self.module)

    def instance_names(self) -> list[str]:
        """`ledger` for a single replica; `gamma-agent-1`, `gamma-agent-2` for several."""
        if self.replicas == 1:
            return [self.name]
        return [f"{self.name}-{i}" for i in range(1, self.replicas + 1)]


@dataclass(frozen=True)
class Instance:
    """One process of a service."""

    name: str
    spec: ServiceSpec


#: In start order; the launcher stops them in reverse.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "marketdata",
        "hedgemesh.marketdata",
        description="simulated underlyings, vol surfaces, the listed chain, client flow",
    ),
    ServiceSpec(
        "execution",
        "hedgemesh.execution",
        needs_database=True,
        description="the simulated venue: order books, liquidity providers, algos, reports",
        fix=FixSpec(),
        resources=Resources(cpu_m=500, memory_mi=384, memory_limit_mi=1024),
    ),
    ServiceSpec(
        "ledger",
        "hedgemesh.ledger",
        needs_database=True,
        description="positions, cash and P&L from client trades and fills",
        resources=Resources(cpu_m=250, memory_mi=384, memory_limit_mi=1024),
    ),
    ServiceSpec(
        "gamma-agent",
        "hedgemesh.gamma_agent",
        replicas=2,
        description="keeps each underlying's gamma in its band with near-dated options",
    ),
    ServiceSpec(
        "vega-agent",
        "hedgemesh.vega_agent",
        replicas=2,
        description="keeps vega per expiry bucket in its band with longer-dated options",
    ),
    ServiceSpec(
        "manager",
        "hedgemesh.manager",
        replicas=2,
        needs_database=True,
        description="nets proposals, enforces limits and budgets, routes orders",
        resources=Resources(cpu_m=500, memory_mi=384, memory_limit_mi=1024),
    ),
    ServiceSpec(
        "api",
        "hedgemesh.api",
        needs_database=True,
        description="REST: positions, risk, limits, orders, fills, decisions, agents, P&L, control",
        http=HttpSpec("HEDGEMESH_API_PORT", 8000, "HEDGEMESH_API_HOST"),
        resources=Resources(cpu_m=250, memory_mi=384, memory_limit_mi=1024),
    ),
)


def instances(services: tuple[ServiceSpec, ...] = SERVICES) -> list[Instance]:
    return [Instance(name, spec) for spec in services for name in spec.instance_names()]


def find(name: str, services: tuple[ServiceSpec, ...] = SERVICES) -> ServiceSpec | None:
    return next((spec for spec in services if spec.name == name), None)
