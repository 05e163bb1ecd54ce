"""A mirror that is a native repost remembers what it reposted (undone with the network's own
"undo repost" call, never by deleting a post id); a delivery keeps the fallbacks it took, and
the phase an edit posted again is in (so an interruption never loses the new version).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mirror") as batch:
        batch.add_column(sa.Column("repost_of", sa.String(64), nullable=True))
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("phase", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column("phase")
        batch.drop_column("notes")
    with op.batch_alter_table("mirror") as batch:
        batch.drop_column("repost_of")
