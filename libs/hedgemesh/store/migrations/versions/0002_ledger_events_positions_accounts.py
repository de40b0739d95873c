"""Ledger: booked events (one per trade or fill id), positions per instrument, accounts per
underlying.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column(
            "cash", sa.Double(), nullable=False, comment="From trades, fills and fees (currency)."
        ),
        sa.Column(
            "realised_pnl",
            sa.Double(),
            nullable=False,
            comment="Closed P&L net of fees (currency).",
        ),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column(
            "seq", sa.BigInteger(), nullable=False, comment="Events booked in this underlying."
        ),
        sa.Column("last_message_id", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("underlying", name=op.f("pk_ledger_accounts")),
    )
    op.create_table(
        "ledger_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False, comment="Trade or exec id."),
        sa.Column("kind", sa.String(length=24), nullable=False, comment="trade or fill."),
        sa.Column(
            "message_id", sa.String(length=128), nullable=False, comment="The wire message's id."
        ),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column(
            "seq",
            sa.BigInteger(),
            nullable=False,
            comment="Ledger sequence of the underlying, from 1.",
        ),
        sa.Column("instrument", sa.String(length=96), nullable=False),
        sa.Column("signed_quantity", sa.BigInteger(), nullable=False, comment="+ bought, − sold."),
        sa.Column(
            "price", sa.Double(), nullable=False, comment="Per unit of the underlying (currency)."
        ),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column(
            "cash", sa.Double(), nullable=False, comment="Cash this event moved, fees included."
        ),
        sa.Column(
            "realised_pnl", sa.Double(), nullable=False, comment="P&L it realised, net of its fees."
        ),
        sa.Column(
            "ts", sa.DateTime(timezone=True), nullable=False, comment="The trade's or report's ts."
        ),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "raw", sa.Text(), nullable=False, comment="The wire ClientTrade or ExecutionReport."
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_ledger_events_event_id")),
        sa.UniqueConstraint("underlying", "seq", name=op.f("uq_ledger_events_underlying_seq")),
    )
    op.create_table(
        "ledger_positions",
        sa.Column("instrument", sa.String(length=96), nullable=False),
        sa.Column("underlying", sa.String(length=32), nullable=False),
        sa.Column(
            "spec",
            sa.JSON(none_as_null=True),
            nullable=False,
            comment="The wire Instrument (multiplier too).",
        ),
        sa.Column(
            "quantity", sa.BigInteger(), nullable=False, comment="Signed: negative is short."
        ),
        sa.Column(
            "average_price", sa.Double(), nullable=True, comment="Average cost; NULL when flat."
        ),
        sa.Column(
            "realised_pnl",
            sa.Double(),
            nullable=False,
            comment="Closed P&L net of fees (currency).",
        ),
        sa.Column("fees", sa.Double(), nullable=False),
        sa.Column(
            "updated_seq", sa.BigInteger(), nullable=False, comment="Ledger seq of the last change."
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("instrument", name=op.f("pk_ledger_positions")),
    )
    op.create_index(
        op.f("ix_ledger_positions_underlying"), "ledger_positions", ["underlying"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_positions_underlying"), table_name="ledger_positions")
    op.drop_table("ledger_positions")
    op.drop_table("ledger_events")
    op.drop_table("ledger_accounts")
