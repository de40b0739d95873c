"""Manager: decided cycles, decisions per proposal, routed orders (outboxes), budget periods.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mgr_budget_periods",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "allocated", sa.Double(), nullable=False, comment="Premium it could spend (currency)."
        ),
        sa.Column("spent", sa.Double(), nullable=False, comment="Premium approved (currency)."),
        sa.Column(
            "risk_removed", sa.Double(), nullable=False, comment="Σ of |greek| cut, in limits."
        ),
        sa.Column(
            "efficiency", sa.Double(), nullable=True, comment="Risk removed per 1e6 of premium."
        ),
        sa.Column(
            "floor", sa.Double(), nullable=False, comment="The least it can be given (currency)."
        ),
        sa.Column(
            "next_allocation", sa.Double(), nullable=False, comment="For the following period."
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mgr_budget_periods")),
        sa.UniqueConstraint(
            "agent", "period_start", name=op.f("uq_mgr_budget_periods_agent_period_start")
        ),
    )
    op.create_index(
        op.f("ix_mgr_budget_periods_period_end"), "mgr_budget_periods", ["period_end"], unique=False
    )
    op.create_table(
        "mgr_cycles",
        sa.Column("cycle_id", sa.String(length=128), nullable=False),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column(
            "epoch",
            sa.BigInteger(),
            nullable=False,
            comment="The deciding manager leader's fencing token.",
        ),
        sa.Column(
            "trigger", sa.String(length=24), nullable=False, comment="proposals or delta_band."
        ),
        sa.Column("trading_state", sa.String(length=24), nullable=False),
        sa.Column(
            "proposals", sa.Integer(), nullable=False, comment="Proposals decided in the cycle."
        ),
        sa.Column("orders", sa.Integer(), nullable=False, comment="Orders routed."),
        sa.Column(
            "expected_cost", sa.Double(), nullable=False, comment="Spread and fees of the orders."
        ),
        sa.Column(
            "gross_notional", sa.Double(), nullable=False, comment="Σ |qty| × price × multiplier."
        ),
        sa.Column(
            "greeks_before",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="The book's, in the cycle.",
        ),
        sa.Column(
            "greeks_after",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="Expected after the orders.",
        ),
        sa.Column(
            "solver",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="Method, status, objective.",
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cycle_id", name=op.f("pk_mgr_cycles")),
    )
    op.create_index(op.f("ix_mgr_cycles_decided_at"), "mgr_cycles", ["decided_at"], unique=False)
    op.create_index(
        op.f("ix_mgr_cycles_underlying_decided_at"),
        "mgr_cycles",
        ["underlying", "decided_at"],
        unique=False,
    )
    op.create_table(
        "mgr_decisions",
        sa.Column("decision_id", sa.String(length=128), nullable=False),
        sa.Column("proposal_id", sa.String(length=128), nullable=False),
        sa.Column("cycle_id", sa.String(length=128), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=False),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=False),
        sa.Column("reason_code", sa.String(length=24), nullable=True),
        sa.Column("scale_factor", sa.Double(), nullable=False),
        sa.Column(
            "premium",
            sa.Double(),
            nullable=False,
            comment="Charged to the agent's budget (currency).",
        ),
        sa.Column(
            "risk_removed", sa.Double(), nullable=False, comment="Σ of |greek| cut, in limits."
        ),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False, comment="The decision's ts."),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False, comment="The wire Decision JSON."),
        sa.Column("proposal", sa.Text(), nullable=False, comment="The wire Proposal JSON."),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_mgr_decisions")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_mgr_decisions_proposal_id")),
    )
    op.create_index(
        op.f("ix_mgr_decisions_agent_ts"), "mgr_decisions", ["agent", "ts"], unique=False
    )
    op.create_index(op.f("ix_mgr_decisions_cycle_id"), "mgr_decisions", ["cycle_id"], unique=False)
    op.create_index(
        op.f("ix_mgr_decisions_published_at"), "mgr_decisions", ["published_at"], unique=False
    )
    op.create_index(op.f("ix_mgr_decisions_ts"), "mgr_decisions", ["ts"], unique=False)
    op.create_index(
        op.f("ix_mgr_decisions_underlying_ts"), "mgr_decisions", ["underlying", "ts"], unique=False
    )
    op.create_table(
        "mgr_orders",
        sa.Column("client_order_id", sa.String(length=128), nullable=False),
        sa.Column("cycle_id", sa.String(length=128), nullable=False),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column("instrument", sa.String(length=96), nullable=False),
        sa.Column("side", sa.String(length=24), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("limit_price", sa.Double(), nullable=True),
        sa.Column(
            "unit_cost", sa.Double(), nullable=False, comment="Expected spread and fees per unit."
        ),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False, comment="The wire Order JSON."),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["mgr_cycles.cycle_id"],
            name=op.f("fk_mgr_orders_cycle_id_mgr_cycles"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("client_order_id", name=op.f("pk_mgr_orders")),
    )
    op.create_index(op.f("ix_mgr_orders_cycle_id"), "mgr_orders", ["cycle_id"], unique=False)
    op.create_index(
        op.f("ix_mgr_orders_published_at"), "mgr_orders", ["published_at"], unique=False
    )
    op.create_index(
        op.f("ix_mgr_orders_underlying_ts"), "mgr_orders", ["underlying", "ts"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_mgr_orders_underlying_ts"), table_name="mgr_orders")
    op.drop_index(op.f("ix_mgr_orders_published_at"), table_name="mgr_orders")
    op.drop_index(op.f("ix_mgr_orders_cycle_id"), table_name="mgr_orders")
    op.drop_table("mgr_orders")
    op.drop_index(op.f("ix_mgr_decisions_underlying_ts"), table_name="mgr_decisions")
    op.drop_index(op.f("ix_mgr_decisions_ts"), table_name="mgr_decisions")
    op.drop_index(op.f("ix_mgr_decisions_published_at"), table_name="mgr_decisions")
    op.drop_index(op.f("ix_mgr_decisions_cycle_id"), table_name="mgr_decisions")
    op.drop_index(op.f("ix_mgr_decisions_agent_ts"), table_name="mgr_decisions")
    op.drop_table("mgr_decisions")
    op.drop_index(op.f("ix_mgr_cycles_underlying_decided_at"), table_name="mgr_cycles")
    op.drop_index(op.f("ix_mgr_cycles_decided_at"), table_name="mgr_cycles")
    op.drop_table("mgr_cycles")
    op.drop_index(op.f("ix_mgr_budget_periods_period_end"), table_name="mgr_budget_periods")
    op.drop_table("mgr_budget_periods")
