"""birdbridge: keep an X (Twitter) account and a Mastodon account in step."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # The version is looked up when first asked for (`--version`, the User-Agent): reading the
    # installed metadata costs every start, `--help` included, a few tens of milliseconds.
    if name != "__version__":
        raise AttributeError(f"module 'birdbridge' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("birdbridge")  # one place: pyproject.toml
    except PackageNotFoundError:  # run from a source tree that was never installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
