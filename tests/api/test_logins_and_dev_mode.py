"""Failed logins logged (never the token), audited and throttled per client address; dev mode's
open API only on loopback; a malformed HEDGEMESH_API_TOKENS never echoes a token."""

from __future__ import annotations

import httpx
import pytest
from api_examples import ADMIN_TOKEN, bearer, harness

from hedgemesh.api import __main__ as api_main
from hedgemesh.api.app import create_app
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.security.auth import AuthConfigError, token_table
from hedgemesh.api.security.logins import LoginGuard

WRONG = "wRoNg-ToKeN-0123456789abcdefghijklmnop"


def _client(h, address: str, token: str | None = None) -> httpx.AsyncClient:
    app = create_app(h.context.settings, context=h.context)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 5000)),
        base_url="http://api.test",
        headers=bearer(token) if token else None,
    )


async def test_given_wrong_tokens_then_logged_audited_and_the_address_throttled(
    tmp_path, caplog
) -> None:
    h = harness(tmp_path, login_max_failures=3, login_window_s=600)
    async with _client(h, "10.0.0.7", WRONG) as attacker:
        answers = [(await attacker.get("/v1/positions")).status_code for _ in range(3)]
        signin = await attacker.post("/v1/session", json={"token": WRONG})
        throttled = await attacker.get("/v1/positions")
    assert answers == [401, 401, 401]
    assert signin.status_code == throttled.status_code == 429
    assert "Retry-After" in throttled.headers
    async with _client(h, "10.0.0.8", ADMIN_TOKEN) as other:  # another address is not held up
        assert (await other.get("/v1/positions")).status_code == 200
        trail = (await other.get("/v1/audit", params={"actor": "anonymous"})).json()["entries"]
    assert [(e["status"], e["after"]["client"]) for e in trail] == [(401, "10.0.0.7")] * 3
    assert "failed login from 10.0.0.7" in caplog.text
    assert WRONG not in caplog.text and WRONG not in str(trail)


async def test_given_failures_then_they_age_out_of_the_window() -> None:
    now = [0.0]
    guard = LoginGuard(2, 10.0, clock=lambda: now[0])
    for _ in range(2):
        await guard.failed("a", "GET", "/x", "bad")
    assert guard.wait_s("a") == pytest.approx(10.0) and guard.wait_s("b") == 0
    now[0] = 10.5
    assert guard.wait_s("a") == 0


async def test_given_a_sign_in_with_a_wrong_token_then_it_counts_as_a_failed_login(
    tmp_path,
) -> None:
    h = harness(tmp_path, login_max_failures=1)
    async with _client(h, "10.0.0.9") as browser:
        assert (await browser.post("/v1/session", json={"token": WRONG})).status_code == 401
        assert (await browser.post("/v1/session", json={"token": ADMIN_TOKEN})).status_code == 429


def test_given_dev_mode_without_tokens_on_a_public_host_then_start_up_is_refused() -> None:
    for host in ("0.0.0.0", "10.1.2.3", "::"):
        with pytest.raises(AuthConfigError, match="loopback"):
            token_table(ApiSettings(scenario=None, dev_mode=True, host=host))
    for host in ("127.0.0.1", "::1", "localhost"):
        assert token_table(ApiSettings(scenario=None, dev_mode=True, host=host)) is None


async def test_given_dev_mode_without_tokens_then_only_loopback_clients_are_answered(
    tmp_path,
) -> None:
    h = harness(tmp_path, tokens=(), dev_mode=True)
    async with _client(h, "192.168.1.20") as remote, _client(h, "127.0.0.1") as local:
        assert (await remote.get("/v1/positions")).status_code == 403
        assert (await local.get("/v1/positions")).status_code == 200


@pytest.mark.parametrize("value", [
    f'["{WRONG}"]',
    f'{{"tokens": "{WRONG}"}}',
    f'[{{"name": "a", "role": "admin", "token": ["{WRONG}"]}}]',
    f'[{{"name": "a", "role": "boss", "token": "{WRONG}"}}]',
    WRONG,  # not JSON at all
])  # fmt: skip
def test_given_a_malformed_tokens_setting_then_refused_without_echoing_it(
    value, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("HEDGEMESH_API_TOKENS", value)
    assert api_main.main() == api_main.STARTUP_REFUSED
    err = capsys.readouterr().err
    assert "tokens" in err and WRONG not in err
