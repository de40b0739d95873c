"""`python -m hedgemesh.api`: serve the REST API with uvicorn (127.0.0.1:8000 by default;
`HEDGEMESH_API_HOST`, `HEDGEMESH_API_PORT` to change) until SIGTERM or Ctrl-C, then exit 0
like every other service (uvicorn itself re-raises the signal after a graceful stop, which a
supervisor would read as a crash)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator

import uvicorn
from pydantic import ValidationError
from pydantic_settings import SettingsError

from hedgemesh.api.app import create_app
from hedgemesh.api.config import ApiSettings
from hedgemesh.api.security.auth import AuthConfigError
from hedgemesh.runtime.service import config_error_message

#: uvicorn's exit code when the server could not start (port taken, lifespan failed).
STARTUP_FAILURE = 3
#: The exit code when the settings are refused (no tokens, an unsafe one): fix, then start.
STARTUP_REFUSED = 2


class Server(uvicorn.Server):
    """uvicorn's server, with SIGTERM and SIGINT starting the graceful stop and nothing more."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {signum: signal.signal(signum, self.handle_exit) for signum in handled}
        try:
            yield
        finally:
            for signum, handler in original.items():
                signal.signal(signum, handler)


def main() -> int:
    logging.basicConfig(
        level=os.environ.get("HEDGEMESH_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = ApiSettings()
        app = create_app(settings)
    except AuthConfigError as error:
        print(f"hedgemesh.api: {error}", file=sys.stderr)
        return STARTUP_REFUSED
    except (ValidationError, SettingsError) as error:  # a bad setting: named, without a stack
        print(f"hedgemesh.api: {config_error_message(error)}", file=sys.stderr)
        return STARTUP_REFUSED
    if (settings.tls_cert_file is None) != (settings.tls_key_file is None):
        print(
            "hedgemesh.api: HTTPS needs both HEDGEMESH_API_TLS_CERT_FILE and "
            "HEDGEMESH_API_TLS_KEY_FILE",
            file=sys.stderr,
        )
        return STARTUP_REFUSED
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        access_log=settings.access_log,
        log_level=settings.log_level,
        server_header=False,
        ssl_certfile=settings.tls_cert_file,
        ssl_keyfile=settings.tls_key_file,
    )
    server = Server(config)
    server.run()
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    sys.exit(main())
