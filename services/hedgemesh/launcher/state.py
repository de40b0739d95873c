"""The cluster state file, `$HEDGEMESH_HOME/cluster.json`: where NATS and the API are, and which
process runs each instance. The launcher writes it; `hedgemesh status`, `kill`, `logs` read it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "cluster.json"
HOME_ENV = "HEDGEMESH_HOME"


def home_dir(explicit: Path | None = None) -> Path:
    return (explicit or Path(os.environ.get(HOME_ENV, "var"))).resolve()


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner may read (0600), created so from the start (never readable
    by others for an instant, whatever the umask)."""
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
        file.write(text)


def write(home: Path, state: dict[str, Any]) -> None:
    """Replace the file atomically, so a reader never sees half of it; 0600, as it holds the
    admin's NATS URL with its password."""
    path = home / FILE_NAME
    tmp = path.with_suffix(".tmp")
    write_private(tmp, json.dumps(state, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


def read(home: Path) -> dict[str, Any]:
    path = home / FILE_NAME
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SystemExit(
            f"hedgemesh: no cluster is running from {home} (no {FILE_NAME}); start one with "
            f"`hedgemesh up`, or point --home / ${HOME_ENV} at its folder"
        ) from None


def remove(home: Path) -> None:
    (home / FILE_NAME).unlink(missing_ok=True)
