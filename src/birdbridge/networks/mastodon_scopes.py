"""The OAuth scopes birdbridge's Mastodon token needs, and how to say which one is missing.

Mastodon checks a token per endpoint with Doorkeeper: it passes when it has ANY of the scopes
the controller lists, compared as exact strings (api-notes M3; doorkeeper
models/concerns/scopes.rb:22-23). There is no hierarchy: ``read`` covers ``read:statuses``
only because every controller lists both. So each need below is the list its endpoints accept.

``profile`` passes GET /api/v1/accounts/verify_credentials (accounts/credentials_controller.rb:
4 lists ``:profile, :read, :'read:accounts'``) and nothing else: GET /api/v1/accounts/:id and
/lookup list only ``:read, :'read:accounts'`` (accounts_controller.rb:6, lookup_controller.rb:4).
verify_credentials is the only account endpoint birdbridge calls, so ``profile`` is enough for
its identity; the fix still names ``read:accounts``, which covers every account read.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

# What to create a token with: the parent scopes cover all four needs.
ASK_FOR = "read write"
ASK_FOR_EXACTLY = "read:accounts read:statuses write:statuses write:media"
# doorkeeper en.yml forbidden_token.missing_scope, its quotes made "_" (error_response.rb:108)
_REQUIRED = re.compile(r'requires scope [_"]([^_"]+)[_"]')


@dataclass(frozen=True)
class Need:
    scope: str  # the scope named to the operator
    parent: str  # "read" or "write": the controllers list it next to the scope
    purpose: str
    writes: bool  # needed only when Mastodon is a target of the link
    also: tuple[str, ...] = ()  # other scopes the endpoints accept

    @property
    def accepted(self) -> tuple[str, ...]:
        return (self.parent, self.scope, *self.also)


NEEDS = (
    Need(
        "read:accounts",
        "read",
        "to know whose account it is (GET /api/v1/accounts/verify_credentials)",
        writes=False,
        also=("profile",),
    ),
    Need(
        "read:statuses",
        "read",
        "to read the account's posts (polls, edits, recovery after a crash)",
        writes=False,
    ),
    Need("write:statuses", "write", "to post, edit, delete and boost", writes=True),
    Need("write:media", "write", "to upload pictures and videos", writes=True),
)


def missing(granted: Collection[str], *, target: bool) -> list[Need]:
    """The needs no granted scope covers (writes only when Mastodon is a target)."""
    return [
        need
        for need in NEEDS
        if (target or not need.writes) and not any(s in granted for s in need.accepted)
    ]


def problem(need: Need) -> str:
    return (
        f"the access token lacks the scope {need.scope} (or {need.parent}), needed "
        f"{need.purpose}. {fix_for((need.parent, need.scope))}"
    )


def required_scopes(www_authenticate: str) -> tuple[str, ...]:
    """The scopes a 403's ``WWW-Authenticate`` says the endpoint accepts (may be none)."""
    found = _REQUIRED.search(www_authenticate or "")
    return tuple(found.group(1).split()) if found else ()


def fix_for(scopes: tuple[str, ...]) -> str:
    """What the operator does about a token without any of ``scopes``."""
    which = f"{' or '.join(scopes)} as well" if scopes else "the scopes birdbridge needs"
    return (
        f"Give birdbridge a Mastodon access token with {which} (simplest: the scopes "
        f'"{ASK_FOR}"; exactly: "{ASK_FOR_EXACTLY}"). In Preferences > Development > the '
        "application, tick them and save: Mastodon then shows a new access token (a token "
        "keeps the scopes it was made with); put it in [links.mastodon] access_token"
    )
