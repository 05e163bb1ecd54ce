"""The first schema: link state, the delivery outbox and the mirror map.

Revision ID: 0001
Revises:
"""

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _utc(name: str, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "link_state",
        sa.Column("link", sa.String(64), primary_key=True),
        sa.Column("network", sa.String(16), primary_key=True),
        sa.Column("account_id", sa.String(64)),
        sa.Column("cursor", sa.String(64)),
        _utc("last_poll_at"),
        sa.Column("last_error", sa.Text()),
        _utc("last_error_at"),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("link", sa.String(64), nullable=False),
        sa.Column("source_network", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("target_network", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        _utc("next_attempt_at", nullable=False),
        sa.Column("parent_source_id", sa.String(64)),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("idempotency_token", sa.String(64), nullable=False),
        sa.Column("publishing_part", sa.Integer()),
        sa.Column("publishing_text", sa.Text()),
        _utc("publishing_started_at"),
        sa.Column("lease_owner", sa.String(64)),
        _utc("lease_until"),
        _utc("created_at", nullable=False),
        _utc("updated_at", nullable=False),
        sa.UniqueConstraint(
            "link",
            "source_network",
            "source_id",
            "target_network",
            "kind",
            name="uq_delivery_source",
        ),
    )
    op.create_index("ix_delivery_due", "delivery", ["link", "status", "next_attempt_at"])
    op.create_table(
        "mirror",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("link", sa.String(64), nullable=False),
        sa.Column("source_network", sa.String(16), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("part_index", sa.Integer(), nullable=False),
        sa.Column("target_network", sa.String(16), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=False),
        sa.Column("target_url", sa.Text()),
        _utc("created_at", nullable=False),
        sa.UniqueConstraint(
            "link",
            "source_network",
            "source_id",
            "target_network",
            "part_index",
            name="uq_mirror_source",
        ),
        sa.UniqueConstraint("link", "target_network", "target_id", name="uq_mirror_target"),
    )


def downgrade() -> None:
    op.drop_table("mirror")
    op.drop_index("ix_delivery_due", table_name="delivery")
    op.drop_table("delivery")
    op.drop_table("link_state")
