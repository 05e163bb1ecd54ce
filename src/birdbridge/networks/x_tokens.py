"""The access token of an X OAuth 2.0 sign-in, refreshed ahead of expiry by one process at a
time.

X's rules (XD:fundamentals/authentication/oauth-2-0/authorization-code.mdx; api-facts 1):
an access token lasts two hours; a refresh token comes with ``offline.access`` and is
single-use: refreshing returns a new pair and retires the old refresh token. So:

- the token is refreshed when it has less than :data:`REFRESH_AHEAD` left, before a call;
- of several processes sharing the database, only the one that takes the refresh lease
  (store ``take_refresh``: a compare-and-set on the sign-in's generation) refreshes; the others
  wait for the new generation and use it;
- the new pair is stored in the same transaction that retires the old one
  (store ``finish_refresh``), so no reader ever sees a spent refresh token as current;
- a refresh that X refuses (the grant was revoked, or the refresh token was spent by a
  process killed before it could store the new pair) leaves the link working on the current
  access token until it expires, then pauses the X side with "sign in again".
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.auth import HTTPBasicAuth

from birdbridge.errors import AuthRevoked, Transient
from birdbridge.networks.http import USER_AGENT
from birdbridge.store import utcnow

if TYPE_CHECKING:
    from birdbridge.secretbox import SecretBox
    from birdbridge.store import Store
    from birdbridge.store.values import StoredCredential

log = logging.getLogger(__name__)

REFRESH_AHEAD = timedelta(minutes=10)  # of the two hours an access token lasts
LEASE_SECONDS = 60.0  # a refresher killed mid-refresh blocks the others this long at most
WAIT_STEP = 0.25  # seconds between looks at the database while another process refreshes
X_TOKEN_PATH = "/2/oauth2/token"  # POST, on the API host (XD: oauth-2-0/authorization-code)
X_REVOKE_PATH = "/2/oauth2/revoke"


def sign_in_again(link: str) -> str:
    return f"Sign in again: `birdbridge login x --link {link}`"


class XTokenKeeper:
    """:class:`networks.bearer.BearerTokens` for one link's stored X OAuth 2.0 sign-in."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        link: str,
        api_base_url: str,
        timeout: float,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store, self._box, self._link = store, box, link
        self._token_url = api_base_url.rstrip("/") + X_TOKEN_PATH
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()  # one refresh per process; the lease does the rest
        self._credential: StoredCredential | None = None
        self._refused_warned = False

    # -- BearerTokens ----------------------------------------------------------------------
    def current(self) -> str:
        with self._lock:
            credential = self._credential or self._load()
            if self._fresh(credential):
                return credential.secrets["access_token"]
            return self._refresh(credential).secrets["access_token"]

    def after_unauthorized(self, used: str) -> str | None:
        with self._lock:
            credential = self._load()
            token = credential.secrets["access_token"]
            return token if token != used else None

    @property
    def expires_at(self) -> datetime | None:
        return self._credential.expires_at if self._credential else None

    # -- inside ----------------------------------------------------------------------------
    def _fresh(self, credential: StoredCredential) -> bool:
        expires = credential.expires_at
        return expires is None or expires - self._clock() > REFRESH_AHEAD

    def _load(self) -> StoredCredential:
        credential = self._store.credential(self._box, self._link, "twitter")
        if credential is None or credential.kind != "oauth2":
            raise AuthRevoked(
                f"X: link {self._link!r} is no longer signed in (`birdbridge logout`?)",
                network="twitter",
                fix=sign_in_again(self._link),
            )
        self._credential = credential
        return credential

    def _refresh(self, seen: StoredCredential) -> StoredCredential:
        """A fresh credential: refreshed here, or by another process meanwhile."""
        deadline = time.monotonic() + LEASE_SECONDS + self._timeout
        credential = seen
        while True:
            holder = uuid.uuid4().hex
            taken = self._store.take_refresh(
                self._link,
                "twitter",
                generation=credential.generation,
                holder=holder,
                lease_seconds=LEASE_SECONDS,
                now=self._clock(),
            )
            if taken:
                return self._refresh_as(holder, credential)
            # Another process refreshes (or a new sign-in replaced this one): wait for it.
            time.sleep(WAIT_STEP)
            credential = self._load()
            if credential.generation != seen.generation and self._fresh(credential):
                return credential
            if time.monotonic() > deadline:
                return self._usable_or_raise(
                    credential, Transient("X: the token refresh by another process is late")
                )

    def _refresh_as(self, holder: str, credential: StoredCredential) -> StoredCredential:
        try:
            secrets, expires_at = self._call_token_endpoint(credential)
        except AuthRevoked as refused:
            self._store.release_refresh(self._link, "twitter", holder=holder)
            return self._usable_or_raise(credential, refused)
        except Transient as failed:
            self._store.release_refresh(self._link, "twitter", holder=holder)
            return self._usable_or_raise(credential, failed)
        except Exception as surprise:  # a reply we could not read: the lease goes back
            self._store.release_refresh(self._link, "twitter", holder=holder)
            unreadable = Transient(f"X token refresh: {type(surprise).__name__}: {surprise}")
            return self._usable_or_raise(credential, unreadable)
        stored = self._store.finish_refresh(
            self._box,
            link=self._link,
            network="twitter",
            generation=credential.generation,
            holder=holder,
            secrets=secrets,
            expires_at=expires_at,
            now=self._clock(),
        )
        if stored is None:
            # Our lease ran out and another process (or a new sign-in) moved on: theirs wins.
            return self._load()
        until = f"{expires_at:%H:%M} UTC"
        log.info("link %s: X sign-in refreshed; valid until %s", self._link, until)
        self._credential = stored
        self._refused_warned = False
        return stored

    def _usable_or_raise(self, credential: StoredCredential, error: Exception) -> StoredCredential:
        """Keep working on the current access token while it lasts; then ``error``."""
        expires = credential.expires_at
        if expires is not None and expires > self._clock() + timedelta(seconds=30):
            if isinstance(error, AuthRevoked) and not self._refused_warned:
                self._refused_warned = True
                log.warning(
                    "link %s: %s; it works until %s. %s",
                    self._link,
                    error,
                    f"{expires:%H:%M} UTC",
                    error.fix,
                )
            self._credential = credential
            return credential
        raise error

    def _call_token_endpoint(self, credential: StoredCredential) -> tuple[dict[str, str], datetime]:
        secrets = dict(credential.secrets)
        refresh_token = secrets.get("refresh_token")
        if not refresh_token:
            raise AuthRevoked(
                "X: the sign-in has no refresh token (offline.access was not granted) and "
                "its access token has expired",
                network="twitter",
                fix=sign_in_again(self._link),
            )
        answer = x_token_request(
            self._token_url,
            {"grant_type": "refresh_token", "refresh_token": refresh_token},
            client_id=secrets["client_id"],
            client_secret=secrets.get("client_secret"),
            timeout=self._timeout,
            what=f"refresh the sign-in of link {self._link!r}",
            fix=sign_in_again(self._link),
        )
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise Transient("X token refresh: the reply holds no access token")
        secrets["access_token"] = access
        # Rotation: the reply's refresh token replaces the spent one.
        new_refresh = answer.get("refresh_token")
        if isinstance(new_refresh, str) and new_refresh:
            secrets["refresh_token"] = new_refresh
        else:
            secrets.pop("refresh_token", None)
        lifetime = token_lifetime(answer.get("expires_in"))
        return secrets, self._clock() + timedelta(seconds=lifetime)


