"""Messages a person can act on: printed literally, naming the key (or variable), the problem
and the fix; config problems exit 2 without a traceback. The CLI runs as a subprocess."""

from __future__ import annotations

import os
import socket
from importlib.metadata import version
from pathlib import Path

import pytest

from birdbridge.store import Store

from ..conftest import PG_ENV, Rig
from .conftest import cli, write_config

# Every credential comes from a variable: the secrets file an operator may not have.
FROM_SECRETS = """
[bridge]
database_url = "{database_url}"

[[links]]
name = "{name}"
direction = "both"

[links.twitter]
consumer_key = "${{{prefix}_X_KEY}}"
consumer_secret = "${{{prefix}_X_SECRET}}"
access_token = "${{{prefix}_X_TOKEN}}"
access_token_secret = "${{{prefix}_X_TOKEN_SECRET}}"

[links.mastodon]
api_base_url = "https://mastodon.example"
access_token = "${{{prefix}_M_TOKEN}}"
"""


# Values for every variable FROM_SECRETS references (prefix ALICE).
SECRETS = {
    f"ALICE_{name}": f"value-of-{name.lower()}"
    for name in ("X_KEY", "X_SECRET", "X_TOKEN", "X_TOKEN_SECRET", "M_TOKEN")
}


def made(database_url: str) -> str:
    """``database_url`` after `once` or `run` would have created it (the reading commands
    refuse a SQLite file that is not there)."""
    Store.open(database_url).close()
    return database_url


def from_secrets(database_url: str, name: str = "alice", prefix: str = "ALICE") -> str:
    return FROM_SECRETS.format(database_url=database_url, name=name, prefix=prefix)


def flat(text: str) -> str:
    return " ".join(text.split())


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def failed_delivery(rig: Rig, config: Path, error: str) -> None:
    """One delivery to Mastodon failed for good with ``error`` as the server's words."""
    assert cli("once", "--config", str(config)).returncode == 0
    rig.masto.add_fault(
        kind="status",
        status=422,
        method="POST",
        path="^/api/v1/statuses$",
        times=1,
        body={"error": error},
    )
    rig.tweet("meets a refusal")
    cli("once", "--config", str(config))
    [failed] = rig.store.deliveries(statuses=["failed"])
    assert failed.last_error is not None and error in failed.last_error


# -- item 1: where the config comes from ----------------------------------------------------


