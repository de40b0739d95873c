"""Execution: orders (one per client order id) and execution reports (one per exec id).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exec_orders",
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column(
            "message_id", sa.String(length=128), nullable=False, comment="The wire Order's id."
        ),
        sa.Column("instrument", sa.String(length=96), nullable=False, comment="Canonical symbol."),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("order_type", sa.String(length=24), nullable=False),
        sa.Column("limit_price", sa.Double(), nullable=True),
        sa.Column("time_in_force", sa.String(length=24), nullable=False),
        sa.Column("algo", sa.JSON(), nullable=False, comment="The wire algo: name and parameters."),
        sa.Column(
            "epoch", sa.BigInteger(), nullable=False, comment="The manager leader's fencing token."
        ),
        sa.Column("cycle_id", sa.String(length=128), nullable=False),
        sa.Column(
            "status",
            sa.String(length=24),
            nullable=True,
            comment="Last reported ExecStatus; NULL until the first report.",
        ),
        sa.Column("final", sa.Boolean(), nullable=False, comment="No further report follows."),
        sa.Column("cum_quantity", sa.BigInteger(), nullable=False),
        sa.Column("leaves_quantity", sa.BigInteger(), nullable=False),
        sa.Column("avg_price", sa.Double(), nullable=True),
        sa.Column("fees", sa.Double(), nullable=False, comment="Fees of all fills (currency)."),
        sa.Column(
            "last_seq",
            sa.BigInteger(),
            nullable=False,
            comment="Seq of the last report; 0 before the first.",
        ),
        sa.Column("reason_code", sa.String(length=24), nullable=True),
        sa.Column(
            "algo_state",
            sa.JSON(),
            nullable=True,
            comment="The algorithm's progress (slices sent, display refills), for a restart.",
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, comment="The order's ts."
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="The last report's ts.",
        ),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="When execution stored it.",
        ),
        sa.Column("raw", sa.Text(), nullable=False, comment="The wire Order JSON, as received."),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_exec_orders")),
    )
    op.create_index(op.f("ix_exec_orders_cycle_id"), "exec_orders", ["cycle_id"], unique=False)
    op.create_index(
        op.f("ix_exec_orders_final_created_at"),
        "exec_orders",
        ["final", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_exec_orders_underlying"), "exec_orders", ["underlying"], unique=False)
    op.create_table(
        "exec_reports",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("exec_id", sa.String(length=128), nullable=False),
        sa.Column(
            "message_id", sa.String(length=128), nullable=False, comment="The wire report's id."
        ),
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, comment="n-th report on its order, from 1."),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("is_fill", sa.Boolean(), nullable=False),
        sa.Column("last_quantity", sa.BigInteger(), nullable=True),
        sa.Column("last_price", sa.Double(), nullable=True),
        sa.Column("cum_quantity", sa.BigInteger(), nullable=False),
        sa.Column("leaves_quantity", sa.BigInteger(), nullable=False),
        sa.Column("avg_price", sa.Double(), nullable=True),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column("reason_code", sa.String(length=24), nullable=True),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False, comment="The wire ExecutionReport JSON."),
        sa.ForeignKeyConstraint(
            ["client_order_id"],
            ["exec_orders.client_order_id"],
            name=op.f("fk_exec_reports_client_order_id_exec_orders"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exec_reports")),
        sa.UniqueConstraint(
            "client_order_id", "seq", name=op.f("uq_exec_reports_client_order_id_seq")
        ),
        sa.UniqueConstraint("exec_id", name=op.f("uq_exec_reports_exec_id")),
    )
    op.create_index(
        op.f("ix_exec_reports_published_at"), "exec_reports", ["published_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_exec_reports_published_at"), table_name="exec_reports")
    op.drop_table("exec_reports")
    op.drop_index(op.f("ix_exec_orders_underlying"), table_name="exec_orders")
    op.drop_index(op.f("ix_exec_orders_final_created_at"), table_name="exec_orders")
    op.drop_index(op.f("ix_exec_orders_cycle_id"), table_name="exec_orders")
    op.drop_table("exec_orders")
