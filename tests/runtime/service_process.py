"""A minimal service, run as its own process by the SIGTERM test (settings come from env)."""

from __future__ import annotations

from hedgemesh.runtime.service import Service, run_service

if __name__ == "__main__":
    run_service(lambda: Service("probe", lease="probe"))
