"""How fast birdbridge starts and how much memory an idle daemon keeps, against the sandboxes.

Starts the X and the Mastodon sandbox in processes of their own (bench/scale.py's), writes a
config with one two-way link to them, then for each source tree given with ``--src`` (used
through PYTHONPATH by every birdbridge process it starts; default: this checkout's src/):

- ``birdbridge --help``: the median wall time of ``--runs`` runs;
- ``birdbridge check`` and ``birdbridge once``: the median of ``--runs`` runs each, after one
  run of each that creates the tree's database (a start on an existing database is the usual
  one); and how many ``GET /2/users/me`` and ``verify_credentials`` calls each ``once`` made
  (the sandboxes' request logs);
- ``birdbridge run``: VmRSS (and VmHWM, the peak) once it has run ``--settle`` seconds with a
  poll every ``--interval`` seconds, i.e. idle after a few polls of the link.

    python bench/startup.py                                   # this tree
    python bench/startup.py --src /work/wt-base/src --src src --json out.json   # before/after

Each tree gets a database of its own (SQLite, in a temporary folder). Run from the
repository with the project's environment.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
# bench/scale.py is a sibling script, not a package: found through the path set above.
from scale import Sandbox, start_sandbox

HERE = Path(__file__).resolve().parent
X_WHOAMI = "/2/users/me"
MASTODON_WHOAMI = "/api/v1/accounts/verify_credentials"


def config_text(database_url: str, x: Sandbox, masto: Sandbox, interval: float) -> str:
    xu, mu = x.users[0], masto.users[0]
    return "\n".join(
        [
            "[bridge]",
            f"database_url = {json.dumps(database_url)}",
            f"poll_interval = {interval:g}",
            f"max_poll_interval = {interval:g}",  # X polled every interval too
            'log_level = "info"',
            'log_format = "json"',
            "",
            "[[links]]",
            'name = "me"',
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
            "",
        ]
    )


def birdbridge(env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """One ``birdbridge ARGS`` run: its wall time, exit code and output."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "birdbridge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return time.perf_counter() - started, done.returncode, done.stdout + done.stderr


def median_time(env: dict[str, str], runs: int, *args: str, codes: tuple[int, ...] = (0,)) -> float:
    times = []
    for _ in range(runs):
        took, code, output = birdbridge(env, *args)
        if code not in codes:
            raise RuntimeError(f"birdbridge {' '.join(args)} exited {code}: {output[-2000:]}")
        times.append(took)
    return statistics.median(times)


def whoami_calls(x: Sandbox, masto: Sandbox) -> tuple[int, int]:
    return (
        sum(1 for _, path, _, _ in x.requests() if path == X_WHOAMI),
        sum(1 for _, path, _, _ in masto.requests() if path == MASTODON_WHOAMI),
    )


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of ``pid`` in MB."""
    figures: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures[key] = int(value.split()[0]) / 1024
    return figures


def idle_daemon(env: dict[str, str], config: Path, log: Path, settle: float) -> dict[str, Any]:
    """Start ``birdbridge run``, let it poll for ``settle`` seconds, read its memory, stop it."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "birdbridge", "run", "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started = time.monotonic()
    try:
        running_after = None
        while time.monotonic() - started < settle:
            if process.poll() is not None:
                raise RuntimeError(f"birdbridge run exited {process.returncode}: {log.read_text()}")
            if running_after is None and b"birdbridge running" in log.read_bytes():
                running_after = time.monotonic() - started
            time.sleep(0.5)
        memory = proc_status(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    return {
        "running_after_s": round(running_after, 2) if running_after is not None else None,
        "rss_mb": round(memory["VmRSS"], 1),
        "hwm_mb": round(memory["VmHWM"], 1),
    }


def measure(
    src: Path, x: Sandbox, masto: Sandbox, folder: Path, index: int, opts: argparse.Namespace
) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("BIRDBRIDGE_CONFIG_TOML", None)
    database = folder / f"tree{index}.db"
    config = folder / f"tree{index}.toml"
    config.write_text(config_text(f"sqlite:///{database}", x, masto, opts.interval))
    config.chmod(0o600)
    result: dict[str, Any] = {"src": str(src)}
    result["help_s"] = round(median_time(env, opts.runs, "--help"), 3)
    birdbridge(env, "check", "--config", str(config))  # creates and migrates the database
    result["check_s"] = round(median_time(env, opts.runs, "check", "--config", str(config)), 3)
    birdbridge(env, "once", "--config", str(config))  # the link's first poll
    before = whoami_calls(x, masto)
    result["once_s"] = round(median_time(env, opts.runs, "once", "--config", str(config)), 3)
    after = whoami_calls(x, masto)
    result["once_x_users_me"] = round((after[0] - before[0]) / opts.runs, 2)
    result["once_mastodon_verify_credentials"] = round((after[1] - before[1]) / opts.runs, 2)
    result["run"] = idle_daemon(env, config, folder / f"tree{index}.log", opts.settle)
    return result


def report(result: dict[str, Any]) -> str:
    run = result["run"]
    return "\n".join(
        [
            f"{result['src']}",
            f"  --help        {result['help_s']:.3f} s (median)",
            f"  check         {result['check_s']:.3f} s (median, database at head)",
            f"  once          {result['once_s']:.3f} s (median); per run: "
            f"X users/me {result['once_x_users_me']:g}, Mastodon verify_credentials "
            f"{result['once_mastodon_verify_credentials']:g}",
            f"  run (idle)    VmRSS {run['rss_mb']} MB, VmHWM {run['hwm_mb']} MB "
            f"(running after {run['running_after_s']} s)",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--src",
        type=Path,
        action="append",
        help="a source tree (its src/ folder) for the birdbridge processes; repeat to compare",
    )
    parser.add_argument("--runs", type=int, default=7, help="runs per timed command")
    parser.add_argument("--settle", type=float, default=30, help="seconds `run` runs before")
    parser.add_argument("--interval", type=float, default=5, help="poll_interval of the link")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    opts = parser.parse_args()
    trees = [path.resolve() for path in (opts.src or [HERE.parent / "src"])]
    for tree in trees:
        if not (tree / "birdbridge" / "__init__.py").is_file():
            parser.error(f"--src {tree}: no birdbridge package in it")
    x = start_sandbox("x", 1, 0.0, 120)
    masto = start_sandbox("mastodon", 1, 0.0, 120)
    results = []
    try:
        with tempfile.TemporaryDirectory(prefix="bb-startup-") as folder:
            for index, tree in enumerate(trees):
                results.append(measure(tree, x, masto, Path(folder), index, opts))
                print(report(results[-1]), flush=True)
    finally:
        x.stop()
        masto.stop()
    if opts.json:
        opts.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
