"""The API fuzzed from its own OpenAPI document (schemathesis, in this process on the ASGI app):
valid and invalid requests to every operation, each answered without a 500, with a status and a
body its schema documents, and invalid input refused with a 4xx.

The app runs on a read model fed a minute of SPX and NDX market data, a scratch SQLite store
holding orders, fills and decisions, and a fake desk whose KV holds limits and whose manager
answers control commands; requests carry an admin's token, so every operation is reachable.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from api_examples import (
    ADMIN_TOKEN,
    ORIGIN,
    bearer,
    feed_batches,
    fill_reports,
    firm_limits,
    harness,
    order,
    proposal,
    risk_limits,
    session,
    store_decisions,
    store_orders,
)
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.generation import GenerationMode

from hedgemesh.api.app import create_app
from hedgemesh.wire import subjects
from hedgemesh.wire.hedging import DecisionOutcome
from hedgemesh.wire.ops import ControlCommand, ControlReply
from hedgemesh.wire.state import FIRM_LIMITS_KEY

#: Examples per operation and mode: the run stays well under a minute here.
EXAMPLES = 30
#: The operations that take neither a parameter nor a body.
NO_INPUT = ["GET /v1/limits", "GET /v1/agents", "GET /v1/desk", "GET /health"]


@pytest.fixture
def api_schema(tmp_path) -> Any:
    market = session("SPX", "NDX")
    h = harness(tmp_path, rate_limit_per_s=1e6, rate_limit_burst=10**6)
    feed_batches(h.model, market.run_until(60.0))
    h.clock.set(ORIGIN + timedelta(seconds=60))
    h.desk.put(subjects.KV_LIMITS, "SPX", risk_limits("SPX"))
    h.desk.put(subjects.KV_LIMITS, FIRM_LIMITS_KEY, firm_limits())
    h.model.on_limits("SPX", risk_limits("SPX"), 1)
    filled = order("SPX-1")
    store_orders(h.store_url, (filled, fill_reports(filled, [4, 6], 5001.0, ORIGIN)))
    store_decisions(h.store_url, (proposal("p1"), DecisionOutcome.APPROVED, 1.0))

    async def manager(command: ControlCommand) -> ControlReply:
        return ControlReply(
            command_id=command.id, target="manager", ok=True, state={"trading_state": "ACTIVE"}
        )

    h.desk.manager = manager
    app = create_app(h.context.settings, context=h.context)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Every request carries the admin's token (its absence is tested in test_auth.py).
    schema.config.generation.update(with_security_parameters=False)
    return schema


#: Bodies whose own rules go beyond the schema, so that a schema-valid one may be a 422: a
#: limit's (a collar in (0, 1], whole quantities, ...: the wire model's, not one `value:
#: number`) and a trade's (a canonical instrument symbol of a known underlying, not 0).
BEYOND_SCHEMA = ("PUT /v1/limits/{name}", "POST /v1/book/trades")


def excluded(label: str) -> list[Any]:
    return [checks.positive_data_acceptance] if label in BEYOND_SCHEMA else []


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_given_generated_requests_then_no_500_every_answer_documented_bad_input_4xx(
    api_schema, mode: GenerationMode
) -> None:
    tested, nothing_to_violate = [], []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        skipped = excluded(operation.label)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call(case: Any) -> None:
            # Called below, within this iteration: `skipped` is this operation's.
            case.call_and_validate(headers=bearer(ADMIN_TOKEN), excluded_checks=skipped)  # noqa: B023

        try:
            call()
        except Unsatisfiable:
            if mode is not GenerationMode.NEGATIVE:
                raise
            nothing_to_violate.append(operation.label)
        tested.append(operation.label)
    assert len(tested) == 19, tested  # every operation of the document
    # No invalid request can be made only of what takes no parameter and no body.
    assert nothing_to_violate == (NO_INPUT if mode is GenerationMode.NEGATIVE else []), tested
