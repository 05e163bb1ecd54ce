"""A delivery remembers when its latest publish attempt began (besides the first): crash
recovery only adopts a post created while one of its calls could have been under way.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(
            sa.Column("publishing_attempt_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("publishing_attempt_at")
