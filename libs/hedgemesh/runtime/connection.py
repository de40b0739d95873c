"""NATS connections with service-grade settings: reconnect forever, ping every second, log it all.

nats-py's defaults (60 reconnect attempts two seconds apart, a ping every two minutes) suit
scripts; a service must ride out a NATS restart and notice a dead link within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from hedgemesh.runtime import metrics
from hedgemesh.runtime.errors import JetStreamRefused, NatsUnavailable, NoResponders
from hedgemesh.runtime.permissions import DEFAULT_INBOX, inbox_prefix

log = logging.getLogger(__name__)

_ERROR_LOG_EVERY_S = 10.0


RECONNECTS = metrics.counter("nats_reconnects_total", "Reconnections to NATS after a loss.")


class NatsSettings(BaseSettings):
    """How to reach NATS; every field can be set from `HEDGEMESH_NATS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="HEDGEMESH_NATS_", frozen=True, extra="ignore")

    url: str = Field(
        default="nats://127.0.0.1:4222",
        description="Server URL, or several separated by commas (a cluster).",
    )
    name: str = Field(default="hedgemesh", description="Connection name shown by the server.")
    creds_file: Path | None = Field(default=None, description="NATS user credentials file.")
    user: str | None = Field(
        default=None, description="User name, where the server's config has users (permissions)."
    )
    password: SecretStr | None = Field(default=None, description="That user's password.")
    tls_ca_file: Path | None = Field(
        default=None,
        description="TLS: the CA that signed the server's certificate (turns TLS on; so does a "
        "`tls://` URL, trusting the system's CAs).",
    )
    tls_cert_file: Path | None = Field(
        default=None, description="TLS: this client's certificate, where the server verifies it."
    )
    tls_key_file: Path | None = Field(default=None, description="TLS: that certificate's key.")
    inbox_prefix: str | None = Field(
        default=None,
        description="Prefix of reply subjects (requests, JetStream); default `_INBOX_<user>` "
        "with a user (the only inboxes the server lets that user read), else `_INBOX`.",
    )
    reconnect_wait_s: float = Field(default=0.25, gt=0.0, le=30.0)
    ping_interval_s: float = Field(default=1.0, gt=0.0, le=120.0)
    max_outstanding_pings: int = Field(default=3, ge=1, le=100)
    connect_timeout_s: float = Field(default=2.0, gt=0.0, le=60.0)
    request_timeout_s: float = Field(
        default=2.0, gt=0.0, le=60.0, description="JetStream API and publish-ack timeout."
    )
    drain_timeout_s: float = Field(default=3.0, gt=0.0, le=60.0)

    @property
    def servers(self) -> list[str]:
        return [url.strip() for url in self.url.split(",") if url.strip()]

    def tls_context(self) -> ssl.SSLContext | None:
        """The client's TLS context: None for plain connections (no TLS setting, no `tls://`
        URL); the server's certificate is always verified, hostname included."""
        wants = any(u.startswith("tls://") for u in self.servers)
        if self.tls_ca_file is None and self.tls_cert_file is None and not wants:
            return None
        context = ssl.create_default_context(
            cafile=None if self.tls_ca_file is None else str(self.tls_ca_file)
        )
        if self.tls_cert_file is not None:
            key = None if self.tls_key_file is None else str(self.tls_key_file)
            context.load_cert_chain(str(self.tls_cert_file), key)
        return context

    @property
    def inbox(self) -> str:
        """The prefix of this connection's reply subjects (`inbox_prefix`)."""
        if self.inbox_prefix:
            return self.inbox_prefix
        return inbox_prefix(self.user) if self.user else DEFAULT_INBOX


