"""HTTPS for the API by settings (`HEDGEMESH_API_TLS_CERT_FILE`, `_KEY_FILE`): the process serves
TLS with a certificate made in the test, a client trusting its CA is answered, a plain HTTP
client is not; a certificate without its key is refused at start."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from api_examples import ADMIN_TOKEN

from hedgemesh.api.__main__ import STARTUP_REFUSED

pytestmark = pytest.mark.timeout(90)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(port: int, tmp_path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEDGEMESH_")}
    return {
        **clean,
        "HEDGEMESH_API_ADMIN_TOKEN": ADMIN_TOKEN,
        "HEDGEMESH_NATS_URL": f"nats://127.0.0.1:{free_port()}",  # nobody: not needed here
        "HEDGEMESH_DATABASE_URL": f"sqlite:///{tmp_path / 'api.db'}",
        "HEDGEMESH_API_PORT": str(port),
        "HEDGEMESH_LOG_LEVEL": "WARNING",
        **extra,
    }


def _status(url: str, context: ssl.SSLContext | None) -> int:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=3, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_given_a_certificate_then_the_api_serves_https_only(tmp_path, tls_files) -> None:
    port = free_port()
    env = _env(port, tmp_path, HEDGEMESH_API_TLS_CERT_FILE=str(tls_files.cert),
               HEDGEMESH_API_TLS_KEY_FILE=str(tls_files.key))  # fmt: skip
    process = subprocess.Popen([sys.executable, "-m", "hedgemesh.api"], env=env)
    trusted = ssl.create_default_context(cafile=str(tls_files.ca))
    try:
        deadline, status = time.monotonic() + 60, None
        while status is None and time.monotonic() < deadline:
            try:
                status = _status(f"https://127.0.0.1:{port}/health", trusted)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)
        assert status is not None  # an HTTP answer, over TLS, verified against the test's CA
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            _status(f"http://127.0.0.1:{port}/health", None)
        with pytest.raises(urllib.error.URLError, match=r"(?i)certificate"):
            _status(f"https://127.0.0.1:{port}/health", ssl.create_default_context())
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_given_a_certificate_without_its_key_then_start_up_is_refused(tmp_path, tls_files):
    env = _env(free_port(), tmp_path, HEDGEMESH_API_TLS_CERT_FILE=str(tls_files.cert))
    done = subprocess.run(
        [sys.executable, "-m", "hedgemesh.api"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == STARTUP_REFUSED and "HEDGEMESH_API_TLS_KEY_FILE" in done.stderr
