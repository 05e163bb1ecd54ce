"""`birdbridge demo` as a newcomer runs it: it shows how the long toot was split, part by part,
says nothing of a temporary file it deletes, and with ``--keep`` leaves a database to look at."""

from __future__ import annotations

import re
import shutil
import sqlite3
import tempfile
from pathlib import Path

from birdbridge.demo import LONG_TOOT
from birdbridge.render.length import x_weighted_length
from birdbridge.render.split import split_text

from .conftest import cli

LINK = "https://docs.joinmastodon.org/api/"


def x_parts() -> list[str]:
    """The long toot split as X needs it (what the demo must show, in this order)."""
    return split_text(LONG_TOOT, 280, x_weighted_length)


def as_shown_on_x(part: str) -> str:
    """A pattern for a part as X shows it: X replaces each link with a t.co one."""
    return re.escape(part).replace(re.escape(LINK), r"https://t\.co/\w+")


def test_the_demo_shows_every_part_of_the_split_toot_and_no_temporary_path() -> None:
    result = cli("demo", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    parts = x_parts()
    assert len(parts) >= 2  # the toot is long enough to be split, or this proves nothing
    found = [
        re.search(rf"^\s+X {n}/{len(parts)}: {as_shown_on_x(part)}$", result.stdout, re.M)
        for n, part in enumerate(parts, start=1)
    ]
    assert all(found), result.stdout
    positions = [match.start() for match in found if match]
    assert positions == sorted(positions)  # in thread order
    assert f"a thread of {len(parts)} parts" in result.stdout
    output = result.stdout + result.stderr
    assert "birdbridge-demo-" not in output and tempfile.gettempdir() not in output
    assert "demo.db" not in output


def test_demo_keep_leaves_a_readable_database_and_says_where() -> None:
    result = cli("demo", "--keep", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"^database kept: (.+)$", result.stdout, re.M)
    assert match, result.stdout
    database = Path(match.group(1))
    try:
        assert database.is_file()
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
            mirrors = connection.execute("SELECT count(*) FROM mirror").fetchone()[0]
        assert mirrors >= 9  # every mirrored post and part of the demo
        command = re.search(r"look at it: birdbridge (status -c \S+)", result.stdout)
        assert command, result.stdout
        status = cli(*command.group(1).split())
        assert status.returncode == 0, status.stderr
        assert "alice" in status.stdout
    finally:
        shutil.rmtree(database.parent, ignore_errors=True)
