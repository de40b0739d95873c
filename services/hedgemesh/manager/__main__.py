"""`python -m hedgemesh.manager`: run a manager replica until SIGTERM or Ctrl-C."""

from hedgemesh.manager.bootstrap import build
from hedgemesh.runtime.service import run_service

if __name__ == "__main__":
    run_service(build)
