"""`hedgemesh audit verify`: walk the audit trail's hash chain and say whether it holds.

Exit 0 when every row chains to the one before and the rows end where the head says; 1 with
the first bad row's id and what is wrong with it; 2 when the store cannot be read. The store is
`--database-url`, else `HEDGEMESH_DATABASE_URL`, else the local default (`$HEDGEMESH_HOME`).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(commands: Any) -> None:
    audit = commands.add_parser("audit", help="check the audit trail (hash chain)")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    verify = actions.add_parser("verify", help="verify the hash chain of every audit row")
    verify.add_argument("--database-url", help="SQLAlchemy URL (default: the store's setting)")
    verify.set_defaults(func=_verify)


def _verify(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import SQLAlchemyError

    from hedgemesh.store.audit import AuditRepository
    from hedgemesh.store.db import StoreSettings, make_engine, redacted_url, session_factory

    url = args.database_url or StoreSettings().url
    engine = make_engine(url)
    try:
        verdict = AuditRepository(session_factory(engine)).verify()
    except SQLAlchemyError as error:
        reason = str(error.__cause__ or error).splitlines()[0][:300]
        print(f"audit verify: cannot read the trail at {redacted_url(url)}: {reason}")
        return 2
    finally:
        engine.dispose()
    if verdict.ok:
        print(f"audit verify: ok, {verdict.rows} rows chained, the head matches")
        return 0
    where = "the head" if verdict.bad_id is None else f"row {verdict.bad_id}"
    print(f"audit verify: BROKEN at {where} after {verdict.rows} good rows: {verdict.problem}")
    return 1
