"""The domain imports no infrastructure: every service's `domain` code (and the libraries below
it) imports with SQLAlchemy, NATS and pydantic-settings made unimportable, in a fresh
interpreter. A domain that needs a record type, a setting or a venue fact takes it from
`hedgemesh.records`, its own plain parameters, or `hedgemesh.venue.spec`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services" / "hedgemesh"
BLOCKED = ("sqlalchemy", "nats", "pydantic_settings")
#: Pure libraries the domains build on (each imports no infrastructure either).
PURE_LIBRARIES = (
    "hedgemesh.quant",
    "hedgemesh.policies",
    "hedgemesh.market",
    "hedgemesh.venue.spec",
    "hedgemesh.records",
    "hedgemesh.wire",
)


def domain_modules() -> list[str]:
    """Every module of a service's `domain` package or `domain.py`, by dotted name."""
    found = []
    for path in sorted(SERVICES.rglob("*.py")):
        parts = path.relative_to(SERVICES.parent).with_suffix("").parts
        if "domain" in parts:
            found.append(".".join(p for p in parts if p != "__init__"))
    return found


_PROBE = """
import importlib, importlib.abc, json, sys
blocked = {blocked!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{{name}} is blocked: domain code imports no infrastructure")
        return None
sys.meta_path.insert(0, Block())
failures = {{}}
for module in {modules!r}:
    try:
        importlib.import_module(module)
    except Exception as error:
        failures[module] = f"{{type(error).__name__}}: {{error}}"
loaded = sorted(m for m in sys.modules if m.split(".")[0] in blocked)
print(json.dumps({{"failures": failures, "loaded": loaded}}))
"""


def test_the_services_have_domain_code_to_check():
    modules = domain_modules()
    for service in ("manager", "execution", "ledger", "gamma_agent", "vega_agent"):
        assert any(m.startswith(f"hedgemesh.{service}.domain") for m in modules), service


@pytest.mark.parametrize("group", ["domains", "libraries"])
def test_given_infrastructure_blocked_then_every_domain_module_still_imports(group):
    modules = domain_modules() if group == "domains" else list(PURE_LIBRARIES)
    probe = _PROBE.format(blocked=BLOCKED, modules=modules)
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failures"] == {}
    assert result["loaded"] == []
