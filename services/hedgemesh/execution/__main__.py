"""`python -m hedgemesh.execution`: run execution until SIGTERM or Ctrl-C."""

from hedgemesh.execution.bootstrap import build
from hedgemesh.runtime.service import run_service

if __name__ == "__main__":
    run_service(build)
