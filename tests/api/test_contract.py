"""The API's contract: the OpenAPI document is complete and self-consistent, and bad input to
every route gets a 4xx with a JSON error and a message, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from api_examples import harness, risk_limits

from hedgemesh.api.domain.views import ErrorBody
from hedgemesh.wire import subjects

#: The public surface (others script against it): path → methods.
SURFACE = {
    "/v1/positions": {"get"},
    "/v1/risk": {"get"},
    "/v1/limits": {"get"},
    "/v1/limits/{name}": {"put"},
    "/v1/orders": {"get"},
    "/v1/fills": {"get"},
    "/v1/decisions": {"get"},
    "/v1/agents": {"get"},
    "/v1/desk": {"get"},
    "/v1/pnl": {"get"},
    "/v1/control/halt": {"post"},
    "/v1/control/resume": {"post"},
    "/v1/control/reduce-only": {"post"},
    "/v1/execution/kill-switch": {"post"},
    "/v1/audit": {"get"},
    "/v1/agents/{agent}/params": {"get", "put"},
    "/v1/book/trades": {"post"},
    "/health": {"get"},
}
#: What needs more than a viewer's token (403 documented).
RESTRICTED = {
    ("put", "/v1/limits/{name}"),
    ("post", "/v1/control/halt"),
    ("post", "/v1/control/resume"),
    ("post", "/v1/control/reduce-only"),
    ("post", "/v1/execution/kill-switch"),
    ("get", "/v1/audit"),
    ("put", "/v1/agents/{agent}/params"),
    ("post", "/v1/book/trades"),
}


@pytest.fixture
def api(tmp_path):
    h = harness(tmp_path)
    h.desk.put(subjects.KV_LIMITS, "SPX", risk_limits("SPX"))
    return h


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


async def test_given_the_openapi_document_then_it_lists_the_public_surface_consistently(
    api,
) -> None:
    async with api.client() as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    assert {path: set(methods) for path, methods in paths.items()} == SURFACE
    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for path, methods in paths.items():
        for method, operation in methods.items():
            responses = operation["responses"]
            assert "200" in responses, (method, path)
            assert responses["200"]["content"]["application/json"]["schema"], (method, path)
            if path != "/health":
                for status in ("401", "422", "429"):
                    error = responses[status]["content"]["application/json"]["schema"]
                    assert error == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
                assert operation["security"] == [{"bearer": []}], (method, path)
            else:
                assert "security" not in operation
            assert ("403" in responses) == ((method, path) in RESTRICTED), (method, path)
            assert operation.get("description") or operation.get("summary"), (method, path)
    assert set(schemas["ErrorBody"]["required"]) == {"error", "message"}
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }


BAD_REQUESTS: list[tuple[str, str, Any, int]] = [
    ("GET", "/v1/positions?underlying=spx", None, 422),
    ("GET", "/v1/positions?underlying=", None, 422),
    ("GET", "/v1/positions?underlying=ZZZ", None, 404),
    ("DELETE", "/v1/positions", None, 405),
    ("GET", "/v1/risk?underlying=S.P", None, 422),
    ("GET", "/v1/risk?underlying=ZZZ", None, 404),
    ("POST", "/v1/limits", None, 405),
    ("PUT", "/v1/limits/SPX.max_abs_delta", None, 422),
    ("PUT", "/v1/limits/" + "A" * 101, {"value": 1}, 422),
    ("GET", "/v1/orders?limit=0", None, 422),
    ("GET", "/v1/orders?limit=1001", None, 422),
    ("GET", "/v1/orders?limit=ten", None, 422),
    ("GET", "/v1/orders?status=lost", None, 422),
    ("GET", "/v1/orders?since=yesterday", None, 422),
    ("GET", "/v1/orders?since=39", None, 422),  # not read as a Unix time
    ("GET", "/v1/fills?since=1700000000.5", None, 422),
    ("GET", "/v1/orders?since=2024-01-02T14:30:00", None, 422),  # no timezone
    ("GET", "/v1/orders?underlying=ZZZ", None, 404),
    ("GET", "/v1/fills?client_order_id=a%20b", None, 422),
    ("GET", "/v1/fills?limit=-1", None, 422),
    ("GET", "/v1/fills?underlying=ZZZ", None, 404),
    ("GET", "/v1/decisions?agent=gamma.agent", None, 422),
    ("GET", "/v1/decisions?outcome=maybe", None, 422),
    ("GET", "/v1/decisions?cycle_id=", None, 422),
    ("GET", "/v1/decisions?since=2024-13-01T00:00:00Z", None, 422),
    ("GET", "/v1/decisions?underlying=ZZZ", None, 404),
    ("POST", "/v1/agents", None, 405),
    ("GET", "/v1/pnl?underlying=ZZZ", None, 404),
    ("GET", "/v1/pnl?underlying=1SPX", None, 422),
    ("POST", "/v1/control/halt", {"reason": 5}, 422),
    ("POST", "/v1/control/halt", {"why": "no"}, 422),
    ("POST", "/v1/control/resume", {"reason": "x" * 1025}, 422),
    ("POST", "/v1/control/reduce-only", [], 422),
    ("POST", "/v1/control/explode", None, 404),
    ("GET", "/v1/control/halt", None, 405),
    ("POST", "/health", None, 405),
    ("GET", "/v1/orders?undelying=SPX", None, 422),  # unknown query parameters
    ("GET", "/v1/positions?x=1", None, 422),
    ("GET", "/health?verbose=1", None, 422),
    ("GET", "/v1/audit?limit=0", None, 422),
    ("GET", "/v1/audit?status=42", None, 422),
    ("GET", "/v1/audit?method=GET", None, 422),
    ("GET", "/v1/audit?path=v1", None, 422),
    ("GET", "/v1/audit?before_id=0", None, 422),
    ("GET", "/v1/audit?actor=a%20b", None, 422),
    ("GET", "/v1/audit?since=2024-01-02", None, 422),
    ("GET", "/v2/positions", None, 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), BAD_REQUESTS)
async def test_given_bad_input_to_any_route_then_a_4xx_with_a_json_message(
    api, method: str, path: str, body: Any, status: int
) -> None:
    async with api.client() as client:
        response = await client.request(method, path, json=body)
    assert response.status_code == status, response.text
    error = ErrorBody.model_validate_json(response.content)
    assert error.error and error.message


async def test_given_malformed_json_bodies_then_4xx_never_500(api) -> None:
    async with api.client() as client:
        for path, method in (("/v1/control/halt", "POST"), ("/v1/limits/SPX.max_abs_delta", "PUT")):
            for raw in (b"{", b"\xff\xfe", b'{"reason": "a"}' * 2, b'"text"'):
                response = await client.request(
                    method, path, content=raw, headers={"content-type": "application/json"}
                )
                assert 400 <= response.status_code < 500, (path, raw, response.text)
                ErrorBody.model_validate_json(response.content)
