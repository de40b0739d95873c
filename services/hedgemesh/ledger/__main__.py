"""`python -m hedgemesh.ledger`: run the ledger until SIGTERM or Ctrl-C."""

from hedgemesh.ledger.bootstrap import build
from hedgemesh.runtime.service import run_service

if __name__ == "__main__":
    run_service(build)
