"""Run ``birdbridge run`` with N idle links against the sandboxes and print what it costs.

For each database (SQLite, PostgreSQL), each number of links N and each number of workers K
(K daemons on one PostgreSQL database; today each polls every link), this starts the X and
the Mastodon sandbox in processes of their own (their CPU is not the bridge's) with N users on
each and an added latency on every API reply (50 ms by default: the ``delay`` fault on every
path), writes a config of N two-way links, starts K ``birdbridge run`` processes, lets them
warm up (the first polls, spread over the first interval, read more than an idle poll), then
measures over a window:

- CPU seconds of each daemon (utime + stime of every thread, from /proc/PID/stat): per
  link-minute, and as a share of one core;
- RSS of each daemon (VmRSS sampled every few seconds: at the window's start, its maximum and
  at its end; VmHWM is the peak since the process started);
- poll gaps, as the sandboxes saw them (independent of the bridge): per link, the time
  between two consecutive ``GET /api/v1/accounts/:id/statuses`` (the Mastodon side is read
  every cycle) whose later one falls in the window; a link whose last poll is already more
  than 1.5 x the interval before the window's end counts with that open gap too. Mean, p95,
  max; "polls missed": for each gap over 1.5 x the interval, the polls that should have
  happened in it (round(gap / interval) - 1, at least 1; an open gap: floor(gap / interval));
  as a share of the N x window / interval polls expected. "Too soon": gaps under half the
  interval (a link polled twice, e.g. by two workers). The X side is reported too, but a
  quiet X side is polled less often on purpose (``max_poll_interval``, default 600 s), so its
  gaps are long by design; ``--max-poll-interval`` equal to ``--interval`` polls it every
  cycle;
- statements per idle cycle: not from the daemon (echoing SQL would cost more than it
  measures), but from one idle link run in this process (no latency), counting
  SQLAlchemy's ``before_cursor_execute`` and ``begin`` events on the store's engine: an idle
  cycle that polls both sides, one where the quiet X side is not due (the usual one), and an
  idle delivery pass (every ``deliver_interval``); with the CPU milliseconds of each (this
  thread's). On PostgreSQL, the daemon's transactions per link-minute and the connections it
  opens per minute as the server counts them (``pg_stat_database``), and the CPU of its
  server backends (a lower bound: backends that ended within the window are not counted)
  come from the real run;
- the machine: cores busy over the window (/proc/stat), split into the daemons, the
  sandboxes, the database's backends (PostgreSQL) and the rest (other work on the machine).

The goals (issue): 5,000 links on one worker under half of one core with no poll gap over
1.5 x the interval, on PostgreSQL; the same with 3 workers sharing 5,000 links, each link
polled exactly once per interval.

    python bench/scale.py                                     # 100 and 1,000 links, 3 min
    python bench/scale.py --links 100 --db sqlite --minutes 1 --warmup 30   # a quick look
    python bench/scale.py --links 5000 --db postgresql --workers 1,3 --json out.json

Before and after, on the same machine in one run: ``--before SRC`` names another source tree
(a checkout or worktree of an older commit, e.g. ``git worktree add ../wt-base 0eb62d4``).
Each configuration (db, links, workers) then runs twice, first with the daemons importing
SRC, then with the tree this script is in (``--after SRC`` to name another), each on fresh
sandboxes and a fresh database, and the report adds the after / before ratios of CPU per
link-minute, RSS, poll gaps, polls missed, "too soon" gaps and statements per idle cycle (lower
is better for every one), in the JSON too (``comparisons``). The statements probe runs in a
subprocess for each tree (this script with ``--probe-only``, PYTHONPATH set to the tree), as
the daemons do. Extra [bridge] keys: ``--bridge-keys`` for both trees, ``--after-bridge-keys``
/ ``--before-bridge-keys`` for one; each tree gets only the keys its config.py names (the
others are listed as left out), so the older tree's config stays valid. The sandboxes are
this tree's in both runs. With K workers, a tree whose config knows ``lease_seconds`` is
expected to poll each link once per interval in all, an older one once per worker.

    python bench/scale.py --links 1000 --db postgresql --workers 1,3 --before ../wt-base \\
        --after-bridge-keys poll_threads=32,lease_seconds=30 --json bench/results/before-after.json

A quiet X side is polled after 2, 4, 8 intervals, then every ``max_poll_interval``: its
idle steady state begins about 15 minutes (60 + 120 + 240 + 480 s) after the start, so the
default warm-up (1.5 intervals) still sees the X side read more often than it will be. The
real figures (about 3 h; a quiet machine with 4 cores or more, as the sandboxes and
PostgreSQL need CPU of their own):

    python bench/scale.py --links 100,1000,5000 --db sqlite,postgresql --workers 1 \\
        --warmup 960 --minutes 10 --json bench/results/scale.json
    python bench/scale.py --links 5000 --db postgresql --workers 3 --warmup 960 \\
        --minutes 10 --json bench/results/scale-3-workers.json

PostgreSQL: ``--pg-url`` (default postgresql://postgres@127.0.0.1:5432/test) names a server
where this may create and drop databases (``bench_scale_*``). Run from the repository with
the project's environment (``PYTHONPATH=src`` for a checkout that is not installed).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing as mp
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

MASTODON_POLL = re.compile(r"^/api/v1/accounts/(\d+)/statuses$")
X_POLL = re.compile(r"^/2/users/(\d+)/tweets$")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
LATE = 1.5  # a gap over this many intervals is a late poll (the goal)
SOON = 0.5  # a gap under this many intervals is a poll twice in one interval


# -- the sandboxes, each in a process of its own -------------------------------------------
def serve_sandbox(kind: str, links: int, latency_s: float, conn: Connection) -> None:
    """Child process: one sandbox with ``links`` users, every API reply delayed by
    ``latency_s``; sends its URL and the users' tokens, then answers "log" (the API
    requests so far: method, path, time, status) until "stop"."""
    from birdbridge.sandbox.mastodon import MastodonSandbox
    from birdbridge.sandbox.x import XSandbox

    server: XSandbox | MastodonSandbox = XSandbox() if kind == "x" else MastodonSandbox()
    server.start()
    users: list[dict[str, str]] = []
    for index in range(links):
        user = server.create_user(f"bench{index:05d}")
        if isinstance(server, XSandbox):
            users.append(
                {
                    "id": user.id,
                    "consumer_key": user.consumer_key,
                    "consumer_secret": user.consumer_secret,
                    "access_token": user.access_token,
                    "access_token_secret": user.access_token_secret,
                }
            )
        else:
            users.append({"id": user.id, "access_token": user.access_token})
    if latency_s > 0:
        server.add_fault(kind="delay", delay=latency_s, times=None)  # every API path
    conn.send({"url": server.url, "users": users, "pid": os.getpid()})
    while True:
        message = conn.recv()
        if message == "log":
            conn.send([(r.method, r.path, r.at, r.status) for r in server.api_requests()])
        elif message == "stop":
            break
    server.stop()


@dataclass
class Sandbox:
    kind: str
    process: Any  # multiprocessing.Process
    conn: Connection
    url: str
    users: list[dict[str, str]]
    pid: int

    def requests(self) -> list[tuple[str, str, float, int | None]]:
        self.conn.send("log")
        return self.conn.recv()  # type: ignore[no-any-return]

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.conn.send("stop")
        self.process.join(timeout=30)
        if self.process.is_alive():
            self.process.kill()


def start_sandbox(kind: str, links: int, latency_s: float, timeout: float) -> Sandbox:
    context = mp.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(
        target=serve_sandbox, args=(kind, links, latency_s, child), daemon=True
    )
    process.start()
    if not parent.poll(timeout):
        process.kill()
        raise RuntimeError(f"the {kind} sandbox did not start within {timeout:.0f} s")
    ready = parent.recv()
    return Sandbox(kind, process, parent, ready["url"], ready["users"], ready["pid"])


# -- the config ----------------------------------------------------------------------------
def link_name(index: int) -> str:
    return f"bench{index:05d}"


def config_text(
    database_url: str,
    x: Sandbox,
    masto: Sandbox,
    links: int,
    interval: float,
    deliver_interval: float,
    max_poll_interval: float | None,
    extra: dict[str, str] | None = None,
) -> str:
    """The config of ``links`` two-way links; ``extra``: more [bridge] keys (name -> TOML
    value as written), only those the tree under test knows."""
    lines = [
        "[bridge]",
        f"database_url = {json.dumps(database_url)}",
        f"poll_interval = {interval:g}",
        f"deliver_interval = {deliver_interval:g}",
        'log_level = "info"',
        'log_format = "json"',
    ]
    if max_poll_interval is not None:
        lines.append(f"max_poll_interval = {max_poll_interval:g}")
    lines += [f"{key} = {value}" for key, value in (extra or {}).items()]
    for index in range(links):
        xu, mu = x.users[index], masto.users[index]
        lines += [
            "",
            "[[links]]",
            f'name = "{link_name(index)}"',
            'direction = "both"',
            "[links.twitter]",
            f'api_base_url = "{x.url}"',
            f'consumer_key = "{xu["consumer_key"]}"',
            f'consumer_secret = "{xu["consumer_secret"]}"',
            f'access_token = "{xu["access_token"]}"',
            f'access_token_secret = "{xu["access_token_secret"]}"',
            "[links.mastodon]",
            f'api_base_url = "{masto.url}"',
            f'access_token = "{mu["access_token"]}"',
        ]
    return "\n".join(lines) + "\n"


# -- databases -----------------------------------------------------------------------------
def psycopg_url(url: str) -> str:
    return re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)


def with_database(url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


class Postgres:
    """CREATE / DROP DATABASE and the server's statistics, on an AUTOCOMMIT connection to
    the database ``--pg-url`` names."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.url = url
        self.engine = create_engine(psycopg_url(url), isolation_level="AUTOCOMMIT")

    def query(self, sql: str, **params: Any) -> list[Any]:
        from sqlalchemy import text

        with self.engine.connect() as connection:
            result = connection.execute(text(sql), params)
            return list(result) if result.returns_rows else []

    def create(self, name: str) -> str:
        self.drop(name)
        self.query(f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)

    def drop(self, name: str) -> None:
        self.query(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def counters(self, name: str) -> tuple[int, int]:
        """Transactions (commits and rollbacks) and sessions (connections opened) in ``name``
        so far (pg_stat_database; flushed by each backend at most every second, and at the
        latest ~10 s after it went idle)."""
        self.query("SELECT pg_stat_clear_snapshot()")
        rows = self.query(
            "SELECT xact_commit + xact_rollback, sessions FROM pg_stat_database "
            "WHERE datname = :name",
            name=name,
        )
        return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)

    def backends(self, name: str) -> list[int]:
        rows = self.query("SELECT pid FROM pg_stat_activity WHERE datname = :name", name=name)
        return [int(row[0]) for row in rows]


