"""Mastodon releases as the sandbox tells them apart: version strings, and the
``api_versions.mastodon`` number each release reports."""

from __future__ import annotations

import re

# Instance#api_versions[mastodon] per release (docs: entities/Instance#api-versions; the
# methods pages name the number each feature came with): 4.3.0 is 2, 4.4.0 reaches 5
# (filters' `blur`), 4.5.0 is 7 (quotes). Before 4.3 there is no `api_versions`.
_API_VERSIONS = ((4, 5, 7), (4, 4, 5), (4, 3, 2))


def version_tuple(version: str) -> tuple[int, int, int]:
    """Major, minor, patch of "4.5.0", "4.5.0-beta.1" or "4.4.0+glitch"."""
    parts = [int(p) for p in re.findall(r"\d+", version.split("+")[0].split("-")[0])[:3]]
    parts += [0] * (3 - len(parts))
    return parts[0], parts[1], parts[2]


def api_version_for(version: str) -> int | None:
    """The ``api_versions.mastodon`` a real server of ``version`` reports (None before 4.3)."""
    major, minor, _ = version_tuple(version)
    for want_major, want_minor, number in _API_VERSIONS:
        if (major, minor) >= (want_major, want_minor):
            return number
    return None
