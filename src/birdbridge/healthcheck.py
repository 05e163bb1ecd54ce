"""``python -m birdbridge.healthcheck``: is the daemon on this machine healthy?

Loads the config exactly as ``birdbridge run`` does (``--config PATH`` or the environment), so it
asks the port the daemon really listens on (``[bridge] http_port``, else ``PORT``), then GETs
``/healthz`` there. Exit 0 on 200; 1 on anything else, with one line on stderr saying why; 2 when
the config cannot be loaded or serves no HTTP at all.

It imports only the config (pydantic) and the standard library: no store, no network clients, no
typer or rich, so that a probe every 30 seconds stays cheap.
"""

from __future__ import annotations

import argparse
import http.client
import sys
from pathlib import Path

from birdbridge.config import BridgeConfig, load_config
from birdbridge.errors import ConfigError

# Below the image's HEALTHCHECK --timeout=5s, so a slow answer is our failure with a reason,
# not Docker's kill without one.
TIMEOUT = 4.0
# A server listening on every address is reached on loopback.
_EVERY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}


def probe_address(bridge: BridgeConfig) -> tuple[str, int] | None:
    """Where to reach the daemon's /healthz, or None when it serves no HTTP."""
    if bridge.http_port is None:
        return None
    host = bridge.http_host or ""
    return ("127.0.0.1" if host in _EVERY_ADDRESS else host.strip("[]"), bridge.http_port)


def problem(host: str, port: int, timeout: float = TIMEOUT) -> str | None:
    """Why ``/healthz`` at ``host:port`` is not healthy, or None when it answered 200."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/healthz", headers={"User-Agent": "birdbridge-healthcheck"})
        response = connection.getresponse()
        body = response.read(200).decode("utf-8", "replace").strip()
    except OSError as exc:  # refused, unreachable, timed out, reset
        return f"http://{host}:{port}/healthz: no answer ({exc})"
    except http.client.HTTPException as exc:  # something answered, but not HTTP
        return f"http://{host}:{port}/healthz: not an HTTP answer ({exc!r})"
    finally:
        connection.close()
    if response.status == 200:
        return None
    reason = " ".join(body.split()) or response.reason
    return f"http://{host}:{port}/healthz answered {response.status}: {reason}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m birdbridge.healthcheck",
        description="Exit 0 when the local birdbridge's /healthz answers 200, 1 otherwise, "
        "2 on a config problem.",
    )
    parser.add_argument("--config", "-c", type=Path, default=None, help="config file")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds (default 4)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, secrets=False)  # no token is needed to ask /healthz
    except ConfigError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 2
    address = probe_address(config.bridge)
    if address is None:
        print(
            f"unhealthy: {config.source}: no HTTP server to ask: set [bridge] http_port or PORT",
            file=sys.stderr,
        )
        return 2
    reason = problem(*address, timeout=args.timeout)
    if reason is not None:
        print(f"unhealthy: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