# -- /proc ---------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float | None:
    """utime + stime of the process (all its threads), or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (bytes) and Threads of the process ({} when it is gone)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
        elif key == "Threads":
            values[key] = int(rest)
    return values


def machine_busy() -> float:
    """Busy CPU seconds of the whole machine since boot (/proc/stat), all cores."""
    numbers = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    total = sum(numbers[:8])  # user nice system idle iowait irq softirq steal
    idle = numbers[3] + numbers[4]
    return (total - idle) / CLOCK_TICK


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- statements per idle cycle ---------------------------------------------------------------
def idle_statements(
    database_url: str, interval: float, extra: dict[str, str] | None = None, cycles: int = 20
) -> dict[str, Any]:
    """One idle link in this process (sandboxes in threads, no added latency): statements
    and transactions of each kind of idle pass, and this thread's CPU milliseconds for it
    (median of ``cycles``)."""
    from sqlalchemy import event

    from birdbridge.config import parse_config
    from birdbridge.daemon import Bridge
    from birdbridge.sandbox.mastodon import MastodonSandbox
    from birdbridge.sandbox.x import XSandbox
    from birdbridge.store import Store

    with XSandbox() as x, MastodonSandbox() as masto:
        xu, mu = x.create_user("probe"), masto.create_user("probe")
        users = {
            "x": {"id": xu.id, **{k: getattr(xu, k) for k in _X_TOKENS}},
            "m": {"id": mu.id, "access_token": mu.access_token},
        }
        fake_x = Sandbox("x", None, None, x.url, [users["x"]], 0)  # type: ignore[arg-type]
        fake_m = Sandbox("m", None, None, masto.url, [users["m"]], 0)  # type: ignore[arg-type]
        text = config_text(database_url, fake_x, fake_m, 1, interval, 15, None, extra)
        config = parse_config(text, "<bench>", environ={})
        store = Store.open(config.bridge.database_url)
        try:
            engine = Bridge(config, store).engines[0]
            statements: list[str] = []
            begins = [0]

            def on_statement(*args: Any) -> None:
                statements.append(args[2])

            def on_begin(_connection: Any) -> None:
                begins[0] += 1

            event.listen(store.engine, "before_cursor_execute", on_statement)
            event.listen(store.engine, "begin", on_begin)

            def measure(run: Any, both: bool = False) -> dict[str, Any]:
                counts: list[tuple[int, int]] = []
                cpu: list[float] = []
                for _ in range(cycles):
                    if both:
                        engine._x_due = None  # the X side due, as after its quiet wait
                    statements.clear()
                    begins[0] = 0
                    started = time.thread_time()
                    run()
                    cpu.append((time.thread_time() - started) * 1000)
                    counts.append((len(statements), begins[0]))
                common = Counter(counts).most_common(1)[0][0]
                return {
                    "statements": common[0],
                    "transactions": common[1],
                    "cpu_ms": round(statistics.median(cpu), 2),
                    "kinds": dict(Counter(s.split(None, 1)[0].upper() for s in statements)),
                }

            statements.clear()
            begins[0] = 0
            engine.cycle()  # the first poll of both sides: cursors, account ids, limits
            first = {"statements": len(statements), "transactions": begins[0]}
            if not hasattr(engine, "held"):  # a tree before issue 15: a job per link
                return {
                    "first_cycle": first,
                    "idle_cycle_x_quiet": measure(engine.cycle),
                    "idle_cycle_both": measure(engine.cycle, both=True),
                    "idle_deliver": measure(engine.deliver),
                }
            # Issue 15's tree, as its daemon runs a link: the worker holds the lease (no
            # statement per cycle), the first delivery pass only when the worker's one query
            # for all links found one due, the idle writes batched per tick for all links.
            engine.held = lambda _link: True

            def idle_cycle() -> None:
                engine.cycle(deliver_first=False)

            def tick() -> None:
                idle_cycle()  # something to write: its poll times and call counts
                statements.clear()
                begins[0] = 0
                store.write_batch(*engine.take_writes())

            now = datetime.now(UTC)
            return {
                "first_cycle": first,
                "idle_cycle_x_quiet": measure(idle_cycle),
                "idle_cycle_both": measure(idle_cycle, both=True),
                "idle_deliver": {"statements": 0, "transactions": 0, "cpu_ms": 0.0, "kinds": {}},
                "per_worker": {  # whatever the number of links
                    "due_deliveries_query": measure(
                        lambda: store.links_with_due_deliveries(now)
                    ),  # every deliver_interval
                    "batch_write": measure(tick),  # every lease_seconds / 3 (20 s)
                },
            }
        finally:
            store.close()


_X_TOKENS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


# -- the source trees under test ------------------------------------------------------------
HERE_SRC = Path(__file__).resolve().parents[1] / "src"  # the tree this script belongs to
SHARING_KEY = "lease_seconds"  # a tree whose config knows it shares links between workers


@dataclass(frozen=True)
class Tree:
    """The birdbridge a daemon (and the statements probe) runs: ``src`` goes first on its
    PYTHONPATH (None: whatever the environment imports); ``bridge_keys`` are the extra
    [bridge] keys of its config, only those its config.py names."""

    label: str  # "before", "after", or "" when nothing is compared
    src: Path | None
    birdbridge_file: str
    bridge_keys: dict[str, str]
    left_out: tuple[str, ...]  # keys asked for that this tree does not know
    shares_links: bool  # several workers share the links (leases) instead of each polling all

    def env(self) -> dict[str, str]:
        """The environment of its processes: no BIRDBRIDGE_* nor DATABASE_URL of the caller
        (the config says everything), and this tree on PYTHONPATH."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BIRDBRIDGE_")}
        env.pop("DATABASE_URL", None)
        if self.src is not None:
            env["PYTHONPATH"] = str(self.src)
        return env

    def describe(self) -> str:
        keys = ", ".join(f"{k} = {v}" for k, v in self.bridge_keys.items()) or "none"
        gone = f"; left out (unknown to this tree): {', '.join(self.left_out)}"
        return f"{self.label or 'tree'}: {self.birdbridge_file}; extra [bridge] keys: {keys}" + (
            gone if self.left_out else ""
        )


