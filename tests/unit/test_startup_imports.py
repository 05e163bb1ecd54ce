"""What a start imports: `--help` parses the command line without the database, the network
clients or media; opening a database at the newest revision does without Alembic. Each case
runs in a fresh interpreter (this one has imported everything already) and names the heavy
modules it found, so a failure says which import came back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Not needed to parse the command line (typer brings rich and, for a command's options,
# pydantic: those are its own).
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "mako",
    "psycopg",
    "tweepy",
    "mastodon",
    "requests",
    "httpx",
    "PIL",
    "cryptography",
    "prometheus_client",
    "structlog",
    "apscheduler",
    "birdbridge.config",
    "birdbridge.store",
    "birdbridge.engine",
    "birdbridge.networks",
)


def imported_after(code: str, *argv: str) -> list[str]:
    """The HEAVY modules in sys.modules after running ``code`` in a new interpreter."""
    probe = (
        f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


HELP = """
from birdbridge.cli import main
sys.argv[0] = "birdbridge"
try:
    main()
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["once", "--help"],
        ["check", "--help"],
        ["status", "--help"],
        ["login", "x", "--help"],
        ["init", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    assert imported_after(HELP, *argv) == []


def test_the_init_commands_default_redirect_is_the_configs() -> None:
    from birdbridge.cli_accounts import DEFAULT_X_REDIRECT_URI as written
    from birdbridge.config import DEFAULT_X_REDIRECT_URI

    assert written == DEFAULT_X_REDIRECT_URI


def test_a_database_at_the_newest_revision_opens_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    opened = "from birdbridge.store import Store\nStore.open(sys.argv[1]).close()"
    # A new database is migrated (Alembic), one at the head is only looked at.
    assert "alembic" in imported_after(opened, url)
    assert "alembic" not in imported_after(opened, url)
    assert "mako" not in imported_after(opened, url)
