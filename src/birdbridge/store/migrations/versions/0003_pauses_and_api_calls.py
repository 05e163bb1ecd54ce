"""Paused link sides (rate limit, usage cap, refused credentials) and API calls per hour.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("link_state") as batch:
        batch.add_column(sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("paused_kind", sa.String(16), nullable=True))
        batch.add_column(sa.Column("paused_reason", sa.Text(), nullable=True))
    op.create_table(
        "api_calls",
        sa.Column("link", sa.String(64), primary_key=True),
        sa.Column("network", sa.String(16), primary_key=True),
        sa.Column("hour", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("limited", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("api_calls")
    with op.batch_alter_table("link_state") as batch:
        batch.drop_column("paused_reason")
        batch.drop_column("paused_kind")
        batch.drop_column("paused_until")
