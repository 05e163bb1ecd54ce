"""Polls mapped to the target's limits, or written out as text when they cannot be."""

from __future__ import annotations

from dataclasses import dataclass

from birdbridge.models import Poll


@dataclass(frozen=True)
class PollLimits:
    """What a target accepts as a poll (X: docs.x.com posts/manage-tweets; Mastodon: the
    instance's ``configuration.polls``)."""

    min_options: int
    max_options: int
    max_option_chars: int
    min_duration: int  # seconds
    max_duration: int  # seconds
    multiple: bool  # several choices can be allowed


def fit_poll(poll: Poll, limits: PollLimits | None) -> Poll | None:
    """``poll`` as the target can hold it natively, or None when it cannot without changing
    what voters choose between (options dropped or cut, a multiple choice made single)."""
    if limits is None:
        return None
    if not limits.min_options <= len(poll.options) <= limits.max_options:
        return None
    if any(not option or len(option) > limits.max_option_chars for option in poll.options):
        return None
    if poll.multiple and not limits.multiple:
        return None
    # The duration only moves the closing time: clamping it keeps the poll honest.
    duration = min(max(poll.duration, limits.min_duration), limits.max_duration)
    return Poll(options=poll.options, duration=duration, multiple=poll.multiple)


def poll_as_text(poll: Poll) -> str:
    """The options listed, for a target that cannot show the poll itself."""
    heading = "Poll (several choices):" if poll.multiple else "Poll:"
    return "\n".join([heading, *(f"○ {option}" for option in poll.options)])
