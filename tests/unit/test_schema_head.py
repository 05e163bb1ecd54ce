"""The schema's head revision written in code (store/migrations) is Alembic's own."""

from __future__ import annotations

from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory

from birdbridge.store.database import MIGRATIONS
from birdbridge.store.migrations import HEAD_REVISION


def test_the_head_revision_constant_is_alembics_head() -> None:
    # A new migration without a new HEAD_REVISION would leave every database at the old
    # revision: start-up would see "at head" and never run the migration.
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [HEAD_REVISION]
