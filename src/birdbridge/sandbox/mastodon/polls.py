"""Polls as Mastodon takes them: the ``poll`` parameters (JSON or form fields), Poll's
preparation and validations with the instance's limits, and REST::PollSerializer."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import regex

from birdbridge.sandbox.common.times import iso_millis
from birdbridge.sandbox.mastodon.params import ruby_strip, ruby_to_i, truthy
from birdbridge.sandbox.mastodon.records import Poll

# Instance#configuration.polls (PollOptionsValidator, PollExpirationValidator)
POLLS_CONFIG = {
    "max_options": 4,
    "max_characters_per_option": 50,
    "min_expiration": 300,
    "max_expiration": 2629746,
}


def poll_params(params: dict[str, list[Any]]) -> dict | None:
    """``poll`` as a JSON object (what Mastodon.py sends with ``make_poll``) or as the
    form fields ``poll[options][]``, ``poll[expires_in]``, ``poll[multiple]`` and
    ``poll[hide_totals]``."""
    given = params.get("poll")
    if given and isinstance(given[0], dict):
        return dict(given[0])
    data: dict[str, Any] = {}
    options = params.get("poll[options][]") or params.get("poll[options]")
    if options is not None:
        data["options"] = list(options)
    for name in ("expires_in", "multiple", "hide_totals"):
        values = params.get(f"poll[{name}]")
        if values:
            data[name] = values[0]
    return data or None


def poll_present(data: dict | None) -> bool:
    """``@options[:poll].present?``: a poll hash with any of its permitted keys."""
    if not data:
        return False
    return any(k in data for k in ("options", "expires_in", "multiple", "hide_totals"))


def new_poll(data: dict, poll_id: int, now: datetime | None = None) -> Poll:
    """Poll#prepare_options (strip, drop blank ones) and Expireable#expires_in=."""
    raw = data.get("options")
    if raw is None:
        raw = []
    elif not isinstance(raw, list):
        raw = [raw]
    options = [ruby_strip(str(o)) for o in raw]
    options = [o for o in options if o.strip()]
    expires_in = data.get("expires_in")
    expires_at = None
    if expires_in is not None and str(expires_in).strip() != "":
        start = now or datetime.now(UTC)
        expires_at = start + timedelta(seconds=ruby_to_i(expires_in))
    return Poll(
        id=poll_id,
        options=options,
        expires_at=expires_at,
        multiple=truthy(data.get("multiple")),
        hide_totals=truthy(data.get("hide_totals")),
        tallies=[0] * len(options),
    )


def poll_errors(poll: Poll, check_options: bool = True) -> list[str]:
    """Poll's validations, named as config/locales/activerecord.en.yml names its
    attributes (options: "Choices", expires_at: "Deadline"): presence, then
    PollOptionsValidator, then PollExpirationValidator (polls.errors.* in en.yml);
    the limits are the instance's ``configuration.polls``."""
    limits = POLLS_CONFIG
    errors = []
    if not poll.options:
        errors.append("Choices can't be blank")
    if poll.expires_at is None:
        errors.append("Deadline can't be blank")
    if check_options:
        if len(poll.options) <= 1:
            errors.append("Choices must have more than one item")
        if len(poll.options) > limits["max_options"]:
            errors.append(f"Choices can't contain more than {limits['max_options']} items")
        most = limits["max_characters_per_option"]
        if any(len(regex.findall(r"\X", o)) > most for o in poll.options):
            errors.append(f"Choices cannot be longer than {most} characters each")
        if len(set(poll.options)) != len(poll.options):
            errors.append("Choices contain duplicate items")
    now = datetime.now(UTC)
    left = None if poll.expires_at is None else (poll.expires_at - now).total_seconds()
    if left is None or left > limits["max_expiration"]:
        errors.append("Deadline is too far into the future")
    if left is not None and math.ceil(left) < limits["min_expiration"]:
        errors.append("Deadline is too soon")
    return errors


def poll_json(poll: Poll, owner_id: str, viewer_id: str | None) -> dict[str, Any]:
    """REST::PollSerializer: option counts are null while ``hide_totals`` hides them."""
    show_totals = poll.expired() or not poll.hide_totals
    body: dict[str, Any] = {
        "id": str(poll.id),
        "expires_at": iso_millis(poll.expires_at) if poll.expires_at else None,
        "expired": poll.expired(),
        "multiple": poll.multiple,
        "votes_count": sum(poll.tallies),
        "voters_count": poll.voters_count,
        "options": [
            {"title": title, "votes_count": poll.tallies[i] if show_totals else None}
            for i, title in enumerate(poll.options)
        ],
        "emojis": [],
    }
    if viewer_id is not None:
        body["voted"] = viewer_id == owner_id  # Poll#voted?: the author counts as voted
        body["own_votes"] = []
    return body
