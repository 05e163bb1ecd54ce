"""A database URL that cannot work is a typed error naming the problem, never a traceback, and
never its password: wrong URLs are configuration problems (exit 2, not restarted), a server that
cannot be reached now is not (exit 1, restarted). No server is needed: each fails before or at
the connection's parameters."""

from __future__ import annotations

import pytest

from birdbridge.errors import DatabaseUnavailable, DatabaseUnusable
from birdbridge.store import Store


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql+psycopg://u:s3cretpw@127.0.0.1:notaport/test", "not a database URL"),
        ("postgresql+psycopg://u:s3cretpw@[::1/test", "not a database URL"),
        ("postgresql+asyncpg://u:s3cretpw@127.0.0.1/x", "postgresql+asyncpg is not supported"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite is not supported"),
        ("mysql://u:s3cretpw@127.0.0.1/x", "unsupported database 'mysql'"),
        # libpq refuses these parameters before connecting: retrying cannot help.
        ("postgresql+psycopg://u:s3cretpw@127.0.0.1:5432/x?sslmode=bogus", "invalid sslmode"),
        ("postgresql+psycopg://u:s3cretpw@127.0.0.1:99999/x", "invalid port"),
    ],
)
def test_a_wrong_database_url_is_a_configuration_problem(url: str, expected: str) -> None:
    with pytest.raises(DatabaseUnusable) as caught:
        Store.open(url)
    assert expected in caught.value.problem
    assert "s3cretpw" not in str(caught.value)


def test_a_server_that_refuses_connections_may_come_up_later() -> None:
    with pytest.raises(DatabaseUnavailable) as caught:
        Store.open("postgresql+psycopg://u:s3cretpw@127.0.0.1:1/x")
    assert "Connection refused" in caught.value.problem and "s3cretpw" not in str(caught.value)