def x_token_request(
    url: str,
    form: dict[str, str],
    *,
    client_id: str,
    client_secret: str | None,
    timeout: float,
    what: str,
    fix: str,
) -> dict[str, object]:
    """POST to X's token endpoint (a code exchange or a refresh); the reply's JSON.

    A confidential client authenticates with HTTP Basic; a public one names itself with
    ``client_id`` in the body (XD: oauth-2-0/authorization-code.mdx). Plain requests rather
    than requests-oauthlib: oauthlib refuses http:// token URLs (the sandbox) unless a
    process-wide environment variable says otherwise. A refusal (4xx with an OAuth error) is
    :class:`AuthRevoked`; anything else that fails is :class:`Transient`."""
    body = dict(form, client_id=client_id)
    auth = HTTPBasicAuth(client_id, client_secret) if client_secret else None
    try:
        # Never follow a redirect: it would carry the code, the verifier or the refresh token
        # to another host (and a 302 turns the POST into a GET whose answer we would store).
        reply = requests.post(
            url,
            data=body,
            auth=auth,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT},
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as exc:
        raise Transient(f"X could not {what}: {type(exc).__name__}: {exc}") from None
    with reply:
        if reply.is_redirect or 300 <= reply.status_code < 400:
            host = urlsplit(reply.headers.get("location", "")).hostname or "elsewhere"
            raise Transient(
                f"X could not {what}: the token endpoint redirected ({reply.status_code}) to "
                f"{host}; not followed"
            )
        text = _bounded_body(reply, timeout, what)
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if reply.status_code >= 500 or not isinstance(answer, dict):
        raise Transient(f"X could not {what}: {reply.status_code} with an unreadable reply")
    if reply.status_code >= 400 or "error" in answer:
        error = str(answer.get("error") or reply.status_code)
        description = str(answer.get("error_description") or answer.get("detail") or "")
        raise AuthRevoked(
            f"X refused to {what} ({error}{': ' + description if description else ''})",
            network="twitter",
            status=reply.status_code,
            fix=fix,
        )
    return answer


MAX_TOKEN_REPLY = 64 * 1024  # bytes: X's token replies are a few hundred
MAX_LIFETIME = 366 * 86400  # seconds: a longer expires_in is taken as a year (no overflow)


def _bounded_body(reply: requests.Response, timeout: float, what: str) -> str:
    """The reply's body, read within ``timeout`` in all (requests' timeout bounds each read,
    not a body that trickles) and at most MAX_TOKEN_REPLY bytes; else Transient."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    try:
        # One byte at a time: a bigger read waits for its whole size, and a body that trickles
        # a byte per tenth of a second would never meet the deadline between reads.
        for chunk in reply.iter_content(1):
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_TOKEN_REPLY:
                raise Transient(f"X could not {what}: the token reply is too long")
            if time.monotonic() > deadline:
                raise Transient(f"X could not {what}: the token reply took over {timeout:.0f} s")
    except requests.RequestException as exc:
        raise Transient(f"X could not {what}: {type(exc).__name__}: {exc}") from None
    return b"".join(chunks).decode("utf-8", errors="replace")


def token_lifetime(value: object, *, default: int = 7200) -> int:
    """``expires_in`` in seconds: a positive whole number, at most a year; else ``default``."""
    try:
        seconds = int(str(value))
    except (ValueError, OverflowError):
        return default
    return default if seconds <= 0 else min(seconds, MAX_LIFETIME)