async def connect(settings: NatsSettings, *, initial_timeout_s: float | None = None) -> Client:
    """Connect with reconnect-forever semantics.

    The first connection is retried every `reconnect_wait_s` too, so a service may start before
    NATS does; `initial_timeout_s` bounds that wait (None: wait for ever) and raises
    `TimeoutError` when it passes.
    """
    name = settings.name
    last_error = ("", -_ERROR_LOG_EVERY_S)

    async def on_error(error: Exception) -> None:
        # Reconnecting every 0.25 s repeats the same error; say it again only every 10 s.
        nonlocal last_error
        text, now = f"{type(error).__name__}: {error}", time.monotonic()
        if text != last_error[0] or now - last_error[1] >= _ERROR_LOG_EVERY_S:
            log.warning("nats %s: %s", name, text)
            last_error = (text, now)

    async def on_disconnected() -> None:
        if not nc.is_closed:  # nats-py also reports a deliberate close as a disconnect
            log.warning("nats %s: disconnected", name)

    async def on_reconnected() -> None:
        RECONNECTS.inc()
        log.info("nats %s: reconnected to %s", name, _where(nc))

    async def on_closed() -> None:
        log.info("nats %s: connection closed", name)

    nc = Client()
    # nats-py annotates its timeouts and intervals `int` but only hands them to asyncio.sleep and
    # asyncio.wait_for as seconds, so fractions work; hence the ignores on those four arguments.
    connecting = nc.connect(
        servers=settings.servers,
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=settings.reconnect_wait_s,  # type: ignore[arg-type]
        ping_interval=settings.ping_interval_s,  # type: ignore[arg-type]
        max_outstanding_pings=settings.max_outstanding_pings,
        connect_timeout=settings.connect_timeout_s,  # type: ignore[arg-type]
        drain_timeout=settings.drain_timeout_s,  # type: ignore[arg-type]
        error_cb=on_error,
        disconnected_cb=on_disconnected,
        reconnected_cb=on_reconnected,
        closed_cb=on_closed,
        user_credentials=None if settings.creds_file is None else str(settings.creds_file),
        user=settings.user,
        password=None if settings.password is None else settings.password.get_secret_value(),
        inbox_prefix=settings.inbox,
        tls=settings.tls_context(),
    )
    try:
        await asyncio.wait_for(connecting, initial_timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            await nc.close()
        raise
    log.info("nats %s: connected to %s", name, _where(nc))
    return nc


def _where(nc: Client) -> str:
    """host:port of the server connected to, never the user and password a URL may carry."""
    url = nc.connected_url
    return url.netloc.rpartition("@")[2] if url is not None else "(nowhere)"


async def drain(nc: Client, timeout_s: float = 3.0) -> None:
    """Finish in-flight deliveries, flush what was published, then close; close at once if the
    link is down or draining takes longer than `timeout_s`."""
    if nc.is_closed:
        return
    if nc.is_connected:
        try:
            await asyncio.wait_for(nc.drain(), timeout_s)
        except (TimeoutError, nats.errors.Error) as error:
            log.warning("nats %s: drain failed (%s); closing", nc.options.get("name"), error)
    if not nc.is_closed:
        try:
            await nc.close()
        except RuntimeError as error:  # nats-py flushing into a transport the server closed
            log.warning(
                "nats %s: closed with the link already gone (%s)", nc.options.get("name"), error
            )


@contextlib.contextmanager
def nats_errors(doing: str) -> Iterator[None]:
    """Turn nats-py's exceptions into the runtime's own (`NatsUnavailable`, `NoResponders`,
    `JetStreamRefused`), so service code never imports `nats` to handle them."""
    try:
        yield
    except (nats.errors.NoRespondersError, nats.js.errors.NoStreamResponseError) as error:
        raise NoResponders(f"{doing}: nobody answers") from error
    except nats.js.errors.APIError as error:
        raise JetStreamRefused(error.err_code, f"{doing}: {error.description}") from error
    except (
        TimeoutError,
        nats.errors.ConnectionClosedError,
        nats.errors.ConnectionReconnectingError,
        nats.errors.ConnectionDrainingError,
        nats.errors.OutboundBufferLimitError,
        nats.errors.StaleConnectionError,
    ) as error:
        raise NatsUnavailable(f"{doing}: {type(error).__name__} {error}".strip()) from error
