"""Execution fixtures: a store (SQLite in the test's temp dir; PostgreSQL too when
`HEDGEMESH_TEST_DATABASE_URL` is set) and the service run in-process on a stepped clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hedgemesh.execution.adapters.component import ExecutionComponent
from hedgemesh.execution.bootstrap import build
from hedgemesh.execution.config import ExecutionSettings
from hedgemesh.runtime.clock import SteppedClock
from hedgemesh.runtime.connection import NatsSettings
from hedgemesh.runtime.server import NatsServer
from hedgemesh.runtime.service import RuntimeSettings, Service
from hedgemesh.store.db import StoreSettings
from hedgemesh.store.testing import available_backends, scratch_database


@pytest.fixture(params=available_backends())
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database on each available backend (a SQLite file, a PostgreSQL schema)."""
    with scratch_database(request.param, tmp_path) as url:
        yield url


@dataclass
class Running:
    """One in-process execution service and how to stop it."""

    service: Service
    task: asyncio.Task[int]
    stop: asyncio.Event
    clock: SteppedClock

    @property
    def component(self) -> ExecutionComponent:
        component = self.service.components[0]
        assert isinstance(component, ExecutionComponent)
        return component

    async def close(self) -> int:
        self.stop.set()
        return await asyncio.wait_for(self.task, 10)

    def crash(self) -> None:
        """Stop dead, as kill -9 would leave it: nothing flushed, nothing acknowledged."""
        self.task.cancel()


@dataclass
class Launcher:
    server: NatsServer
    database_url: str
    clock: SteppedClock = field(default_factory=SteppedClock)
    running: list[Running] = field(default_factory=list)

    async def __call__(self, **settings: Any) -> Running:
        """Start execution (settings override the test defaults) and wait until it is ready."""
        # Limits far through fair value mean "marketable" in these tests: a collar allowing it.
        options: dict[str, Any] = {
            "market_data_wait_s": 1.0,
            "retry_delay_s": 0.1,
            "price_collar": 10.0,
        }
        options.update(settings)
        service = build(
            ExecutionSettings(**options),
            store=StoreSettings(url=self.database_url),
            runtime=RuntimeSettings(instance=f"exec-{len(self.running)}"),
            nats=NatsSettings(url=self.server.url),
            clock=self.clock,
        )
        stop = asyncio.Event()
        run = Running(service, asyncio.create_task(service.run(stop)), stop, self.clock)
        self.running.append(run)
        ready = asyncio.ensure_future(run.component.ready.wait())
        await asyncio.wait({ready, run.task}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            raise RuntimeError("execution did not start")
        return run


@pytest.fixture
async def start_execution(
    nats_server: NatsServer, database_url: str
) -> AsyncIterator[Callable[..., Any]]:
    """`run = await start_execution(**settings)`: execution in-process on a `SteppedClock`
    (`run.clock`), stopped at the end of the test."""
    launcher = Launcher(nats_server, database_url)
    yield launcher
    for run in launcher.running:
        if not run.task.done():
            await run.close()
