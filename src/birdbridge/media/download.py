"""Fetching a media file to disk with httpx: streamed, capped in size and time, type sniffed.

Only http(s) URLs that the source API returned are fetched (the caller passes them from a
``Post``). A 200 MB video is written in 1 MiB chunks and never sits in memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from birdbridge.media.sniff import sniff_file

CHUNK = 1 << 20


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
    client: httpx.Client | None = None,
) -> Downloaded:
    """Stream ``url`` into ``dest``; abort past ``max_bytes`` or ``max_seconds``."""
    if not url.lower().startswith(("http://", "https://")):
        raise DownloadError(f"refusing to fetch {url!r}: not an http(s) URL")
    own = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=True)
    started = time.monotonic()
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise DownloadError(f"{url}: HTTP {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise DownloadError(f"{url}: {int(declared)} bytes is over the {max_bytes} limit")
            size = _write(response, dest, url, max_bytes, started, max_seconds)
    except httpx.HTTPError as exc:
        dest.unlink(missing_ok=True)
        raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
    except DownloadError:
        dest.unlink(missing_ok=True)
        raise
    finally:
        if own:
            client.close()
    return Downloaded(path=dest, size=size, mime=sniff_file(dest))


def _write(
    response: httpx.Response,
    dest: Path,
    url: str,
    max_bytes: int,
    started: float,
    max_seconds: float,
) -> int:
    size = 0
    with dest.open("wb") as file:
        for chunk in response.iter_bytes(CHUNK):
            size += len(chunk)
            if size > max_bytes:  # the header may lie or be absent: count what arrives
                raise DownloadError(f"{url}: more than {max_bytes} bytes")
            if time.monotonic() - started > max_seconds:
                raise DownloadError(f"{url}: took longer than {max_seconds:.0f} s")
            file.write(chunk)
    return size