def tree_src(path: Path) -> Path:
    """The directory that holds the package ``birdbridge``: PATH/src (a checkout or a
    worktree) or PATH itself."""
    for candidate in (path / "src", path):
        if (candidate / "birdbridge" / "__init__.py").is_file():
            return candidate.resolve()
    raise ValueError(f"{path}: no birdbridge package there nor in {path / 'src'}")


def parse_bridge_keys(text: str | None) -> dict[str, str]:
    """``"poll_threads=32,lease_seconds=30"`` -> {name: TOML value as written}; each value
    must be TOML (a number, true/false, a "quoted string")."""
    import tomllib

    keys: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = (p.strip() for p in part.partition("="))
        if not sep or not re.fullmatch(r"[a-z_][a-z0-9_]*", name) or not value:
            raise ValueError(f"{part.strip()!r}: expected KEY=VALUE, e.g. poll_threads=32")
        try:
            tomllib.loads(f"{name} = {value}")
        except tomllib.TOMLDecodeError:
            raise ValueError(f"{part.strip()!r}: the value is not TOML (quote strings)") from None
        keys[name] = value
    return keys


def make_tree(label: str, src: Path | None, wanted: dict[str, str]) -> Tree:
    """The tree at ``src`` (None: the environment's birdbridge), checked by importing it the
    way its daemons will; the keys of ``wanted`` its config.py does not name are left out."""
    probe_env = dict(os.environ)
    if src is not None:
        probe_env["PYTHONPATH"] = str(src)
    found = subprocess.run(
        [sys.executable, "-c", "import birdbridge; print(birdbridge.__file__)"],
        env=probe_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if found.returncode != 0:
        raise ValueError(f"{label or 'tree'}: cannot import birdbridge: {found.stderr[-300:]}")
    module = Path(found.stdout.strip()).resolve()
    if src is not None and not module.is_relative_to(src):
        raise ValueError(f"{label}: birdbridge imported from {module}, not from {src}")
    config_py = (module.parent / "config.py").read_text()

    def knows(key: str) -> bool:
        return re.search(rf"\b{re.escape(key)}\b", config_py) is not None

    return Tree(
        label=label,
        src=src,
        birdbridge_file=str(module),
        bridge_keys={k: v for k, v in wanted.items() if knows(k)},
        left_out=tuple(k for k in wanted if not knows(k)),
        shares_links=knows(SHARING_KEY),
    )


# -- the daemons -----------------------------------------------------------------------------
@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    log: Path
    started: float
    running_after: float | None = None  # seconds from start to "birdbridge running"
    samples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid


def start_daemon(config: Path, log: Path, env: dict[str, str]) -> Daemon:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "birdbridge", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return Daemon(process, log, time.monotonic())


def wait_running(daemon: Daemon, timeout: float) -> None:
    """Until the daemon logs "birdbridge running" (its scheduler started); RuntimeError when
    it exits or the timeout passes first."""
    deadline = daemon.started + timeout
    while time.monotonic() < deadline:
        if b"birdbridge running" in daemon.log.read_bytes():
            daemon.running_after = time.monotonic() - daemon.started
            return
        if daemon.process.poll() is not None:
            raise RuntimeError(
                f"birdbridge run exited with {daemon.process.returncode}: " + tail(daemon.log)
            )
        time.sleep(0.5)
    raise RuntimeError(f"birdbridge run was not running after {timeout:.0f} s: " + tail(daemon.log))


def stop_daemon(daemon: Daemon, grace: float = 20) -> int | None:
    if daemon.process.poll() is None:
        daemon.process.send_signal(signal.SIGTERM)
        try:
            daemon.process.wait(grace)
        except subprocess.TimeoutExpired:
            daemon.process.kill()
            daemon.process.wait(10)
    return daemon.process.returncode


def tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def log_summary(path: Path, window: tuple[float, float]) -> dict[str, Any]:
    """Lines of the daemon's JSON log by level, and the warnings and errors (links' numbers
    folded) with how often each came, in the window and overall."""
    from datetime import datetime

    levels: Counter[str] = Counter()
    problems: Counter[str] = Counter()
    in_window: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            levels["(not json)"] += 1
            problems["(not json) " + line[:100]] += 1
            continue
        level = str(record.get("level", "?"))
        levels[level] += 1
        if level not in ("warning", "error", "critical", "exception"):
            continue
        message = re.sub(r"\d+", "N", str(record.get("event", ""))[:140])
        problems[f"{level}: {message}"] += 1
        stamp = record.get("timestamp")
        if stamp:
            at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
            if window[0] <= at <= window[1]:
                in_window[level] += 1
    return {
        "levels": dict(levels),
        "problems_in_window": dict(in_window),
        "top_problems": problems.most_common(8),
    }


# -- poll gaps -------------------------------------------------------------------------------
def poll_times(
    requests: list[tuple[str, str, float, int | None]], pattern: re.Pattern[str]
) -> dict[str, list[float]]:
    """Times of the polls of each account id (GETs whose path matches ``pattern``)."""
    times: dict[str, list[float]] = {}
    for method, path, at, _status in requests:
        if method == "GET" and (match := pattern.match(path)):
            times.setdefault(match.group(1), []).append(at)
    return times


def gap_figures(
    times: dict[str, list[float]], accounts: list[str], window: tuple[float, float], interval: float
) -> dict[str, Any]:
    start, end = window
    gaps: list[float] = []
    missed = late = never = soon = seen = soon_links = 0
    for account in accounts:
        soon_before = soon
        polls = sorted(times.get(account, []))
        inside = [t for t in polls if start <= t <= end]
        seen += len(inside)
        if not inside:
            never += 1
        for before, after in itertools.pairwise(polls):
            if start <= after <= end:
                gap = after - before
                gaps.append(gap)
                if gap > LATE * interval:
                    late += 1
                    missed += max(1, round(gap / interval) - 1)
                elif gap < SOON * interval:
                    soon += 1
        soon_links += soon > soon_before
        open_gap = end - (polls[-1] if polls else start)
        if open_gap > LATE * interval:  # overdue already at the window's end
            gaps.append(open_gap)
            late += 1
            missed += math.floor(open_gap / interval)
    expected = len(accounts) * (end - start) / interval
    ordered = sorted(gaps)
    return {
        "polls": seen,
        "expected": round(expected),
        "per_link_per_interval": round(seen / expected, 3) if expected else None,
        "gap_mean_s": round(statistics.fmean(gaps), 1) if gaps else None,
        "gap_p95_s": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)
        if gaps
        else None,
        "gap_max_s": round(ordered[-1], 1) if gaps else None,
        "gaps_over_1_5x": late,
        "polls_missed": missed,
        "polls_missed_pct": round(100 * missed / expected, 1) if expected else None,
        "gaps_under_0_5x": soon,
        "links_polled_too_soon": soon_links,
        "links_not_polled_in_window": never,
    }


