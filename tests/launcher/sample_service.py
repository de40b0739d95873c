"""A minimal real service for launcher tests: the runtime's Service with no components."""

from hedgemesh.runtime import Service, run_service

if __name__ == "__main__":
    run_service(lambda: Service("sample"))
