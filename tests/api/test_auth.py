"""Bearer tokens and roles, the refusal of missing or unsafe tokens, and the per-token rate limit:
through the app in this process (ASGI transport) and on the pieces themselves."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from api_examples import (
    ADMIN_TOKEN,
    OPERATOR_TOKEN,
    TOKENS,
    VIEWER_TOKEN,
    bearer,
    desk_harness,
    harness,
    risk_limits,
)

from hedgemesh.api.app import create_app
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.domain.views import ErrorBody
from hedgemesh.api.security.auth import (
    DEV_CALLER,
    AuthConfigError,
    Caller,
    Role,
    TokenSpec,
    sha256_hex,
    token_table,
)
from hedgemesh.api.security.ratelimit import RateLimiter
from hedgemesh.wire import subjects

STRONG = "Zq8-Lw3Xe7Rt1Yu5Io9Pa2Sd6Fg0Hj4Kl_Mn"


@pytest.fixture
def api(tmp_path):
    return desk_harness(tmp_path)


def error_of(response: Any) -> ErrorBody:
    return ErrorBody.model_validate_json(response.content)


# -- authentication -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/positions", "/v1/risk", "/v1/limits", "/v1/orders"])
@pytest.mark.parametrize(
    ("header", "invalid"),
    [
        (None, False),
        ("Bearer not-a-token-of-this-api-at-all-000000", True),
        (f"Basic {ADMIN_TOKEN}", False),
        ("Bearer ", False),
        ("Bearer", False),
    ],
)
async def test_given_no_or_a_wrong_token_then_401_with_www_authenticate_bearer(
    api, path: str, header: str | None, invalid: bool
) -> None:
    async with api.client(token=None) as client:
        headers = {"Authorization": header} if header is not None else {}
        response = await client.get(path, headers=headers)
    assert response.status_code == 401, response.text
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert ('error="invalid_token"' in challenge) == invalid
    error = error_of(response)
    assert error.error == "UNAUTHORIZED" and "token" in error.message


async def test_given_the_fast_path_then_it_answers_only_an_authenticated_request(api) -> None:
    async with api.client(token=None) as client:
        refused = await client.get("/v1/positions")
        served = await client.get("/v1/positions", headers=bearer(VIEWER_TOKEN))
    assert refused.status_code == 401
    assert served.status_code == 200 and served.content == api.model.positions_json()


@pytest.mark.parametrize("path", ["/health", "/openapi.json", "/docs", "/redoc"])
async def test_given_no_token_then_health_and_the_api_description_still_answer(
    api, path: str
) -> None:
    async with api.client(token=None) as client:
        response = await client.get(path)
    assert response.status_code in (200, 503), response.text  # health: 503 until connected


# -- roles --------------------------------------------------------------------------------------

READS = [
    "/v1/positions", "/v1/risk", "/v1/limits", "/v1/orders", "/v1/fills", "/v1/pnl",
    "/v1/agents/gamma-agent/params",
]  # fmt: skip
#: (method, path, body) → the least role that may.
ACTIONS: list[tuple[str, str, Any, Role]] = [
    ("PUT", "/v1/limits/SPX.max_abs_delta", {"value": 1200}, Role.ADMIN),
    ("POST", "/v1/control/halt", {"reason": "drill"}, Role.OPERATOR),
    ("POST", "/v1/control/resume", None, Role.OPERATOR),
    ("POST", "/v1/control/reduce-only", None, Role.OPERATOR),
    ("PUT", "/v1/agents/gamma-agent/params", {"max_legs": 3}, Role.OPERATOR),
    ("GET", "/v1/audit", None, Role.OPERATOR),
]
HOLDERS = {Role.VIEWER: VIEWER_TOKEN, Role.OPERATOR: OPERATOR_TOKEN, Role.ADMIN: ADMIN_TOKEN}


@pytest.mark.parametrize("role", list(Role))
async def test_given_any_role_then_every_get_answers(api, role: Role) -> None:
    async with api.client(token=HOLDERS[role]) as client:
        for path in [*READS, "/v1/decisions", "/v1/agents"]:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path", "body", "least"), ACTIONS)
async def test_given_a_role_then_it_may_do_what_its_rank_allows_and_else_403(
    api, role: Role, method: str, path: str, body: Any, least: Role
) -> None:
    async with api.client(token=HOLDERS[role]) as client:
        response = await client.request(method, path, json=body)
    if role.allows(least):
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 403, response.text
        error = error_of(response)
        assert error.error == "FORBIDDEN" and least.value in error.message
        assert role.value in error.message


def test_given_the_roles_then_each_allows_what_those_below_it_allow() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.ADMIN.allows(Role.VIEWER)
    assert Role.OPERATOR.allows(Role.VIEWER) and not Role.OPERATOR.allows(Role.ADMIN)
    assert not Role.VIEWER.allows(Role.OPERATOR)


async def test_given_a_change_then_its_changed_by_is_the_token_name(api) -> None:
    async with api.client(token=ADMIN_TOKEN) as client:
        response = await client.put("/v1/limits/SPX.max_abs_delta", json={"value": 1000})
    assert response.status_code == 200
    stored, _revision = api.desk.entries[(subjects.KV_LIMITS, "SPX")]
    assert stored.changed_by == "alice"


# -- configuration ------------------------------------------------------------------------------


def settings(**values: Any) -> ApiSettings:
    return ApiSettings(scenario=None, **values)


def test_given_no_tokens_then_the_api_is_refused_naming_the_settings() -> None:
    with pytest.raises(AuthConfigError) as refused:
        token_table(settings())
    assert "HEDGEMESH_API_TOKENS_FILE" in str(refused.value)
    assert "HEDGEMESH_DEV_MODE=1" in str(refused.value)


@pytest.mark.parametrize(
    ("values", "setting", "why"),
    [
        ({"admin_token": ""}, "HEDGEMESH_API_ADMIN_TOKEN", "well-known"),
        ({"viewer_token": "short-token"}, "HEDGEMESH_API_VIEWER_TOKEN", "32"),
        ({"operator_token": "changeme" * 4}, "HEDGEMESH_API_OPERATOR_TOKEN", "well-known"),
        ({"admin_token": "ab" * 20}, "HEDGEMESH_API_ADMIN_TOKEN", "distinct"),
        (
            {"tokens": [{"name": "ci", "role": "viewer", "sha256": sha256_hex("secret")}]},
            "HEDGEMESH_API_TOKENS",
            "well-known",
        ),
    ],
)
def test_given_an_unsafe_token_then_refused_naming_its_setting_unless_in_dev_mode(
    values: dict[str, Any], setting: str, why: str
) -> None:
    with pytest.raises(AuthConfigError) as refused:
        token_table(settings(**values))
    assert setting in str(refused.value) and why in str(refused.value)
    assert "HEDGEMESH_DEV_MODE=1" in str(refused.value)
    assert token_table(settings(dev_mode=True, **values)) is not None


def test_given_dev_mode_and_no_tokens_then_every_request_is_the_dev_admin(
    monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("HEDGEMESH_DEV_MODE", "1")
    assert ApiSettings(scenario=None).dev_mode
    assert token_table(ApiSettings(scenario=None)) is None
    assert DEV_CALLER.role is Role.ADMIN


async def test_given_dev_mode_and_no_tokens_then_the_api_is_open(tmp_path) -> None:
    h = harness(tmp_path, tokens=(), dev_mode=True)
    h.desk.put(subjects.KV_LIMITS, "SPX", risk_limits("SPX"))
    async with h.client(token=None) as client:
        read = await client.get("/v1/positions")
        changed = await client.put("/v1/limits/SPX.max_abs_delta", json={"value": 900})
    assert read.status_code == 200 and changed.status_code == 200
    stored, _revision = h.desk.entries[(subjects.KV_LIMITS, "SPX")]
    assert stored.changed_by == DEV_CALLER.name


def test_given_no_tokens_then_create_app_refuses(tmp_path) -> None:
    h = harness(tmp_path, tokens=())
    with pytest.raises(AuthConfigError):
        create_app(h.context.settings, context=h.context)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_given_a_tokens_file_then_tokens_and_digests_are_read(tmp_path: Path, suffix: str) -> None:
    entries = [
        {"name": "alice", "role": "admin", "sha256": sha256_hex(ADMIN_TOKEN)},
        {"name": "dashboard", "role": "viewer", "token": VIEWER_TOKEN},
    ]
    path = tmp_path / f"tokens{suffix}"
    path.write_text(json.dumps({"tokens": entries}))  # JSON is YAML too
    table = token_table(settings(tokens_file=path))
    assert table is not None and len(table) == 2
    assert table.caller(ADMIN_TOKEN.encode()) == Caller("alice", Role.ADMIN)
    assert table.caller(VIEWER_TOKEN.encode()) == Caller("dashboard", Role.VIEWER)
    assert table.caller(OPERATOR_TOKEN.encode()) is None
    assert table.caller(sha256_hex(ADMIN_TOKEN).encode()) is None  # the digest is no token


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("tokens: [", "not valid JSON or YAML"),
        ("just text", "must hold a list"),
        ("- {name: a, role: root, token: x}", "role"),
        (f"- {{name: a, role: admin, token: {STRONG}, sha256: {'ab' * 32}}}", "exactly one"),
        (f"- {{name: a, role: admin, token: {STRONG}, extra: 1}}", "extra"),
        (f"- {{name: a b, role: admin, token: {STRONG}}}", "name"),
        ("- {name: a, role: admin, sha256: abc}", "sha256"),
    ],
)
def test_given_a_bad_tokens_file_then_refused_naming_the_file(
    tmp_path: Path, content: str, why: str
) -> None:
    path = tmp_path / "tokens.yaml"
    path.write_text(content)
    with pytest.raises(AuthConfigError) as refused:
        token_table(settings(tokens_file=path))
    assert "HEDGEMESH_API_TOKENS_FILE" in str(refused.value) and str(path) in str(refused.value)
    assert why in str(refused.value)


def test_given_a_missing_tokens_file_then_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError, match="cannot be read"):
        token_table(settings(tokens_file=tmp_path / "nowhere.yaml"))


def test_given_two_tokens_with_one_name_or_one_secret_then_refused() -> None:
    twice = [dict(t) for t in TOKENS] + [{"name": "alice", "role": "viewer", "token": STRONG}]
    with pytest.raises(AuthConfigError, match="named 'alice'"):
        token_table(settings(tokens=twice))
    same = [dict(t) for t in TOKENS] + [{"name": "eve", "role": "admin", "token": VIEWER_TOKEN}]
    with pytest.raises(AuthConfigError, match="are the same"):
        token_table(settings(tokens=same))


def test_given_tokens_from_the_environment_then_each_role_token_is_named_after_its_role(
    monkeypatch,
) -> None:
    monkeypatch.setenv("HEDGEMESH_API_OPERATOR_TOKEN", OPERATOR_TOKEN)
    monkeypatch.setenv("HEDGEMESH_API_TOKENS", json.dumps([TOKENS[2]]))
    table = token_table(ApiSettings(scenario=None))
    assert table is not None
    assert table.caller(OPERATOR_TOKEN.encode()) == Caller("operator", Role.OPERATOR)
    assert table.caller(VIEWER_TOKEN.encode()) == Caller("dashboard", Role.VIEWER)
    assert OPERATOR_TOKEN not in repr(ApiSettings(scenario=None))


def test_given_a_token_spec_then_exactly_one_secret() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TokenSpec(name="a", role=Role.ADMIN)


# -- rate limit ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_given_a_bucket_then_burst_at_once_then_the_rate_and_how_long_to_wait() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)
    clock.now_s += 0.25
    assert limiter.take("a") == pytest.approx(0.25)
    clock.now_s += 0.25
    assert limiter.take("a") == 0.0
    clock.now_s += 100.0  # refills to the burst, no more
    assert [limiter.take("a") for _ in range(4)][-1] > 0
    assert limiter.take("b") == 0.0  # another key has its own bucket


def test_given_a_bad_rate_then_value_error() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=0, burst=1)
    with pytest.raises(ValueError):
        RateLimiter(rate_per_s=1, burst=0)


async def test_given_one_token_flooding_then_it_gets_429_and_another_token_is_served(
    tmp_path,
) -> None:
    rate_per_s = 0.01  # nothing refills within the test
    h = harness(tmp_path, rate_limit_per_s=rate_per_s, rate_limit_burst=5)
    async with h.client(token=ADMIN_TOKEN) as flood:
        answers = [(await flood.get("/v1/positions")).status_code for _ in range(8)]
        limited = await flood.get("/v1/risk")
    assert answers == [200] * 5 + [429] * 3
    assert limited.status_code == 429
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= math.ceil(1 / rate_per_s)
    error = error_of(limited)
    assert error.error == "TOO_MANY_REQUESTS" and "alice" in error.message
    async with h.client(token=VIEWER_TOKEN) as other:
        assert [(await other.get("/v1/positions")).status_code for _ in range(5)] == [200] * 5
    async with h.client(token=None) as anyone:
        assert (await anyone.get("/health")).status_code in (200, 503)  # never limited
