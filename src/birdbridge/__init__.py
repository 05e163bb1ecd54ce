"""birdbridge: keep an X (Twitter) account and a Mastodon account in step."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("birdbridge")  # one place: pyproject.toml
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0.0.0+unknown"
