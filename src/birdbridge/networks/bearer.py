"""OAuth 2.0 user-context requests with an access token that changes on every refresh.

X's OAuth 2.0 access tokens last two hours (XD:fundamentals/authentication/oauth-2-0/
authorization-code.mdx), so the token is asked for on each request, from a source that
refreshes it ahead of expiry (networks/x_tokens.py). When several processes share a sign-in,
another one may have refreshed it since we read it: a 401 is then answered by asking the
source for a newer token and sending the request once more (as requests' digest auth answers
its 401).
"""

from __future__ import annotations

from typing import Any, Protocol

import requests
import requests.auth


class BearerTokens(Protocol):
    def current(self) -> str:
        """An access token that is valid now (refreshed first when it is about to expire)."""
        ...

    def after_unauthorized(self, used: str) -> str | None:
        """``used`` was refused: a different, newer token to try once, or None (the refusal
        stands: the sign-in was revoked or expired)."""
        ...


class BearerAuth(requests.auth.AuthBase):
    def __init__(self, tokens: BearerTokens) -> None:
        self.tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.tokens.current()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._retry_once_on_401)
        return request

    def _retry_once_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401:
            return response
        header = response.request.headers.get("Authorization") or ""
        header = header.decode() if isinstance(header, bytes) else header
        used = header.removeprefix("Bearer ")
        newer = self.tokens.after_unauthorized(used)
        if newer is None or newer == used:
            return response
        response.content  # noqa: B018 - read the body so the connection can be reused
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {newer}"
        hooks = retry.hooks["response"]
        retry.hooks["response"] = [hook for hook in hooks if hook != self._retry_once_on_401]
        connection = response.connection
        second: requests.Response = connection.send(retry, **kwargs)
        second.history.append(response)
        second.request = retry
        return second
