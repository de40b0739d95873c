"""API: the audit trail of mutating REST calls (who, what, before, after, when, outcome).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), nullable=False, comment="When the call was answered."
        ),
        sa.Column("actor", sa.String(length=128), nullable=False, comment="The token's name."),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("method", sa.String(length=24), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.Column("body", sa.JSON(none_as_null=True), nullable=True, comment="The request's."),
        sa.Column("before", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("after", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False, comment="The HTTP status answered."),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_audit")),
    )
    op.create_index(op.f("ix_api_audit_at"), "api_audit", ["at"], unique=False)
    op.create_index(op.f("ix_api_audit_actor_at"), "api_audit", ["actor", "at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_audit_actor_at"), table_name="api_audit")
    op.drop_index(op.f("ix_api_audit_at"), table_name="api_audit")
    op.drop_table("api_audit")
