"""Checks across a whole config that one field's validation cannot see: links that would
mirror in a loop or twice, and a config file that leaks its secrets to other users."""

from __future__ import annotations

import stat
import tomllib
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import SecretStr

    from birdbridge.config import Config, LinkConfig

SECRET_KEYS = {
    "consumer_key",
    "consumer_secret",
    "access_token",
    "access_token_secret",
    "client_secret",
}

Account = tuple[str, str, str]  # (network, api_base_url, token): identity, never printed


def _accounts(link: LinkConfig) -> dict[str, Account]:
    return {
        "twitter": ("twitter", link.twitter.api_base_url, _token(link, link.twitter.access_token)),
        "mastodon": (
            "mastodon",
            link.mastodon.api_base_url,
            _token(link, link.mastodon.access_token),
        ),
    }


def _token(link: LinkConfig, token: SecretStr | None) -> str:
    """The account's identity as far as the config knows it: its token, or, for a side that
    uses a stored sign-in, the link itself (`check` compares the signed-in accounts)."""
    return token.get_secret_value() if token is not None else f"signed-in:{link.name}"


def _describe(account: Account) -> str:
    network, base_url, _token = account
    return f"the {'X' if network == 'twitter' else 'Mastodon'} account at {base_url}"


def loop_problems(config: Config) -> list[str]:
    """Why these links would post something twice or in circles (empty when they would not)."""
    edges: list[tuple[Account, Account, str]] = []
    for link in config.links:
        accounts = _accounts(link)
        for source, target in link.direction.pairs():
            edges.append((accounts[source.value], accounts[target.value], link.name))
    problems = _duplicates(edges)
    problems += _cycles(edges)
    return problems


def _duplicates(edges: list[tuple[Account, Account, str]]) -> list[str]:
    seen: dict[tuple[Account, Account], str] = {}
    problems = []
    for source, target, link in edges:
        first = seen.setdefault((source, target), link)
        if first != link:
            problems.append(
                f"links {first!r} and {link!r} both mirror {_describe(source)} to "
                f"{_describe(target)} (same tokens): every post would be posted twice"
            )
    return problems


def _cycles(edges: list[tuple[Account, Account, str]]) -> list[str]:
    """A path back to where it started through two or more links makes posts go round: each
    link's own loop guard only knows the posts that link published."""
    for start, first_target, first_link in edges:
        # Breadth-first over (account, went through another link?) states.
        queue = deque([(first_target, False)])
        visited = {(first_target, False)}
        while queue:
            node, other = queue.popleft()
            for source, target, link in edges:
                if source != node:
                    continue
                state = (target, other or link != first_link)
                if target == start and state[1]:
                    links = sorted({first_link, *(e[2] for e in edges if e[1] == start)})
                    return [
                        f"links {', '.join(repr(n) for n in links)} mirror in a circle through "
                        f"{_describe(start)}: a post would come back through another link. "
                        "Give each account to one link, or make one of them one-way"
                    ]
                if state not in visited:
                    visited.add(state)
                    queue.append(state)
    return []


def permission_warning(path: Path) -> str | None:
    """A warning when a config file holding literal secrets can be read by other users."""
    try:
        mode = path.stat().st_mode
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not mode & (stat.S_IRWXG | stat.S_IRWXO) or not _has_literal_secret(document):
        return None
    return (
        f"{path} is readable by other users (mode {stat.S_IMODE(mode):04o}) and holds tokens: "
        f"chmod 600 {path}, or reference them as ${{VAR}} from the environment"
    )


def _has_literal_secret(document: dict[str, Any]) -> bool:
    for link in document.get("links") or []:
        for section in ("twitter", "mastodon"):
            values = (link.get(section) or {}) if isinstance(link, dict) else {}
            for key, value in values.items():
                if (
                    key in SECRET_KEYS
                    and isinstance(value, str)
                    and not (value.startswith("${") and value.endswith("}"))
                ):
                    return True
    return False
