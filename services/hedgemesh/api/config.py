"""Settings of the API, from the environment (`HEDGEMESH_API_<FIELD>`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.api.domain.health import HealthRules
from hedgemesh.api.security.auth import TokenSpec
from hedgemesh.scenario import DEFAULT_SCENARIO


class ApiSettings(BaseSettings):
    """Where the API listens, who may call it, and how it reads the cluster."""

    model_config = SettingsConfigDict(
        env_prefix="HEDGEMESH_API_", frozen=True, extra="ignore", populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    tls_cert_file: Path | None = Field(
        default=None, description="HTTPS: the server's certificate chain (PEM); with the key."
    )
    tls_key_file: Path | None = Field(default=None, description="HTTPS: its private key (PEM).")
    port: int = Field(default=8000, ge=0, le=65_535, description="TCP port (0: any free one).")
    scenario: Path | None = Field(
        default=DEFAULT_SCENARIO,
        validation_alias=AliasChoices("scenario", "HEDGEMESH_API_SCENARIO", "HEDGEMESH_SCENARIO"),
        description="Scenario file: the underlyings the desk trades (also `HEDGEMESH_SCENARIO`).",
    )
    tokens_file: Path | None = Field(
        default=None,
        description="JSON or YAML list of tokens: {name, role, token or sha256} each "
        "(`hedgemesh up` writes one per role).",
    )
    tokens: tuple[TokenSpec, ...] = Field(
        default=(), description="Tokens as JSON, the same entries as the file's."
    )
    admin_token: SecretStr | None = Field(default=None, description="A token named admin.")
    operator_token: SecretStr | None = Field(default=None, description="A token named operator.")
    viewer_token: SecretStr | None = Field(default=None, description="A token named viewer.")
    dev_mode: bool = Field(
        default=False,
        validation_alias=AliasChoices("dev_mode", "HEDGEMESH_API_DEV_MODE", "HEDGEMESH_DEV_MODE"),
        description="Development: weak tokens are warned about, and with none the API is open "
        "(also `HEDGEMESH_DEV_MODE`).",
    )
    rate_limit_per_s: float = Field(
        default=100.0, gt=0, le=1e9, description="Requests per second per token, sustained."
    )
    rate_limit_burst: int = Field(
        default=200, ge=1, le=10**9, description="Requests per token at once, above the rate."
    )
    login_max_failures: int = Field(
        default=10, ge=1, le=10**6, description="Failed logins per client address per window."
    )
    login_window_s: float = Field(
        default=60.0, gt=0, le=86_400, description="The window of `login_max_failures` (s)."
    )
    control_timeout_s: float = Field(
        default=2.0, gt=0, le=60, description="How long to wait for the manager's reply."
    )
    status_max_age_s: float = Field(
        default=1.0, gt=0, le=3600, description="Reuse the manager's status reply this long."
    )
    kv_poll_s: float = Field(
        default=0.5, gt=0, le=3600, description="Re-read KV `limits` and `trading_state`."
    )
    heartbeat_stale_s: float = Field(
        default=10.0, gt=0, le=3600, description="An instance silent this long is shown stale."
    )
    degraded_lag_s: float = Field(
        default=HealthRules.lag_s,
        gt=0,
        le=86_400,
        description="Degraded while an acting instance lags the market more (clock s).",
    )
    degraded_pending: int = Field(
        default=HealthRules.pending,
        ge=0,
        description="Degraded while a durable consumer has more messages left behind it.",
    )
    degraded_stale_share: float = Field(
        default=HealthRules.stale_share,
        gt=0,
        le=1,
        description="Degraded while this share of the window's decisions are stale rejections.",
    )
    degraded_breach_s: float = Field(
        default=HealthRules.breach_s,
        gt=0,
        le=86_400,
        description="Degraded while a limit stays breached longer (real s).",
    )
    risk_max_age_s: float = Field(
        default=0.25, gt=0, le=3600, description="Reuse a computed risk response this long."
    )
    default_page: int = Field(default=100, ge=1, le=10_000, description="Rows per list.")
    max_page: int = Field(default=1000, ge=1, le=100_000, description="Most rows per list.")
    fast_path: bool = Field(
        default=True, description="Answer hot GETs from encoded bytes before routing."
    )
    stream_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="A control-room frame every this many seconds."
    )
    session_ttl_s: float = Field(
        default=12 * 3600.0, gt=0, le=30 * 86_400, description="A control-room sign-in lasts."
    )
    access_log: bool = Field(default=False, description="Log every request (slows the API).")
    log_level: str = Field(default="info", description="uvicorn's log level.")

    def health_rules(self) -> HealthRules:
        return HealthRules(
            lag_s=self.degraded_lag_s,
            pending=self.degraded_pending,
            stale_share=self.degraded_stale_share,
            breach_s=self.degraded_breach_s,
        )
