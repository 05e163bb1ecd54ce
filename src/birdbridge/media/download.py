"""Fetching a media file to disk: streamed, capped in size and time, type sniffed.

Only http(s) URLs that the source API returned are fetched (the caller passes them from a
``Post``), and since anyone can shape those (issue 10), only from public addresses unless the
host is one the operator configured: :mod:`birdbridge.media.connection` checks every address
and enforces one deadline for the whole transfer. Redirects are followed here, not by the
HTTP library, so that each hop is checked again and none changes the scheme. The body goes to
disk as it arrives: a 200 MB video never sits in memory.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpcore
import httpx

from birdbridge.media.addresses import Refused
from birdbridge.media.connection import Deadline, DeadlinePassed, GuardedBackend
from birdbridge.media.progress import NO_PROGRESS, Progress, tracked
from birdbridge.media.sniff import sniff_file

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# identity: the bytes are kept as sent (httpcore does not decode), and are sniffed as such
HEADERS = [(b"User-Agent", b"birdbridge"), (b"Accept-Encoding", b"identity")]
TRANSFER_ERRORS = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpx.InvalidURL,
)


class DownloadError(Exception):
    """The file could not be fetched within the limits; the message says why."""


@dataclass(frozen=True)
class Downloaded:
    path: Path
    size: int
    mime: str | None  # sniffed from the bytes; None when not a format we know


def download(
    url: str,
    dest: Path,
    *,
    max_bytes: int,
    timeout: float = 30,
    max_seconds: float = 600,
    allowed_hosts: frozenset[str] = frozenset(),
    ssl_context: ssl.SSLContext | None = None,
    progress: Progress = NO_PROGRESS,
    name: str | None = None,
) -> Downloaded:
    """Stream ``url`` into ``dest``; abort past ``max_bytes``, or ``max_seconds`` after the
    start (connecting, redirects and headers included). ``timeout`` bounds each network
    operation. Hosts other than ``allowed_hosts`` must have public addresses only. The body's
    bytes are reported to ``progress`` as they arrive, as a transfer called ``name``."""
    if not _is_http(url):
        raise DownloadError(f"refusing to fetch {url!r}: not an http(s) URL")
    backend = GuardedBackend(allowed_hosts, Deadline(max_seconds))
    context = ssl_context or _default_ssl_context()
    try:
        with httpcore.ConnectionPool(ssl_context=context, network_backend=backend) as pool:
            _follow(pool, url, dest, Body(max_bytes, progress, name or _host(url)), timeout)
    except BaseException:
        dest.unlink(missing_ok=True)  # never half a file, whatever ended the transfer
        raise
    return Downloaded(path=dest, size=dest.stat().st_size, mime=sniff_file(dest))


@dataclass(frozen=True)
class Body:
    """What the body of the final reply is held to, and who hears of it."""

    max_bytes: int
    progress: Progress
    name: str


def _follow(
    pool: httpcore.ConnectionPool, url: str, dest: Path, body: Body, timeout: float
) -> None:
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            location = _get(pool, url, dest, body, timeout)
        except Refused as exc:
            raise DownloadError(f"refused to fetch {url}: {exc}") from None
        except DeadlinePassed as exc:
            raise DownloadError(f"{url}: {exc}") from None
        except TRANSFER_ERRORS as exc:
            raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
        if location is None:
            return
        url = _next_hop(url, location)
    raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _get(
    pool: httpcore.ConnectionPool, url: str, dest: Path, body: Body, timeout: float
) -> str | None:
    """One request: the redirect's target, or None once the body is in ``dest``."""
    extensions = {"timeout": dict.fromkeys(("connect", "read", "write", "pool"), timeout)}
    with pool.stream("GET", _wire_url(url), headers=HEADERS, extensions=extensions) as response:
        location = _header(response, b"location")
        if response.status in REDIRECTS and location is not None:
            return location  # its body is not read: closing the response drops it
        if response.status != 200:
            raise DownloadError(f"{url}: HTTP {response.status}")
        declared = _header(response, b"content-length")
        total = int(declared) if declared and declared.isdigit() else None
        if total is not None and total > body.max_bytes:
            raise DownloadError(f"{url}: {total} bytes is over the {body.max_bytes} limit")
        with tracked(body.progress, "download", body.name, total) as moved:
            _write(response, dest, url, body.max_bytes, moved)
    return None


def _write(
    response: httpcore.Response,
    dest: Path,
    url: str,
    max_bytes: int,
    moved: Callable[[int], None],
) -> None:
    size = 0
    with dest.open("wb") as file:
        for chunk in response.iter_stream():
            size += len(chunk)
            if size > max_bytes:  # the header may lie or be absent: count what arrives
                raise DownloadError(f"{url}: more than {max_bytes} bytes")
            file.write(chunk)
            moved(size)


def _next_hop(url: str, location: str) -> str:
    try:
        here = httpx.URL(url)
        there = here.join(location)
    except httpx.InvalidURL as exc:
        raise DownloadError(f"{url}: redirected to an invalid URL: {exc}") from None
    # Never to another scheme: https -> http would send the request in clear text, and
    # anything else is not a download.
    if there.scheme != here.scheme:
        raise DownloadError(
            f"refused to follow a redirect from {url} to {there}: not {here.scheme}"
        )
    return str(there)


def _wire_url(url: str) -> httpcore.URL:
    """httpx's parsing (IDNA host, percent-encoded path), in httpcore's form."""
    parsed = httpx.URL(url)
    return httpcore.URL(
        scheme=parsed.raw_scheme, host=parsed.raw_host, port=parsed.port, target=parsed.raw_path
    )


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    # httpx's own (certifi, or SSL_CERT_FILE / SSL_CERT_DIR), loaded once: it is read-only
    # once made, and wrapping sockets with one context from several threads is safe.
    return httpx.create_ssl_context()


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return url


def _is_http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))
