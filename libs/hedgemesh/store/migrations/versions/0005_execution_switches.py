"""Execution: switches that survive a restart (the kill switch).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exec_switches",
        sa.Column("name", sa.String(length=24), nullable=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False, comment="Why, for a person."),
        sa.Column(
            "changed_by",
            sa.String(length=128),
            nullable=False,
            comment="Who engaged or released it.",
        ),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_exec_switches")),
    )


def downgrade() -> None:
    op.drop_table("exec_switches")
