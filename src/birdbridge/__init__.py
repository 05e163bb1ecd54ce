"""birdbridge: keep an X (Twitter) account and a Mastodon account in step."""

__version__ = "0.1.0"
