"""`python -m hedgemesh.api`: serve the REST API with uvicorn (127.0.0.1:8000 by default;
`HEDGEMESH_API_HOST`, `HEDGEMESH_API_PORT` to change) until SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import os

import uvicorn

from hedgemesh.api.app import create_app
from hedgemesh.api.config import ApiSettings


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("HEDGEMESH_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = ApiSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="auto",  # uvloop when installed
        http="auto",  # httptools when installed
        access_log=settings.access_log,
        log_level=settings.log_level,
        server_header=False,
    )


if __name__ == "__main__":
    main()
