"""Audit: the origin of each entry (the sending NATS user), a SHA-256 hash chain with its head,
and triggers that refuse UPDATE and DELETE on the trail (SQLite and PostgreSQL).

Existing rows are chained in id order here, so `hedgemesh audit verify` holds from the start.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = "api_audit is insert-only"


def upgrade() -> None:
    from hedgemesh.store.audit import GENESIS, AuditEntry, chain_hash

    with op.batch_alter_table("api_audit") as batch:
        batch.add_column(
            sa.Column(
                "origin",
                sa.String(length=128),
                server_default="api",
                nullable=False,
                comment="The NATS user that sent it (REST: api).",
            )
        )
        batch.add_column(
            sa.Column("prev_hash", sa.String(length=64), server_default="", nullable=False)
        )
        batch.add_column(
            sa.Column(
                "hash",
                sa.String(length=64),
                server_default="",
                nullable=False,
                comment="SHA-256 chain.",
            )
        )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="Rows appended so far."),
        sa.Column("hash", sa.String(length=64), nullable=False, comment="The last row's hash."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    bind = op.get_bind()
    table = sa.table(
        "api_audit",
        *(sa.column(name) for name in ("id", "actor", "role", "origin", "method", "path")),
        sa.column("at", sa.DateTime(timezone=True)),
        sa.column("status", sa.Integer()),
        *(sa.column(name, sa.JSON()) for name in ("body", "before", "after")),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    previous, count = GENESIS, 0
    for row in bind.execute(sa.select(table).order_by(table.c.id)).mappings().all():
        at = row["at"] if row["at"].tzinfo else row["at"].replace(tzinfo=UTC)
        entry = AuditEntry(
            at=at,
            actor=row["actor"],
            role=row["role"],
            origin=row["origin"],
            method=row["method"],
            path=row["path"],
            status=row["status"],
            body=row["body"],
            before=row["before"],
            after=row["after"],
        )
        digest = chain_hash(previous, entry)
        bind.execute(
            table.update().where(table.c.id == row["id"]).values(prev_hash=previous, hash=digest)
        )
        previous, count = digest, count + 1
    bind.execute(
        sa.text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :seq, :hash)"),
        {"seq": count, "hash": previous},
    )
    if bind.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER api_audit_no_{verb.lower()} BEFORE {verb} ON api_audit "
                f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END"
            )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
            "BEGIN SELECT RAISE(ABORT, 'audit_head is kept'); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION hedgemesh_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_REFUSE}: % refused', TG_OP; END $$"
        )
        op.execute(
            "CREATE TRIGGER api_audit_insert_only BEFORE UPDATE OR DELETE ON api_audit "
            "FOR EACH ROW EXECUTE FUNCTION hedgemesh_audit_refuse()"
        )
        op.execute(
            "CREATE TRIGGER api_audit_no_truncate BEFORE TRUNCATE ON api_audit "
            "FOR EACH STATEMENT EXECUTE FUNCTION hedgemesh_audit_refuse()"
        )
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head "
            "FOR EACH STATEMENT EXECUTE FUNCTION hedgemesh_audit_refuse()"
        )


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in ("api_audit_no_update", "api_audit_no_delete", "audit_head_no_delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_delete ON audit_head")
        op.execute("DROP TRIGGER IF EXISTS api_audit_no_truncate ON api_audit")
        op.execute("DROP TRIGGER IF EXISTS api_audit_insert_only ON api_audit")
        op.execute("DROP FUNCTION IF EXISTS hedgemesh_audit_refuse()")
    op.drop_table("audit_head")
    with op.batch_alter_table("api_audit") as batch:
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
        batch.drop_column("origin")
