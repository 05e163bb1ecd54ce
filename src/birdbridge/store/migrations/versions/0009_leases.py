"""Several workers on one database: which worker holds each link (``link_lease``), the live
workers (``bridge_worker``), and an index for the one query that finds every link with due
deliveries.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "link_lease",
        sa.Column("link", sa.String(length=64), primary_key=True),
        sa.Column("worker", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_link_lease_worker", "link_lease", ["worker"])
    op.create_table(
        "bridge_worker",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("host", sa.String(length=64), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("links", sa.Integer(), nullable=False),
        sa.Column("late", sa.Integer(), nullable=False),
        sa.Column("worst_lag", sa.Float(), nullable=False),
        sa.Column("interval", sa.Float(), nullable=False),
        sa.Column("links_hash", sa.String(length=16), nullable=False),
    )
    op.create_index("ix_delivery_open", "delivery", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_open", "delivery")
    op.drop_table("bridge_worker")
    op.drop_index("ix_link_lease_worker", "link_lease")
    op.drop_table("link_lease")