def request_figures(
    requests: list[tuple[str, str, float, int | None]], window: tuple[float, float]
) -> dict[str, Any]:
    inside = [r for r in requests if window[0] <= r[2] <= window[1]]
    statuses = Counter(str(r[3]) for r in inside if r[3] is None or r[3] >= 400)
    paths = Counter(
        r[0] + " " + re.sub(r"/\d+", "/:id", r[1]) for r in inside if r[3] is None or r[3] >= 400
    )
    return {
        "per_second": round(len(inside) / (window[1] - window[0]), 2),
        "errors": dict(statuses),
        "error_paths": paths.most_common(5),
    }


# -- one run ----------------------------------------------------------------------------------
@dataclass
class Options:
    interval: float
    deliver_interval: float
    max_poll_interval: float | None
    latency_ms: float
    minutes: float
    warmup: float
    sample: float
    startup_timeout: float
    pg_url: str
    log_dir: Path | None


def run_one(
    db: str,
    links: int,
    workers: int,
    opts: Options,
    probe: dict[str, Any],
    tmp: Path,
    tree: Tree,
) -> dict[str, Any]:
    wall = time.monotonic()
    result: dict[str, Any] = {
        "db": db,
        "links": links,
        "workers": workers,
        "tree": tree.label,
        "birdbridge": tree.birdbridge_file,
        "bridge_keys": tree.bridge_keys,
        # K workers that share the links poll each once per interval; without sharing each
        # worker polls every link.
        "polls_per_link_expected": 1 if tree.shares_links else workers,
        "interval_s": opts.interval,
        "latency_ms": opts.latency_ms,
        "load_before": load_average(),
        "idle_statements": probe,
    }
    latency = opts.latency_ms / 1000
    setup = time.monotonic()
    sandboxes = [
        start_sandbox(kind, links, latency, opts.startup_timeout) for kind in ("x", "mastodon")
    ]
    x, masto = sandboxes
    result["sandbox_setup_s"] = round(time.monotonic() - setup, 1)
    pg = Postgres(opts.pg_url) if db == "postgresql" else None
    db_name = f"bench_scale_{os.getpid()}"
    name = f"{db}-{links}-k{workers}" + (f"-{tree.label}" if tree.label else "")
    daemons: list[Daemon] = []
    try:
        if pg is not None:
            database_url = pg.create(db_name)
        else:
            sqlite_file = tmp / f"{name}.db"
            for stale in tmp.glob(f"{name}.db*"):  # a fresh database for every run
                stale.unlink()
            database_url = f"sqlite:///{sqlite_file}"
        config = tmp / f"scale-{name}.toml"
        config.write_text(
            config_text(
                database_url,
                x,
                masto,
                links,
                opts.interval,
                opts.deliver_interval,
                opts.max_poll_interval,
                tree.bridge_keys,
            )
        )
        config.chmod(0o600)
        logs = opts.log_dir or tmp
        logs.mkdir(parents=True, exist_ok=True)
        env = tree.env()
        for index in range(workers):
            log = logs / f"daemon-{name}-w{index}.log"
            daemons.append(start_daemon(config, log, env))
            if index == 0:
                # The first one migrates the database; the others then start on it.
                wait_running(daemons[0], opts.startup_timeout)
        for daemon in daemons:
            wait_running(daemon, opts.startup_timeout)
        result["startup_s"] = [round(d.running_after or 0, 1) for d in daemons]
        print(
            f"  {tree.label + ': ' if tree.label else ''}"
            f"{db} N={links} K={workers}: sandboxes ready in {result['sandbox_setup_s']} s, "
            f"daemon(s) running after {result['startup_s']} s; warming up {opts.warmup:.0f} s",
            flush=True,
        )
        sleep_watching(daemons, opts.warmup, opts.sample)
        result.update(measure_window(daemons, sandboxes, pg, db_name, opts))
    except RuntimeError as exc:
        result["error"] = str(exc)
    finally:
        result["exit_codes"] = [stop_daemon(d) for d in daemons]
        if daemons and "window" in result:
            result["daemon_logs"] = [
                {"path": str(d.log), **log_summary(d.log, tuple(result["window"]))} for d in daemons
            ]
        for sandbox in sandboxes:
            sandbox.stop()
        if pg is not None:
            pg.drop(db_name)
            pg.engine.dispose()
    result["load_after"] = load_average()
    result["run_s"] = round(time.monotonic() - wall, 1)
    return result


