"""Edits and deletions: the mirror map records deleted targets; link sides remember their
last re-check of recently mirrored posts.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mirror") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("link_state") as batch:
        batch.add_column(sa.Column("rechecked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link_state") as batch:
        batch.drop_column("rechecked_at")
    with op.batch_alter_table("mirror") as batch:
        batch.drop_column("deleted_at")
