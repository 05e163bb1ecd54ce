"""Statuses as the server keeps them: Mastodon::Snowflake ids, PostStatusService's preparation,
Status' validations, the content HTML with mentions and tags, boosts, who may see a status
(StatusPolicy without follows), and quote posts (4.4 shows them, 4.5 makes them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from birdbridge.sandbox.mastodon.errors import Invalid
from birdbridge.sandbox.mastodon.records import MastodonUser, Status
from birdbridge.sandbox.mastodon.state import MastodonState
from birdbridge.sandbox.mastodon.text import (
    countable_length,
    extract_entities,
    h,
    shortened_link,
    simple_format,
)
from birdbridge.sandbox.mastodon.versions import version_tuple

QUOTE_POLICIES = ("public", "followers", "nobody")


class Statuses(MastodonState):
    # -- making and storing statuses (call with the lock held) -------------------------
    def _next_id(self, created_at: datetime | None) -> int:
        """Mastodon::Snowflake: milliseconds << 16 plus a sequence, so ids sort by time."""
        if created_at is None:
            candidate = max(int(self.now() * 1000) << 16, self._last_status_id + 1)
            self._last_status_id = candidate
            return candidate
        candidate = int(created_at.timestamp() * 1000) << 16
        while candidate in self._statuses:
            candidate += 1
        self._last_status_id = max(self._last_status_id, candidate)
        return candidate

    def _new_status(
        self,
        user: MastodonUser,
        text: str,
        spoiler_text: str,
        sensitive: bool,
        visibility: str,
        language: str | None,
        created_at: datetime | None,
        application: str | None,
    ) -> Status:
        when = created_at.astimezone(UTC) if created_at else datetime.fromtimestamp(self.now(), UTC)
        return Status(
            id=self._next_id(created_at),
            account_id=user.id,
            text=text,
            spoiler_text=spoiler_text,
            sensitive=sensitive,
            visibility=visibility,
            language=language,
            created_at=when,
            application=application,
        )

    def _build(
        self,
        user: MastodonUser,
        text: str,
        spoiler_text: str,
        sensitive: bool | None,
        visibility: str,
        language: str | None,
        thread: Status | None,
        created_at: datetime | None,
        application: str | None,
        quoted: Status | None = None,
    ) -> Status:
        text, spoiler_text = (text or "").strip(), (spoiler_text or "").strip()
        # PostStatusService#preprocess_attributes!: a CW without text becomes the text,
        # unless the post quotes another (4.5).
        is_sensitive = bool(sensitive) or bool(spoiler_text)
        if not text and spoiler_text and quoted is None:
            text, spoiler_text = spoiler_text, ""
        status = self._new_status(
            user, text, spoiler_text, is_sensitive, visibility, language, created_at, application
        )
        if quoted is not None:
            status.quote_of = quoted.id
        if thread is not None:
            status.in_reply_to_id = thread.id
            # Status#carried_over_reply_to_account_id (app/models/status.rb)
            if thread.account_id == user.id and thread.in_reply_to_id is not None:
                status.in_reply_to_account_id = thread.in_reply_to_account_id
            else:
                status.in_reply_to_account_id = thread.account_id
        self._render(status)
        return status

    def _text_errors(self, status: Status, media: bool, length: bool = True) -> list[str]:
        """Status: ``validates :text, presence: true, unless: with_media? || reblog? ||
        with_quote?`` and StatusLengthValidator."""
        if not status.text and not media and status.quote_of is None:
            return ["Text can't be blank"]
        if length and countable_length(status.text, status.spoiler_text) > self.max_characters:
            return [f"Text character limit of {self.max_characters} exceeded"]
        return []

    # -- boosts, visibility and quotes -------------------------------------------------
    def _proper(self, status: Status) -> Status:
        """Status#proper: a boost stands for the post it boosts."""
        if status.reblog_of_id is not None:
            return self._statuses.get(status.reblog_of_id, status)
        return status

    def _own_reblog(self, account_id: str, status_id: int) -> Status | None:
        for other in self._reblogs.get(status_id, ()):
            if other.account_id == account_id and not other.deleted:
                return other
        return None

    def _can_see(self, status: Status, viewer_id: str | None) -> bool:
        """StatusPolicy#show? without follows: the author, or public/unlisted, or mentioned."""
        if viewer_id == status.account_id:
            return True
        if status.visibility in ("public", "unlisted"):
            return True
        return viewer_id is not None and viewer_id in status.mention_ids

    def _quote_shown(self) -> bool:
        """Status#quote is serialized from 4.4 (docs: entities/Status#quote)."""
        return version_tuple(self.version) >= (4, 4, 0)

    def _quotes_enabled(self) -> bool:
        """``quoted_status_id`` and ``quote_approval_policy`` exist from 4.5 (API version 7)."""
        return version_tuple(self.version) >= (4, 5, 0)

    def _quote_policy_of(self, status: Status) -> str:
        """Private and direct posts are always ``nobody`` (docs: methods/statuses#create)."""
        if status.visibility in ("private", "direct"):
            return "nobody"
        return status.quote_policy

    def _may_quote(self, viewer_id: str, status: Status) -> bool:
        """StatusPolicy#quote?: the author may quote anything but a private mention; others
        need to see it and an automatic policy for them (no follows here: ``public`` only)."""
        if status.visibility == "direct" or status.reblog_of_id is not None:
            return False
        if status.account_id == viewer_id:
            return True
        return self._can_see(status, viewer_id) and self._quote_policy_of(status) == "public"

    @staticmethod
    def _parse_quote_policy(value: Any) -> str | None:
        """Api::InteractionPoliciesConcern#quote_approval_policy: anything else is a bare
        ActiveRecord::RecordInvalid (422 "Record invalid")."""
        if value is None or value == "":
            return None
        if value not in QUOTE_POLICIES:
            raise Invalid("Record invalid")
        return str(value)

    # -- content ---------------------------------------------------------------------
    def _render(self, status: Status) -> None:
        """Content HTML, mentions and tags, as TextFormatter and ProcessMentionsService do."""
        text = status.text
        parts, last, mentions, tags = [], 0, [], []
        for entity in extract_entities(text):
            start, end = entity["indices"]
            parts.append(h(text[last:start]))
            if "url" in entity:
                parts.append(shortened_link(entity["url"]))
            elif "hashtag" in entity:
                tag = entity["hashtag"]
                tags.append(tag.lower())
                url = f"https://{self.domain}/tags/{tag}"
                parts.append(
                    f'<a href="{h(url)}" class="mention hashtag" rel="tag">'
                    f"#<span>{h(tag)}</span></a>"
                )
            else:
                username, _, domain = entity["screen_name"].partition("@")
                account = None
                if not domain or domain.lower() == self.domain.lower():
                    account = self._find_user(username)
                if account is None:
                    parts.append("@" + h(entity["screen_name"]))
                else:
                    if account.id not in mentions:
                        mentions.append(account.id)
                    parts.append(
                        '<span class="h-card" translate="no">'
                        f'<a href="{h(self._account_url(account))}"'
                        f' class="u-url mention">@<span>{h(account.username)}</span></a></span>'
                    )
            last = end
        parts.append(h(text[last:]))
        status.content = simple_format("".join(parts)) if text else ""
        status.mention_ids = mentions
        status.tags = list(dict.fromkeys(tags))

    def _account_url(self, user: MastodonUser) -> str:
        return f"https://{self.domain}/@{user.username}"

    def _status_url(self, status: Status) -> str:
        user = self._users[status.account_id]
        return f"https://{self.domain}/@{user.username}/{status.id}"

    def _store(self, status: Status) -> None:
        self._statuses[status.id] = status
        self._by_account.setdefault(status.account_id, {})[status.id] = status
        if status.in_reply_to_id is not None:
            self._replies.setdefault(status.in_reply_to_id, []).append(status)
        if status.reblog_of_id is not None:
            self._reblogs.setdefault(status.reblog_of_id, []).append(status)
        if status.quote_of is not None:
            self._quotes.setdefault(status.quote_of, []).append(status)

    @staticmethod
    def _live_count(index: dict[int, list[Status]], status_id: int) -> int:
        return sum(1 for s in index.get(status_id, ()) if not s.deleted)

    def _discard(self, status: Status) -> None:
        """Status#discard_with_reblogs."""
        status.deleted = True
        for other in self._reblogs.get(status.id, ()):
            other.deleted = True