def sleep_watching(daemons: list[Daemon], seconds: float, step: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        for daemon in daemons:
            if daemon.process.poll() is not None:
                raise RuntimeError(
                    f"birdbridge run exited with {daemon.process.returncode}: " + tail(daemon.log)
                )
        time.sleep(min(step, left))


def measure_window(
    daemons: list[Daemon],
    sandboxes: list[Sandbox],
    pg: Postgres | None,
    db_name: str,
    opts: Options,
) -> dict[str, Any]:
    x, masto = sandboxes
    links = len(x.users)
    seconds = opts.minutes * 60
    backends_before: dict[int, float] = {}
    xacts_before = sessions_before = 0
    if pg is not None:
        xacts_before, sessions_before = pg.counters(db_name)
        backends_before = {p: cpu_seconds(p) or 0.0 for p in pg.backends(db_name)}
    start = time.time()
    busy0 = machine_busy()
    cpu0 = [cpu_seconds(d.pid) or 0.0 for d in daemons]
    box0 = [cpu_seconds(s.pid) or 0.0 for s in sandboxes]
    deadline = time.monotonic() + seconds
    while True:
        for index, daemon in enumerate(daemons):
            cpu = cpu_seconds(daemon.pid)
            status = proc_status(daemon.pid)
            if cpu is None or daemon.process.poll() is not None:
                raise RuntimeError(
                    f"birdbridge run exited with {daemon.process.returncode}: " + tail(daemon.log)
                )
            daemon.samples.append(
                {
                    "t": round(time.time() - start, 1),
                    "cpu_s": round(cpu - cpu0[index], 2),
                    "rss_mb": round(status.get("VmRSS", 0) / MB, 1),
                    "threads": status.get("Threads"),
                }
            )
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(opts.sample, left))
    end = time.time()
    cpu1 = [cpu_seconds(d.pid) or 0.0 for d in daemons]
    box1 = [cpu_seconds(s.pid) or 0.0 for s in sandboxes]
    busy1 = machine_busy()
    hwm = [proc_status(d.pid).get("VmHWM", 0) for d in daemons]
    db_figures: dict[str, Any] = {}
    if pg is not None:
        backend_cpu = 0.0
        for pid in pg.backends(db_name):
            now = cpu_seconds(pid)
            if now is not None:
                backend_cpu += now - backends_before.get(pid, 0.0)
        # pg_stat_database lags a busy backend by up to a second: let it catch up.
        time.sleep(1.5)
        xacts, sessions = pg.counters(db_name)
        xacts -= xacts_before
        sessions -= sessions_before
        db_figures = {
            "transactions": xacts,
            "transactions_per_link_minute": round(xacts / (links * opts.minutes), 2),
            "connections_opened_per_minute": round(sessions / opts.minutes, 1),
            # Backends that ended within the window are not counted: a lower bound.
            "backend_cpu_s": round(backend_cpu, 1),
        }
    window = (start, end)
    elapsed = end - start
    requests_x, requests_m = x.requests(), masto.requests()
    m_accounts = [u["id"] for u in masto.users]
    x_accounts = [u["id"] for u in x.users]
    per_daemon = []
    for index, daemon in enumerate(daemons):
        rss = [s["rss_mb"] for s in daemon.samples]
        cpu = cpu1[index] - cpu0[index]
        per_daemon.append(
            {
                "pid": daemon.pid,
                "cpu_s": round(cpu, 1),
                "core_share": round(cpu / elapsed, 3),
                "rss_start_mb": rss[0],
                "rss_max_mb": max(rss),
                "rss_end_mb": rss[-1],
                "rss_peak_since_start_mb": round(hwm[index] / MB, 1),
                "threads_max": max(s["threads"] or 0 for s in daemon.samples),
                "samples": daemon.samples,
            }
        )
    cpu_total = sum(d["cpu_s"] for d in per_daemon)
    sandbox_cpu = sum(b - a for a, b in zip(box0, box1, strict=True))
    machine = busy1 - busy0
    db_cpu = db_figures.get("backend_cpu_s", 0.0)
    cores = os.cpu_count() or 1
    x_times = poll_times(requests_x, X_POLL)
    return {
        "window": [start, end],
        "window_s": round(elapsed, 1),
        "warmup_s": opts.warmup,
        "cpu_s": round(cpu_total, 1),
        "cpu_s_per_link_minute": round(cpu_total / (links * elapsed / 60), 5),
        "core_share": round(cpu_total / elapsed, 3),
        "daemons": per_daemon,
        "mastodon_polls": gap_figures(
            poll_times(requests_m, MASTODON_POLL), m_accounts, window, opts.interval
        ),
        "x_polls": {
            **gap_figures(x_times, x_accounts, window, opts.interval),
            "per_link_minute": round(
                sum(1 for ts in x_times.values() for t in ts if start <= t <= end)
                / (links * elapsed / 60),
                3,
            ),
        },
        "x_requests": request_figures(requests_x, window),
        "mastodon_requests": request_figures(requests_m, window),
        "database": db_figures,
        "machine": {
            "cores": cores,
            "busy_cores": round(machine / elapsed, 2),
            "daemons_cores": round(cpu_total / elapsed, 2),
            "sandboxes_cores": round(sandbox_cpu / elapsed, 2),
            "database_cores": round(db_cpu / elapsed, 2),
            "other_cores": round((machine - cpu_total - sandbox_cpu - db_cpu) / elapsed, 2),
            "load_during": load_average(),
        },
    }


# -- printing ---------------------------------------------------------------------------------
def estimated_statements(result: dict[str, Any], deliver_interval: float) -> float | None:
    """Statements per link-minute of the daemon's idle steady state: each cycle (from the
    Mastodon polls seen) as a quiet one, each X poll seen as the extra of a cycle that polls
    both, and a delivery pass every ``deliver_interval``."""
    probe = result.get("idle_statements") or {}
    if "mastodon_polls" not in result or "idle_cycle_x_quiet" not in probe:
        return None
    minutes = result["window_s"] / 60 * result["links"]
    cycles = result["mastodon_polls"]["polls"] / minutes
    x_polls = result["x_polls"]["per_link_minute"]
    quiet = probe["idle_cycle_x_quiet"]["statements"]
    both = probe["idle_cycle_both"]["statements"]
    deliver = probe["idle_deliver"]["statements"]
    per_link = cycles * quiet + x_polls * (both - quiet) + 60 / deliver_interval * deliver
    worker = probe.get("per_worker")
    if worker:  # one query per deliver_interval and a batch per tick, shared by the links
        per_minute = 60 / deliver_interval * worker["due_deliveries_query"]["statements"]
        per_minute += 3 * worker["batch_write"]["statements"]  # a tick every 20 s
        per_link += per_minute * result.get("workers", 1) / result["links"]
    return round(per_link, 1)


