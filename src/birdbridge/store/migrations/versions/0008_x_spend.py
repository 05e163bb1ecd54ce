"""What each link spends on X, per UTC day and price class, and the posts and users already
billed that day (X deduplicates reads per UTC day).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "x_spend",
        sa.Column("link", sa.String(length=64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("price_class", sa.String(length=32), primary_key=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("micros", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "x_billed",
        sa.Column("link", sa.String(length=64), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("resource", sa.String(length=80), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("x_billed")
    op.drop_table("x_spend")
