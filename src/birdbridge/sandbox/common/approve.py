"""Approving a sandbox sign-in over HTTP, as a person would click "Authorize".

Both sandboxes serve their authorization pages in one shape, so a test (or the demo) can
approve without a browser:

- ``GET`` the authorization URL: an HTML page with ONE ``<form method="post" action="...">``
  holding ``<input type="hidden" name=... value=...>`` fields, an ``<input name="username">``
  (the signed-in user, filled with the sandbox's first user) and two buttons,
  ``<button name="decision" value="approve">`` and ``value="deny"``. A request the server
  refuses (unknown client, unregistered redirect URI) is an error page with status 400 and no
  form. A server may also approve at once (a redirect instead of the page): Mastodon does
  for an application the user already approved with the same scopes.
- ``POST`` the form: either a redirect (``302`` with ``Location``) to the client's redirect URI
  with the code (or the error), or, for out-of-band clients, a page (or a redirect to a page
  on the same server) showing the code or PIN in ``<code id="code">...</code>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx


class ApprovalError(RuntimeError):
    """The authorization page refused the request, or was not the page described above."""


@dataclass(frozen=True)
class Approval:
    location: str | None  # where the server redirected the browser (the client's redirect URI)
    code: str | None  # the code or PIN shown on the page (out-of-band)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.forms = 0
        self.fields: dict[str, str] = {}
        self.code: str | None = None
        self._in_code = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms += 1
            self.action = values.get("action", "")
        elif tag == "input" and values.get("name"):
            self.fields[values["name"]] = values.get("value", "")
        elif tag == "code" and values.get("id") == "code":
            self._in_code, self.code = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "code":
            self._in_code = False

    def handle_data(self, data: str) -> None:
        if self._in_code and self.code is not None:
            self.code += data


def _parse(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser


def approve(
    url: str,
    *,
    username: str | None = None,
    decision: str = "approve",
    timeout: float = 10.0,
) -> Approval:
    """Open the authorization page at ``url`` and press ``decision`` ("approve" or "deny"),
    signed in as ``username`` (the page's default user when None)."""
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        page = client.get(url)
        if page.is_redirect and decision == "approve":
            # The server approved at once: Mastodon (Doorkeeper's matching_token?) does for
            # an app the user already approved with the same scopes, unless force_login.
            return _outcome(client, url, page)
        if page.status_code != 200:
            raise ApprovalError(f"authorization page answered {page.status_code}: {page.text}")
        form = _parse(page.text)
        if form.forms != 1 or form.action is None:
            raise ApprovalError(f"not an authorization page (forms: {form.forms})")
        fields = dict(form.fields)
        if username is not None:
            fields["username"] = username
        fields["decision"] = decision
        answer = client.post(urljoin(url, form.action), data=fields)
        return _outcome(client, url, answer)


def _outcome(client: httpx.Client, url: str, answer: httpx.Response) -> Approval:
    if answer.status_code in (301, 302, 303, 307, 308):
        location = urljoin(url, answer.headers["location"])
        if _same_server(url, location):
            # An out-of-band code shown on a page of the server itself (Mastodon's
            # /oauth/authorize/native?code=...).
            shown = client.get(location)
            code = _parse(shown.text).code
            if code is not None:
                return Approval(location=location, code=code.strip())
        return Approval(location=location, code=None)
    if answer.status_code == 200:
        code = _parse(answer.text).code
        if code is None:
            raise ApprovalError("the answer shows no code")
        return Approval(location=None, code=code.strip())
    raise ApprovalError(f"authorization answered {answer.status_code}: {answer.text}")


def _same_server(a: str, b: str) -> bool:
    first, second = urlsplit(a), urlsplit(b)
    return (first.scheme, first.netloc) == (second.scheme, second.netloc)