def report(result: dict[str, Any], deliver_interval: float) -> str:
    db, links, workers = result["db"], result["links"], result["workers"]
    tree = f"{result['tree']}: " if result.get("tree") else ""
    head = f"== {tree}{db}, {links:,} links, {workers} worker{'s' if workers > 1 else ''}"
    if "error" in result and "window_s" not in result:
        return (
            f"{head}: FAILED after {result['run_s']} s ==\n  {result['error']}\n"
            f"  sandboxes set up in {result.get('sandbox_setup_s')} s; "
            f"load {result['load_before']} -> {result['load_after']}"
        )
    interval = result["interval_s"]
    m, xp = result["mastodon_polls"], result["x_polls"]
    probe = result["idle_statements"]
    mach = result["machine"]
    lines = [
        f"{head}: {result['window_s']:.0f} s window after {result['warmup_s']:.0f} s warm-up, "
        f"poll every {interval:g} s, {result['latency_ms']:g} ms per API reply ==",
        f"  startup              sandboxes {result['sandbox_setup_s']} s; daemon(s) running "
        f"after {', '.join(f'{s} s' for s in result['startup_s'])}",
        f"  daemon CPU           {result['cpu_s']:.1f} s = {100 * result['core_share']:.1f} % "
        f"of one core; {result['cpu_s_per_link_minute']:.5f} CPU s per link-minute"
        + (
            " (saturated: fewer cycles than asked, so less work per link)"
            if (m["per_link_per_interval"] or 0)
            < 0.9 * result.get("polls_per_link_expected", result["workers"])
            else ""
        ),
    ]
    for index, d in enumerate(result["daemons"]):
        who = f"worker {index}" if workers > 1 else "RSS"
        lines.append(
            f"  {who:<20} start {d['rss_start_mb']:.0f} MB, max {d['rss_max_mb']:.0f} MB, "
            f"end {d['rss_end_mb']:.0f} MB (peak since start {d['rss_peak_since_start_mb']:.0f}"
            f" MB); {d['threads_max']} threads"
            + (f"; {100 * d['core_share']:.1f} % of a core" if workers > 1 else "")
        )
    lines += [
        f"  poll gaps (Mastodon) mean {m['gap_mean_s']} s, p95 {m['gap_p95_s']} s, "
        f"max {m['gap_max_s']} s; {m['polls']:,} polls of {m['expected']:,} expected "
        f"({m['per_link_per_interval']} per link per interval)",
        f"  polls missed         {m['polls_missed']:,} ({m['polls_missed_pct']} %); "
        f"{m['gaps_over_1_5x']:,} gaps over 1.5 x; {m['links_not_polled_in_window']:,} links "
        f"not polled in the window",
        f"  too soon             {m['gaps_under_0_5x']:,} gaps under 0.5 x the interval (a link "
        f"polled twice), on {m.get('links_polled_too_soon', '?')} of {links:,} links",
        f"  X polls              {xp['per_link_minute']} per link-minute (quiet side: backed "
        f"off by design); max gap {xp['gap_max_s']} s",
        f"  API calls            X {result['x_requests']['per_second']}/s, Mastodon "
        f"{result['mastodon_requests']['per_second']}/s; errors: "
        f"{_errors(result['x_requests'], result['mastodon_requests'])}",
        "  statements (idle)    "
        + (
            f"cycle {_sql(probe['idle_cycle_x_quiet'])} (X quiet), "
            f"{_sql(probe['idle_cycle_both'])} (both sides); delivery pass "
            f"{_sql(probe['idle_deliver'])}; first cycle {_sql(probe['first_cycle'])}; "
            f"est. {estimated_statements(result, deliver_interval)} per link-minute"
            if "idle_cycle_x_quiet" in probe
            else f"no figures: {probe.get('error', 'the probe did not run')}"[:400]
        ),
    ]
    if result["database"]:
        data = result["database"]
        lines.append(
            f"  PostgreSQL           {data['transactions_per_link_minute']} transactions per "
            f"link-minute, {data.get('connections_opened_per_minute')} connections opened per "
            f"minute (pg_stat_database); backends' CPU {data['backend_cpu_s']} s (at least)"
        )
    lines.append(
        f"  machine              {mach['cores']} cores, {mach['busy_cores']} busy: daemon(s) "
        f"{mach['daemons_cores']}, sandboxes {mach['sandboxes_cores']}, database "
        f"{mach['database_cores']}, other {mach['other_cores']}; load {result['load_before']}"
        f" -> {mach['load_during']}"
    )
    for index, summary in enumerate(result.get("daemon_logs", [])):
        levels = summary["levels"]
        top = "; ".join(f"{n}x {text}" for text, n in summary["top_problems"][:3]) or "none"
        lines.append(
            f"  daemon log{f' {index}' if workers > 1 else ''}           "
            f"{levels.get('error', 0)} errors, {levels.get('warning', 0)} warnings "
            f"({sum(summary['problems_in_window'].values())} in the window): {top}"[:400]
        )
    lines.append("  goal                 " + _goal(result))
    if "error" in result:
        lines.append(f"  ERROR                {result['error']}")
    lines.append(f"  run took            {result['run_s']:.0f} s")
    return "\n".join(lines)


def _sql(figures: dict[str, Any]) -> str:
    cpu = f", {figures['cpu_ms']} ms CPU" if "cpu_ms" in figures else ""
    return f"{figures['statements']} stmts/{figures['transactions']} tx{cpu}"


def _errors(*sides: dict[str, Any]) -> str:
    parts = [f"{n}x {path}" for side in sides for path, n in side["error_paths"]]
    return "; ".join(parts) or "none"


def _goal(result: dict[str, Any]) -> str:
    m = result["mastodon_polls"]
    cpu_ok = all(d["core_share"] < 0.5 for d in result["daemons"])
    gaps_ok = m["gaps_over_1_5x"] == 0
    text = (
        f"under half a core per worker: {'yes' if cpu_ok else 'NO'}; "
        f"no gap over 1.5 x the interval: {'yes' if gaps_ok else 'NO'}"
    )
    if result["workers"] > 1:
        once = m["gaps_under_0_5x"] == 0 and abs(m["per_link_per_interval"] - 1) < 0.05
        text += f"; each link polled once per interval: {'yes' if once else 'NO'}"
    return text


def summary_table(results: list[dict[str, Any]]) -> str:
    trees = any(r.get("tree") for r in results)
    head = ["db", "links", "K"] + (["tree"] if trees else [])
    rows = [
        (
            *head,
            "core %",
            "CPU s/link-min",
            "RSS max MB",
            "RSS end MB",
            "stmts/idle cycle",
            "gap mean",
            "p95",
            "max",
            "missed %",
            "too soon",
        )
    ]
    for r in results:
        key = [r["db"], f"{r['links']:,}", str(r["workers"])] + ([r["tree"]] if trees else [])
        if "window_s" not in r:
            rows.append((*key, "failed", *[""] * (len(rows[0]) - len(key) - 1)))
            continue
        m = r["mastodon_polls"]
        rows.append(
            (
                *key,
                f"{100 * r['core_share']:.1f}",
                f"{r['cpu_s_per_link_minute']:.5f}",
                f"{max(d['rss_max_mb'] for d in r['daemons']):.0f}",
                f"{max(d['rss_end_mb'] for d in r['daemons']):.0f}",
                _idle_cycle(r["idle_statements"]),
                f"{m['gap_mean_s']}",
                f"{m['gap_p95_s']}",
                f"{m['gap_max_s']}",
                f"{m['polls_missed_pct']}",
                f"{m['gaps_under_0_5x']}",
            )
        )
    return _table(rows)


