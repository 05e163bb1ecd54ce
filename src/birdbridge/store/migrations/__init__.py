"""The schema's migrations (Alembic: env.py and versions/)."""

# The newest revision in versions/. Opening a database that is already there needs no Alembic
# (nor Mako, which Alembic imports): store/database.py compares it with the database's
# alembic_version row and imports Alembic only when they differ. A new migration changes it;
# tests/unit/test_schema_head.py fails until it does.
HEAD_REVISION = "0009"