def test_the_whole_config_in_a_variable_wins_over_the_config_path(tmp_path: Path) -> None:
    """The image sets BIRDBRIDGE_CONFIG=/data/birdbridge.toml; a platform without a disk sets
    BIRDBRIDGE_CONFIG_TOML as well, and means it."""
    text = from_secrets(made(f"sqlite:///{tmp_path / 'state.db'}"))
    env = {"BIRDBRIDGE_CONFIG": "/data/birdbridge.toml", "BIRDBRIDGE_CONFIG_TOML": text}
    result = cli("status", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    # --config still comes first.
    explicit = cli("status", "--config", str(tmp_path / "other.toml"), cwd=tmp_path, env=env)
    assert explicit.returncode == 2
    assert f"{tmp_path / 'other.toml'}: config file not found" in explicit.stderr


def test_no_config_anywhere_names_every_way_to_give_one(tmp_path: Path) -> None:
    env = {"BIRDBRIDGE_CONFIG": "", "BIRDBRIDGE_CONFIG_TOML": ""}
    result = cli("status", cwd=tmp_path, env=env)
    assert result.returncode == 2
    message = flat(result.stderr)
    assert "birdbridge.toml: config file not found" in message
    for way in ("--config PATH", "BIRDBRIDGE_CONFIG", "BIRDBRIDGE_CONFIG_TOML"):
        assert way in message
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"birdbridge {version('birdbridge')}"


# -- item 4: printed literally, never read as markup or emoji codes ---------------------


def test_a_config_error_prints_brackets_and_colons_literally(tmp_path: Path) -> None:
    path = tmp_path / "bb.toml"
    text = from_secrets(f"sqlite:///{tmp_path / 'state.db'}", name=":id:")
    path.write_text(
        text + '\n[links.policy]\nexclude_regex = ["[links.mastodon] :smile: (unclosed"]\n'
    )
    result = cli("status", "--config", str(path))
    assert result.returncode == 2
    message = flat(result.stderr)
    assert "links[0] (:id:).name" in message  # not an emoji
    assert "'[links.mastodon] :smile: (unclosed' is not a valid regular expression" in message
    assert "🆔" not in result.stderr and "😄" not in result.stderr
    assert "Traceback" not in result.stderr


def test_status_prints_a_stored_error_with_markup_literally(rig: Rig, tmp_path: Path) -> None:
    config = write_config(
        rig,
        tmp_path / "birdbridge.toml",
        direction="twitter-to-mastodon",
        bridge={"max_attempts": 1},
    )
    failed_delivery(rig, config, "no [/] [bold]way[/bold] :id:")
    status = cli("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert "no [/] [bold]way[/bold] :id:" in flat(status.stdout)
    assert "Traceback" not in status.stderr


# -- item 5: database_url mistakes ------------------------------------------------------------


def database_error(
    tmp_path: Path, url: str, env: dict[str, str] | None = None, exit_code: int = 2
) -> str:
    """What `status` says of a config whose database_url is ``url`` (exit 2 for a wrong URL,
    1 for a server that cannot be reached now; no traceback)."""
    path = tmp_path / "bb.toml"
    path.write_text(from_secrets(url))
    result = cli(
        "status", "--config", str(path), cwd=tmp_path, env={"DATABASE_URL": "", **(env or {})}
    )
    assert result.returncode == exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    message = flat(result.stderr)
    if env is None:
        assert f"error: {path}: bridge.database_url: " in message
    return message


def test_a_sqlite_url_with_two_slashes_is_not_taken_for_memory(tmp_path: Path) -> None:
    message = database_error(tmp_path, "sqlite://relative.db")
    assert "'relative.db' is read as a host" in message and "in memory" in message
    assert "write sqlite:///relative.db (three slashes" in message
    assert not (tmp_path / "relative.db").exists()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_a_database_in_memory_is_refused(tmp_path: Path, url: str) -> None:
    message = database_error(tmp_path, url)
    assert f"{url} is a database in memory" in message
    assert "would be forgotten at exit" in message and "sqlite:///birdbridge.db" in message


def test_a_database_whose_folder_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file, not a folder")
    message = database_error(tmp_path, f"sqlite:///{tmp_path / 'data' / 'sub' / 'state.db'}")
    assert f"cannot create {tmp_path / 'data' / 'sub' / 'state.db'}" in message
    assert f"{tmp_path / 'data'} is a file, not a folder" in message


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list\n" * 200)
    message = database_error(tmp_path, f"sqlite:///{notes}")
    assert f"{notes} is not a SQLite database" in message and "point database_url at" in message
    assert notes.read_text() == "shopping list\n" * 200  # left as it was


def test_a_database_url_naming_a_folder(tmp_path: Path) -> None:
    message = database_error(tmp_path, f"sqlite:///{tmp_path}")
    assert f"{tmp_path} is a folder: name a file in it" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_a_database_in_a_folder_this_user_cannot_write(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    message = database_error(tmp_path, f"sqlite:///{locked / 'state.db'}")
    assert f"the folder {locked} is not writable by this user" in message


def test_a_postgresql_url_that_cannot_connect_names_the_variable_it_came_from(
    tmp_path: Path,
) -> None:
    url = f"postgresql://birdbridge:hunter2@127.0.0.1:{closed_port()}/bridge"
    # A server that refuses connections may come up later (a reboot where PostgreSQL starts
    # after birdbridge): exit 1, which systemd and compose restart, not 2, which they do not.
    message = database_error(
        tmp_path, "sqlite:///unused.db", env={"DATABASE_URL": url}, exit_code=1
    )
    assert "error: DATABASE_URL (environment variable): cannot connect to PostgreSQL at " in message
    assert "database bridge" in message and "Connection refused" in message
    assert "bridge.database_url" not in message and "hunter2" not in message
    other = database_error(
        tmp_path, "sqlite:///unused.db", env={"BIRDBRIDGE_DATABASE_URL": "sqlite://"}
    )
    assert "error: BIRDBRIDGE_DATABASE_URL (environment variable): sqlite:// is a database" in other


def test_a_database_url_from_a_reference_names_the_variable(tmp_path: Path) -> None:
    message = database_error(tmp_path, "${STATE_URL}", env={"STATE_URL": "sqlite://"})
    assert "bridge.database_url (from ${STATE_URL}): sqlite:// is a database in memory" in message


def test_a_postgresql_database_that_does_not_exist(tmp_path: Path) -> None:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"needs {PG_ENV}")
    url = base.rsplit("/", 1)[0] + "/no_such_database_here"
    message = database_error(tmp_path, url)
    assert "cannot connect to PostgreSQL" in message and "no_such_database_here" in message
    assert "does not exist" in message


# -- item 6: an empty ${VAR} ------------------------------------------------------------------


def test_an_empty_variable_is_named_like_a_missing_one(tmp_path: Path) -> None:
    path = tmp_path / "bb.toml"
    path.write_text(from_secrets(f"sqlite:///{tmp_path / 'state.db'}"))
    result = cli("check", "--config", str(path), env={"ALICE_X_KEY": ""})
    assert result.returncode == 2
    message = flat(result.stderr)
    assert "links[0].twitter.consumer_key: environment variable ALICE_X_KEY is empty" in message
    assert "docker compose" in message


# -- item 7: commands that only read the database ----------------------------------------------


def test_reading_commands_run_without_the_secrets(tmp_path: Path) -> None:
    path = tmp_path / "bb.toml"
    database = made(f"sqlite:///{tmp_path / 'state.db'}")
    # Two links whose tokens come from different variables: not "the same tokens".
    path.write_text(from_secrets(database) + from_secrets(database, "bob", "BOB").split("\n", 4)[4])
    config = ("--config", str(path))
    assert cli("status", *config).returncode == 0
    resumed = cli("resume", *config)
    assert resumed.returncode == 0 and "lifted 0 pauses" in resumed.stdout
    for command in ("retry", "skip"):
        result = cli(command, "7", *config)
        assert result.returncode == 1 and "no delivery 7" in result.stderr  # read the database
    # What needs the networks still needs the secrets, and says which one is missing.
    for command in (("check",), ("explain", "https://mastodon.example/@alice/1")):
        result = cli(*command, *config)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "environment variable ALICE_X_KEY is not set" in result.stderr


def test_reading_commands_still_need_the_database_url(tmp_path: Path) -> None:
    path = tmp_path / "bb.toml"
    path.write_text(from_secrets("${STATE_URL}"))
    result = cli("status", "--config", str(path), env={"DATABASE_URL": ""})
    assert result.returncode == 2
    assert "bridge.database_url: environment variable STATE_URL is not set" in result.stderr


# -- item 10: small inconsistencies ------------------------------------------------------------


def test_retry_and_skip_of_an_unknown_delivery_say_the_same(tmp_path: Path) -> None:
    path = tmp_path / "bb.toml"
    path.write_text(from_secrets(made(f"sqlite:///{tmp_path / 'state.db'}")))
    retried = cli("retry", "999", "--config", str(path))
    skipped = cli("skip", "999", "--config", str(path))
    assert retried.returncode == skipped.returncode == 1
    assert retried.stderr == skipped.stderr
    assert "error: no delivery 999" in retried.stderr


def test_retry_clears_the_old_error_and_skip_refuses_a_published_one(
    rig: Rig, tmp_path: Path
) -> None:
    config = write_config(
        rig,
        tmp_path / "birdbridge.toml",
        direction="twitter-to-mastodon",
        bridge={"max_attempts": 1},
    )
    failed_delivery(rig, config, "Validation failed: refused once")
    [failed] = rig.store.deliveries(statuses=["failed"])
    retried = cli("retry", str(failed.id), "--config", str(config))
    assert retried.returncode == 0 and "requeued 1 delivery" in retried.stdout
    requeued = rig.store.delivery(failed.id)
    assert requeued is not None and requeued.status == "pending"
    assert requeued.last_error is None
    assert "refused once" not in cli("status", "--config", str(config)).stdout
    assert cli("once", "--config", str(config)).returncode == 0
    for command in ("retry", "skip"):
        again = cli(command, str(failed.id), "--config", str(config))
        assert again.returncode == 1
        assert f"delivery {failed.id} is done: {command} acts on only" in again.stderr


def test_explain_accepts_x_twitter_and_mastodon_in_any_case(rig: Rig, tmp_path: Path) -> None:
    config = write_config(rig, tmp_path / "birdbridge.toml")
    tweet = rig.tweet("explained by its bare id")
    for name in ("x", "X", "Twitter"):
        result = cli("explain", str(tweet["id"]), "--network", name, "--config", str(config))
        assert result.returncode == 0, result.stderr
    refused = cli("explain", "1", "--network", "bluesky", "--config", str(config))
    assert refused.returncode == 2
    message = flat(refused.stderr)
    assert "--network: 'bluesky' is not a network; use x (or twitter) or mastodon" in message
    assert "NetworkName" not in message and "Traceback" not in message


# -- item 3: a container does not restart in a loop on a configuration problem ----------------


def test_run_in_wait_mode_says_a_config_error_once_and_waits_for_sigterm(tmp_path: Path) -> None:
    """The image sets BIRDBRIDGE_ON_CONFIG_ERROR=wait: Docker cannot spare exit 2 from its
    restart policy, so `run` stays up (unhealthy) instead of exiting into a restart loop."""
    import signal
    import subprocess
    import sys
    import time

    log = tmp_path / "run.log"
    env = {
        **os.environ,
        "BIRDBRIDGE_ON_CONFIG_ERROR": "wait",
        "BIRDBRIDGE_CONFIG_TOML": "[bridge]\npoll_interval = 0\n",  # no links, a bad interval
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "birdbridge", "run"], stdout=out, stderr=out, env=env
        )
        try:
            deadline = time.monotonic() + 60
            while "not starting" not in log.read_text() and time.monotonic() < deadline:
                assert process.poll() is None, log.read_text()
                time.sleep(0.05)
            time.sleep(1.0)  # still there a moment later: waiting, not restarting
            assert process.poll() is None, log.read_text()
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 2
        finally:
            process.kill()
            process.wait()
    text = log.read_text()
    assert text.count("bridge.poll_interval") == 1, text  # said once
    assert "restart birdbridge" in text and "Traceback" not in text


def test_run_without_wait_mode_exits_2_and_an_unreachable_database_exits_1_in_either(
    tmp_path: Path,
) -> None:
    broken = cli(
        "run", env={"BIRDBRIDGE_CONFIG_TOML": "[bridge]\n", "BIRDBRIDGE_ON_CONFIG_ERROR": ""}
    )
    assert broken.returncode == 2, broken.stderr
    # A PostgreSQL server that is not up yet is not a configuration problem: exit 1 at once
    # (a supervisor restarts it), even in wait mode.
    path = tmp_path / "bb.toml"
    path.write_text(from_secrets("sqlite:///unused.db"))
    url = f"postgresql://birdbridge@127.0.0.1:{closed_port()}/bridge"
    down = cli(
        "run",
        "--config",
        str(path),
        cwd=tmp_path,
        env={"DATABASE_URL": url, "BIRDBRIDGE_ON_CONFIG_ERROR": "wait", **SECRETS},
        timeout=60,
    )
    assert down.returncode == 1, down.stderr
    assert "cannot connect to PostgreSQL" in " ".join(down.stderr.split())


def test_reading_commands_do_not_create_a_database_at_a_mistyped_path(tmp_path: Path) -> None:
    """`status` on a wrong path would otherwise show a fresh bridge, and leave folders and an
    empty database behind."""
    missing = tmp_path / "no" / "such" / "state.db"
    path = tmp_path / "bb.toml"
    path.write_text(from_secrets(f"sqlite:///{missing}"))
    for command in (("status",), ("resume",), ("retry", "1"), ("skip", "1")):
        result = cli(*command, "--config", str(path), env={"DATABASE_URL": ""})
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"there is no database at {missing}" in " ".join(result.stderr.split())
    assert not (tmp_path / "no").exists()
