"""A requests session that sends a client library's calls to a configured base URL.

tweepy's ``Client.request`` builds ``"https://api.twitter.com" + route`` and passes no timeout
(tweepy/client.py; api-notes X3). Its ``session`` attribute is public, so we
swap in this session: it rewrites the hard-coded hosts to ``api_base_url`` and sets a timeout.
OAuth 1.0a signing happens when the request is prepared, after the rewrite, so signatures are
computed over the URL actually called.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

from birdbridge import __version__

HARD_CODED_HOSTS = ("https://api.twitter.com", "https://api.x.com", "https://upload.twitter.com")
USER_AGENT = f"birdbridge/{__version__}"


class BaseUrlSession(requests.Session):
    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        # Shown (method, URL, JSON body) every request before it is sent: may raise to stop it
        # (X's budget: networks/x_billing.py).
        self.before_send: Callable[[str, str, Any], None] | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = url.decode() if isinstance(url, bytes) else url
        method = method.decode() if isinstance(method, bytes) else method
        for host in HARD_CODED_HOSTS:
            if url.startswith(host):
                url = self.base_url + url[len(host) :]
                break
        if self.before_send is not None:
            self.before_send(method, url, kwargs.get("json"))
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


class TimeoutSession(requests.Session):
    """A session whose calls all carry a timeout (for libraries that forget one)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        url = url.decode() if isinstance(url, bytes) else url
        method = method.decode() if isinstance(method, bytes) else method
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)