def _table(rows: Sequence[Sequence[str]], left: int = 0) -> str:
    """Columns padded to their widest cell: the first ``left`` ones left-aligned, the others
    right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def _idle_cycle(probe: dict[str, Any]) -> str:
    """Statements of an idle cycle, X side quiet / both sides polled ("?" without a probe)."""
    if "idle_cycle_x_quiet" not in probe:
        return "?"
    return f"{probe['idle_cycle_x_quiet']['statements']}/{probe['idle_cycle_both']['statements']}"


# -- before and after ---------------------------------------------------------------------------
# (name, label, how to read it from one run's result); lower is better for every one of them.
COMPARED: list[tuple[str, str, Any]] = [
    ("cpu_s_per_link_minute", "CPU s per link-minute", lambda r: r["cpu_s_per_link_minute"]),
    ("core_share_max", "core share (busiest worker)", lambda r: _most(r, "core_share")),
    ("rss_max_mb", "RSS max MB (largest worker)", lambda r: _most(r, "rss_max_mb")),
    ("rss_end_mb", "RSS end MB (largest worker)", lambda r: _most(r, "rss_end_mb")),
    ("gap_mean_s", "poll gap mean s", lambda r: r["mastodon_polls"]["gap_mean_s"]),
    ("gap_p95_s", "poll gap p95 s", lambda r: r["mastodon_polls"]["gap_p95_s"]),
    ("gap_max_s", "poll gap max s", lambda r: r["mastodon_polls"]["gap_max_s"]),
    ("gaps_over_1_5x", "gaps over 1.5 x", lambda r: r["mastodon_polls"]["gaps_over_1_5x"]),
    ("polls_missed", "polls missed", lambda r: r["mastodon_polls"]["polls_missed"]),
    ("too_soon", "too soon (gaps under 0.5 x)", lambda r: r["mastodon_polls"]["gaps_under_0_5x"]),
    (
        "stmts_idle_cycle_x_quiet",
        "statements per idle cycle (X quiet)",
        lambda r: r["idle_statements"]["idle_cycle_x_quiet"]["statements"],
    ),
    (
        "stmts_idle_cycle_both",
        "statements per idle cycle (both)",
        lambda r: r["idle_statements"]["idle_cycle_both"]["statements"],
    ),
    (
        "stmts_idle_deliver",
        "statements per delivery pass",
        lambda r: r["idle_statements"]["idle_deliver"]["statements"],
    ),
    (
        "pg_transactions_per_link_minute",
        "PostgreSQL transactions per link-minute",
        lambda r: r["database"]["transactions_per_link_minute"],
    ),
]


def _most(result: dict[str, Any], key: str) -> float:
    return max(float(d[key]) for d in result["daemons"])


def ratio(before: float | None, after: float | None) -> float | None:
    """after / before; 1.0 when both are 0; None when it means nothing (a figure missing, or
    0 before and more after)."""
    if before is None or after is None:
        return None
    if before == 0:
        return 1.0 if after == 0 else None
    return round(after / before, 3)


def compare(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The figures of one configuration (db, links, workers) before and after, with their
    ratios after / before."""
    out: dict[str, Any] = {
        "db": after["db"],
        "links": after["links"],
        "workers": after["workers"],
        "figures": {},
    }
    failed = [r["tree"] for r in (before, after) if "window_s" not in r]
    if failed:
        out["error"] = f"no figures: the {' and '.join(failed)} run failed"
        return out
    for name, _label, read in COMPARED:
        values: list[float | None] = []
        for result in (before, after):
            try:
                values.append(read(result))
            except (KeyError, TypeError):  # no probe, no PostgreSQL, no gap
                values.append(None)
        if values == [None, None]:
            continue
        out["figures"][name] = {
            "before": values[0],
            "after": values[1],
            "ratio": ratio(values[0], values[1]),
        }
    return out


def comparison_report(comparison: dict[str, Any]) -> str:
    workers = comparison["workers"]
    head = (
        f"== after / before: {comparison['db']}, {comparison['links']:,} links, {workers} "
        f"worker{'s' if workers > 1 else ''} =="
    )
    if "error" in comparison:
        return f"{head}\n  {comparison['error']}"
    labels = {name: label for name, label, _read in COMPARED}
    rows = [("", "before", "after", "after/before")]
    for name, figure in comparison["figures"].items():
        rows.append(
            (
                labels[name],
                _value(figure["before"]),
                _value(figure["after"]),
                _ratio_text(figure),
            )
        )
    table = _table(rows, left=1).splitlines()
    return "\n".join([head] + ["  " + line for line in table])


def comparison_table(comparisons: list[dict[str, Any]]) -> str:
    rows = [
        (
            "db",
            "links",
            "K",
            "CPU/link-min x",
            "RSS max x",
            "gap max x",
            "missed b->a",
            "too soon b->a",
            "stmts/idle cycle b->a",
        )
    ]
    for c in comparisons:
        key = (c["db"], f"{c['links']:,}", str(c["workers"]))
        if "error" in c:
            rows.append((*key, "failed", *[""] * 5))
            continue
        f = c["figures"]

        def x(name: str, f: dict[str, Any] = f) -> str:
            return _ratio_text(f[name]) if name in f else "-"

        def moved(name: str, f: dict[str, Any] = f) -> str:
            if name not in f:
                return "-"
            return f"{_value(f[name]['before'])}->{_value(f[name]['after'])}"

        rows.append(
            (
                *key,
                x("cpu_s_per_link_minute"),
                x("rss_max_mb"),
                x("gap_max_s"),
                moved("polls_missed"),
                moved("too_soon"),
                moved("stmts_idle_cycle_x_quiet"),
            )
        )
    return _table(rows)


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _ratio_text(figure: dict[str, Any]) -> str:
    if figure["ratio"] is not None:
        return f"{figure['ratio']:.2f}"
    if figure["before"] == 0:
        return "(0 before)"
    return "-"


