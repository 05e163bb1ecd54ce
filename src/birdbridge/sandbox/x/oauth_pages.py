"""The HTML of X's sign-in pages, in the one shape both sandboxes serve
(birdbridge.sandbox.common.approve): ONE form posting hidden fields, the signed-in user's
``username`` and the ``decision`` buttons; a refusal is a 400 page without a form; an
out-of-band PIN is shown in ``<code id="code">``. Everything put in the HTML is escaped."""

from __future__ import annotations

from html import escape

from birdbridge.sandbox.common import Response

_HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


def _page(title: str, body: str, status: int = 200) -> Response:
    html = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"
    )
    return Response(status, html, dict(_HTML))


def form_page(
    title: str, what: str, action: str, hidden: dict[str, str], username: str
) -> Response:
    """The authorization page: ``what`` describes the access asked for."""
    fields = "\n".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in hidden.items()
    )
    body = (
        f"<h1>{escape(title)}</h1>\n<p>{escape(what)}</p>\n"
        f'<form method="post" action="{escape(action)}">\n{fields}\n'
        f'<label>Signed in as <input name="username" value="{escape(username)}"></label>\n'
        '<button name="decision" value="approve">Authorize app</button>\n'
        '<button name="decision" value="deny">Cancel</button>\n</form>'
    )
    return _page(title, body)


def refusal_page(message: str, status: int = 400) -> Response:
    """A request X will not show an authorization page for: no form."""
    return _page("X", f"<h1>Something went wrong</h1>\n<p>{escape(message)}</p>", status)


def pin_page(pin: str, app: str) -> Response:
    # "they will see a screen with a X generated ~7 digit PIN with directions to enter the PIN
    # into your application" (XD:fundamentals/authentication/oauth-1-0a/pin-based-oauth.mdx)
    body = (
        f"<h1>You've granted access to {escape(app)}!</h1>\n"
        f"<p>Next, return to {escape(app)} and enter this code to complete the authorization "
        f'process.</p>\n<p><code id="code">{escape(pin)}</code></p>'
    )
    return _page("X", body)


def denied_page(app: str) -> Response:
    body = f"<h1>You have not granted access to {escape(app)}.</h1>"
    return _page("X", body)
