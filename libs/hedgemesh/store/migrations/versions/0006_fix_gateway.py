"""FIX gateway: session numbers, messages sent (for resend), ClOrdIDs used.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fix_sessions",
        sa.Column("counterparty", sa.String(length=128), nullable=False),
        sa.Column(
            "next_in",
            sa.BigInteger(),
            nullable=False,
            comment="The next MsgSeqNum expected from it.",
        ),
        sa.Column(
            "next_out", sa.BigInteger(), nullable=False, comment="The next MsgSeqNum we send it."
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("counterparty", name=op.f("pk_fix_sessions")),
    )
    op.create_table(
        "fix_messages",
        sa.Column("id", _KEY, autoincrement=True, nullable=False),
        sa.Column("counterparty", sa.String(length=128), nullable=False),
        sa.Column(
            "seq", sa.BigInteger(), nullable=True, comment="MsgSeqNum; NULL: no message was sent."
        ),
        sa.Column("msg_type", sa.String(length=24), nullable=False),
        sa.Column(
            "body", sa.Text(), nullable=False, comment="The body fields, JSON [[tag, value], ...]."
        ),
        sa.Column(
            "sent_at", sa.String(length=24), nullable=False, comment="The first SendingTime (52)."
        ),
        sa.Column(
            "exec_id",
            sa.String(length=128),
            nullable=True,
            comment="The execution report it came from.",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fix_messages")),
        sa.UniqueConstraint("counterparty", "seq", name=op.f("uq_fix_messages_counterparty_seq")),
        sa.UniqueConstraint("exec_id", name=op.f("uq_fix_messages_exec_id")),
    )
    op.create_table(
        "fix_requests",
        sa.Column("counterparty", sa.String(length=128), nullable=False),
        sa.Column("cl_ord_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "client_order_id", sa.String(length=128), nullable=False, comment="Execution's order."
        ),
        sa.Column("orig_cl_ord_id", sa.String(length=128), nullable=True),
        sa.Column("order_qty", sa.BigInteger(), nullable=False),
        sa.Column(
            "carried_qty",
            sa.BigInteger(),
            nullable=False,
            comment="Filled under the ClOrdIDs it replaced.",
        ),
        sa.Column(
            "carried_notional", sa.Double(), nullable=False, comment="Σ price × quantity of those."
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("counterparty", "cl_ord_id", name=op.f("pk_fix_requests")),
    )
    op.create_index(
        op.f("ix_fix_requests_client_order_id"), "fix_requests", ["client_order_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fix_requests_client_order_id"), table_name="fix_requests")
    op.drop_table("fix_requests")
    op.drop_table("fix_messages")
    op.drop_table("fix_sessions")