# -- main -------------------------------------------------------------------------------------
def numbers(text: str) -> list[int]:
    return [int(part.replace("_", "").replace(",", "")) for part in text.split(",") if part]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--links", default="100,1000", help="numbers of links (default 100,1000)")
    parser.add_argument("--db", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument(
        "--workers", default="1", help="daemons on one database, e.g. 1,3 (PostgreSQL only)"
    )
    parser.add_argument("--interval", type=float, default=60, help="poll_interval (s)")
    parser.add_argument("--deliver-interval", type=float, default=15, help="deliver_interval")
    parser.add_argument(
        "--max-poll-interval",
        type=float,
        help="max_poll_interval (s); default: the daemon's (a quiet X side backs off to 600 s)",
    )
    parser.add_argument("--latency-ms", type=float, default=50, help="added to each API reply")
    parser.add_argument("--minutes", type=float, default=3, help="measured window (default 3)")
    parser.add_argument(
        "--warmup", type=float, help="seconds before the window (default 1.5 x the interval)"
    )
    parser.add_argument("--sample", type=float, default=5, help="seconds between RSS samples")
    parser.add_argument(
        "--startup-timeout", type=float, default=600, help="seconds for sandboxes and daemons"
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="a PostgreSQL server where bench_scale_* databases may be created and dropped",
    )
    parser.add_argument("--log-dir", type=Path, help="keep the daemons' logs here")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="SRC",
        help="also run every configuration with the birdbridge of this source tree (a checkout "
        "or worktree, or its src/) first, and print after / before ratios",
    )
    parser.add_argument(
        "--after",
        type=Path,
        metavar="SRC",
        help="the tree measured as 'after' (default: the checkout this script is in)",
    )
    parser.add_argument(
        "--bridge-keys",
        default="",
        metavar="K=V,...",
        help="extra [bridge] keys for every tree, each only where the tree's config.py names it",
    )
    parser.add_argument(
        "--after-bridge-keys",
        default="",
        metavar="K=V,...",
        help="extra [bridge] keys for the after tree only, e.g. poll_threads=32,lease_seconds=30",
    )
    parser.add_argument(
        "--before-bridge-keys", default="", metavar="K=V,...", help="the same, before tree only"
    )
    parser.add_argument(
        "--probe-only",
        action="store_true",
        help="only count the statements per idle cycle on the one --db, in this process, and "
        "print them as JSON (how each tree's probe is run, with its PYTHONPATH)",
    )
    args = parser.parse_args()
    opts = Options(
        interval=args.interval,
        deliver_interval=args.deliver_interval,
        max_poll_interval=args.max_poll_interval,
        latency_ms=args.latency_ms,
        minutes=args.minutes,
        warmup=args.warmup if args.warmup is not None else 1.5 * args.interval,
        sample=args.sample,
        startup_timeout=args.startup_timeout,
        pg_url=args.pg_url,
        log_dir=args.log_dir,
    )
    dbs = [d.strip() for d in args.db.split(",") if d.strip()]
    unknown = set(dbs) - {"sqlite", "postgresql"}
    if unknown:
        parser.error(f"unknown database(s) {sorted(unknown)}: sqlite, postgresql")
    try:
        common = parse_bridge_keys(args.bridge_keys)
        wanted = {
            "before": {**common, **parse_bridge_keys(args.before_bridge_keys)},
            "after": {**common, **parse_bridge_keys(args.after_bridge_keys)},
        }
    except ValueError as exc:
        parser.error(str(exc))
    if args.probe_only:
        if len(dbs) != 1:
            parser.error("--probe-only measures one database: --db sqlite or --db postgresql")
        with tempfile.TemporaryDirectory(prefix="birdbridge-probe-") as probe_tmp:
            probe = statements_probe(dbs[0], opts, Path(probe_tmp), common)
        print(json.dumps(probe))
        return 0
    try:
        trees = make_trees(args.before, args.after, wanted)
    except (ValueError, subprocess.SubprocessError) as exc:
        parser.error(str(exc))
    results: list[dict[str, Any]] = []
    comparisons: list[dict[str, Any]] = []
    started = time.monotonic()
    print(f"load average at start: {load_average()} ({os.cpu_count()} cores)", flush=True)
    for tree in trees:
        print(tree.describe(), flush=True)
    with tempfile.TemporaryDirectory(prefix="birdbridge-scale-") as tmp_name:
        tmp = Path(tmp_name)
        for db in dbs:
            probes = {}
            for tree in trees:
                probes[tree.label] = probe_in_subprocess(tree, db, opts)
                who = f"{tree.label} " if tree.label else ""
                print(f"{who}{db}: idle statements {json.dumps(probes[tree.label])}", flush=True)
            for links in numbers(args.links):
                for workers in numbers(args.workers):
                    if workers > 1 and db != "postgresql":
                        print(f"  skipped: {workers} workers on {db} (PostgreSQL only)")
                        continue
                    pair = []
                    for tree in trees:  # before first, then after
                        result = run_one(db, links, workers, opts, probes[tree.label], tmp, tree)
                        results.append(result)
                        pair.append(result)
                        print(report(result, opts.deliver_interval), flush=True)
                        if args.json:
                            write_json(args.json, results, opts, trees, comparisons)
                    if len(pair) == 2:
                        comparisons.append(compare(*pair))
                        print(comparison_report(comparisons[-1]), flush=True)
    print()
    print(summary_table(results))
    if comparisons:
        print()
        print("after / before (ratios: lower is better; b->a: before -> after)")
        print(comparison_table(comparisons))
    print(f"\nwhole run: {time.monotonic() - started:.0f} s; load average now {load_average()}")
    if args.json:
        write_json(args.json, results, opts, trees, comparisons)
    return 0 if all("error" not in r for r in results) else 1


def make_trees(
    before: Path | None, after: Path | None, wanted: dict[str, dict[str, str]]
) -> list[Tree]:
    """The trees to run, before first: the after tree is ``after``, else this checkout's
    src/ (not whatever the environment would import: an editable install may point at
    another checkout), else the environment's birdbridge."""
    if after is not None:
        after_src: Path | None = tree_src(after)
    else:
        try:
            after_src = tree_src(HERE_SRC)
        except ValueError:
            after_src = None
    if before is None:
        return [make_tree("", after_src, wanted["after"])]
    before_src = tree_src(before)
    if before_src == after_src:
        raise ValueError(f"--before names the after tree itself ({before_src})")
    return [
        make_tree("before", before_src, wanted["before"]),
        make_tree("after", after_src, wanted["after"]),
    ]


def statements_probe(
    db: str, opts: Options, tmp: Path, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    if db == "sqlite":
        return idle_statements(f"sqlite:///{tmp / 'probe.db'}", opts.interval, extra)
    pg = Postgres(opts.pg_url)
    name = f"bench_scale_probe_{os.getpid()}"
    try:
        return idle_statements(pg.create(name), opts.interval, extra)
    finally:
        pg.drop(name)
        pg.engine.dispose()


def probe_in_subprocess(tree: Tree, db: str, opts: Options, timeout: float = 600) -> dict[str, Any]:
    """The statements probe of ``tree``: this script with ``--probe-only`` in a process that
    imports that tree, as its daemons do. A failure is a figure too ({"error": ...})."""
    keys = ",".join(f"{k}={v}" for k, v in tree.bridge_keys.items())
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--probe-only",
        "--db",
        db,
        "--interval",
        f"{opts.interval:g}",
        "--pg-url",
        opts.pg_url,
        "--bridge-keys",
        keys,
    ]
    try:
        done = subprocess.run(
            command, env=tree.env(), capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"the probe took more than {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0 and lines:
        try:
            return json.loads(lines[-1])  # type: ignore[no-any-return]
        except json.JSONDecodeError:
            pass
    problem = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
    return {"error": f"the probe exited with {done.returncode}: {problem}"}


def write_json(
    path: Path,
    results: list[dict[str, Any]],
    opts: Options,
    trees: list[Tree] | None = None,
    comparisons: list[dict[str, Any]] | None = None,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()}
    document: dict[str, Any] = {"options": options, "runs": results}
    if trees:
        document["trees"] = [
            {
                "label": t.label,
                "src": str(t.src) if t.src else None,
                "birdbridge": t.birdbridge_file,
                "bridge_keys": t.bridge_keys,
                "left_out": list(t.left_out),
                "shares_links": t.shares_links,
            }
            for t in trees
        ]
    if comparisons:
        document["comparisons"] = comparisons  # per (db, links, workers): after / before
    path.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
