"""PostgreSQL roles per service: each may write its own tables only, read the rest, and append
to the audit trail, which nobody may change or delete.

    for statement in grant_statements("api", "hedgemesh_api", schema="public"):
        connection.execute(text(statement))

`hedgemesh db grants SERVICE ROLE` prints them for the operator to run as the database's owner
(the role that runs the migrations: `hedgemesh db migrate`, compose's one-shot). A service then
connects as its own role; at start-up its `migrate` finds the schema current and needs only to
read `alembic_version`. The triggers of migration 0007 refuse UPDATE and DELETE on `api_audit`
even to the owner; these grants mean a service's role could not lift them either.
"""

from __future__ import annotations

from hedgemesh.store.models import Base

__all__ = ["AUDITORS", "OWN_TABLES", "grant_statements"]

#: The table prefixes each service writes.
OWN_TABLES: dict[str, tuple[str, ...]] = {
    "execution": ("exec_", "fix_"),
    "ledger": ("ledger_",),
    "manager": ("mgr_",),
    "api": (),
}
#: The services that append to the audit trail (REST calls; control served over NATS).
AUDITORS = ("api", "manager", "execution")
_AUDIT, _HEAD = "api_audit", "audit_head"


def _quoted(name: str) -> str:
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{name!r} is not a plain SQL name")
    return f'"{name}"'


def grant_statements(service: str, role: str, *, schema: str = "public") -> list[str]:
    """The GRANTs giving `role` what `service` needs in `schema`, and nothing else."""
    if service not in OWN_TABLES:
        raise ValueError(f"no grants for {service!r}: one of {', '.join(OWN_TABLES)}")
    who, where = _quoted(role), _quoted(schema)
    statements = [
        f"GRANT USAGE ON SCHEMA {where} TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {where} TO {who}",
        f"GRANT SELECT ON {where}.alembic_version TO {who}",
    ]
    for table in sorted(Base.metadata.tables):
        statements.append(f"GRANT SELECT ON {where}.{_quoted(table)} TO {who}")
        if table.startswith(OWN_TABLES[service]) and OWN_TABLES[service]:
            statements.append(f"GRANT INSERT, UPDATE, DELETE ON {where}.{_quoted(table)} TO {who}")
    if service in AUDITORS:
        statements.append(f"GRANT INSERT ON {where}.{_quoted(_AUDIT)} TO {who}")
        statements.append(f"GRANT UPDATE ON {where}.{_quoted(_HEAD)} TO {who}")
    return statements
