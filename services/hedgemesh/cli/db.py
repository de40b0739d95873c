"""`hedgemesh db migrate` and `hedgemesh db grants SERVICE ROLE` (PostgreSQL roles per service).

`migrate` brings the store to the newest schema (run it as the database's owner before the
services start with their own roles); `grants` prints the SQL giving ROLE what SERVICE needs
and no more (`hedgemesh.store.roles`): its own tables, reads, and INSERT-only on the audit.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    db = commands.add_parser("db", help="migrate the store; print per-service role grants")
    actions = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    migrate = actions.add_parser("migrate", help="upgrade the store's schema to the newest")
    migrate.add_argument("--database-url", help="SQLAlchemy URL (default: the store's setting)")
    migrate.set_defaults(func=_migrate)
    grants = actions.add_parser("grants", help="print a service role's GRANTs (PostgreSQL)")
    grants.add_argument("service", help="execution, ledger, manager or api")
    grants.add_argument("role", help="the PostgreSQL role the service connects as")
    grants.add_argument("--schema", default="public")
    grants.set_defaults(func=_grants)


def _migrate(args: argparse.Namespace) -> int:
    from hedgemesh.store.db import StoreSettings, migrate, redacted_url

    url = args.database_url or StoreSettings().url
    migrate(url)
    print(f"db migrate: {redacted_url(url)} is at the newest schema")
    return 0


def _grants(args: argparse.Namespace) -> int:
    from hedgemesh.store.roles import grant_statements

    try:
        statements = grant_statements(args.service, args.role, schema=args.schema)
    except ValueError as error:
        print(f"db grants: {error}")
        return 2
    print(";\n".join(statements) + ";")
    return 0
