"""Edits as UpdateStatusService makes them: the whole new version is validated, then applied
with the status' history kept (Status::SnapshotConcern); an edit that changes nothing changes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from birdbridge.sandbox.mastodon.errors import validation_failed
from birdbridge.sandbox.mastodon.media_store import MediaStore
from birdbridge.sandbox.mastodon.params import parse_focus, ruby_to_i, truthy
from birdbridge.sandbox.mastodon.polls import new_poll, poll_errors, poll_present
from birdbridge.sandbox.mastodon.records import Poll, Status, StatusEdit
from birdbridge.sandbox.mastodon.state import KEEP
from birdbridge.sandbox.mastodon.statuses import Statuses


class Edits(Statuses, MediaStore):
    def _snapshot(self, status: Status, at: datetime, account_id: str) -> StatusEdit:
        """Status::SnapshotConcern#build_snapshot."""
        return StatusEdit(
            text=status.text,
            spoiler_text=status.spoiler_text,
            sensitive=status.sensitive,
            media=[(i, self._media[i].description) for i in status.media_ids if i in self._media],
            poll_options=list(status.poll.options) if status.poll else None,
            created_at=at,
            account_id=account_id,
        )

    def _update_status(
        self,
        status: Status,
        account_id: str,
        *,
        text: Any,
        spoiler_text: Any,
        sensitive: Any,
        language: str | None,
        media: Any,
        media_attributes: list[dict],
        poll: Any,
        enforce_length: bool = True,
        before_apply: Callable[[], None] | None = None,
    ) -> None:
        """UpdateStatusService: validate the whole new version, then apply it, keeping the
        history (create_previous_edit!, create_edit!). ``media``/``poll`` ``KEEP`` leave
        them alone; otherwise they say what the post now has (None: no poll). Raises
        Invalid with Mastodon's messages; nothing changes then. ``before_apply`` runs once
        the edit is valid and changes something, before anything changes (it may raise)."""
        next_media, described, media_changed = self._edited_media(status, media, media_attributes)
        next_poll, poll_changed = self._edited_poll(status, poll)
        draft = _edited_text(status, text, spoiler_text, sensitive, language)
        changed = (
            (draft.text, draft.spoiler_text, draft.sensitive, draft.language)
            != (status.text, status.spoiler_text, status.sensitive, status.language)
            or poll_changed
            or media_changed
        )
        if not changed:  # NoChangesSubmittedError: the status is returned as it was
            return
        errors = self._text_errors(draft, media=bool(next_media), length=enforce_length)
        if errors:
            raise validation_failed(errors)
        if before_apply is not None:
            before_apply()
        if not status.edits:  # create_previous_edit!
            status.edits.append(self._snapshot(status, status.created_at, status.account_id))
        for media_id in next_media:
            item = self._media[media_id]
            item.status_id = status.id
            for key, value in described.get(media_id, {}).items():
                setattr(item, key, value)
        status.media_ids = next_media
        status.poll = next_poll
        status.text, status.spoiler_text = draft.text, draft.spoiler_text
        status.sensitive, status.language = draft.sensitive, draft.language
        status.edited_at = datetime.fromtimestamp(self.now(), UTC)
        self._render(status)
        status.edits.append(self._snapshot(status, status.edited_at, account_id))

    def _edited_media(
        self, status: Status, media: Any, media_attributes: list[dict]
    ) -> tuple[list[int], dict[int, dict[str, Any]], bool]:
        """update_media_attachments!: the next attachments, the descriptions and focus
        points they get, and whether that changes anything."""
        errors: list[str] = []
        next_media = list(status.media_ids) if media is KEEP else [m.id for m in media]
        media_changed = next_media != status.media_ids
        described: dict[int, dict[str, Any]] = {}
        for attributes in media_attributes:
            media_id = ruby_to_i(attributes.get("id"))
            if media_id not in next_media or media_id not in self._media:
                continue
            item, change = self._media[media_id], {}
            if "description" in attributes:
                errors += self._description_errors(attributes["description"])
                change["description"] = attributes["description"]
            if attributes.get("focus"):
                change["focus"] = parse_focus(attributes["focus"]) or item.focus
            described[media_id] = change
            media_changed = media_changed or any(
                getattr(item, key) != value for key, value in change.items()
            )
        if errors:
            raise validation_failed(errors)
        return next_media, described, media_changed

    def _edited_poll(self, status: Status, poll: Any) -> tuple[Poll | None, bool]:
        """update_poll!: the next poll and whether it changed. New options or ``multiple``
        reset the votes; a new deadline is a change."""
        if poll is KEEP:
            return status.poll, False
        if poll is None or not poll_present(poll):
            return None, status.poll is not None
        next_poll = new_poll(poll, next(self._poll_ids))
        previous = status.poll
        options_changed = previous is None or next_poll.options != previous.options
        errors = poll_errors(next_poll, check_options=options_changed)
        if errors:
            raise validation_failed(errors)
        if previous is None:
            return next_poll, True
        next_poll.id = previous.id
        changed = options_changed or next_poll.multiple != previous.multiple
        if not changed:  # Poll#reset_votes! only when the choices changed
            next_poll.tallies = list(previous.tallies)
            next_poll.voters_count = previous.voters_count
        return next_poll, changed or previous.expires_at != next_poll.expires_at


def _edited_text(
    status: Status, text: Any, spoiler_text: Any, sensitive: Any, language: str | None
) -> Status:
    """update_immediate_attributes!: a blank text takes the CW given as the text; the CW
    then stays as it was and the post is sensitive only if `sensitive` says so."""
    given_text = "" if text is None else str(text)
    given_spoiler = None if spoiler_text is None else str(spoiler_text)
    new_spoiler, new_sensitive = status.spoiler_text, status.sensitive
    if given_text.strip():
        new_text = given_text
        new_spoiler = given_spoiler or ""
        new_sensitive = truthy(sensitive) if sensitive is not None else bool(new_spoiler.strip())
    else:
        new_text = given_spoiler or ""
        new_sensitive = truthy(sensitive) if sensitive is not None else False
    draft = Status(**{**status.__dict__})
    draft.text, draft.spoiler_text = new_text.strip(), new_spoiler.strip()
    draft.sensitive = new_sensitive
    draft.language = language or status.language
    return draft
