"""The JSON the API returns, as Mastodon's REST serializers write it: accounts (and the
credential account), statuses with their quote, poll and viewer's attributes, and the
versions of an edited status."""

from __future__ import annotations

from typing import Any

from birdbridge.sandbox.common.times import iso_millis
from birdbridge.sandbox.mastodon.media_store import MediaStore
from birdbridge.sandbox.mastodon.polls import poll_json
from birdbridge.sandbox.mastodon.records import MastodonUser, Status, StatusEdit
from birdbridge.sandbox.mastodon.statuses import Statuses
from birdbridge.sandbox.mastodon.text import shortened_link


class Serializers(Statuses, MediaStore):
    """REST::AccountSerializer, REST::CredentialAccountSerializer, REST::StatusSerializer,
    REST::StatusEditSerializer (call with the lock held)."""

    def _account_json(self, user: MastodonUser) -> dict[str, Any]:
        created = self._created[user.id]
        own = self._by_account.get(user.id, {})
        last = max((s.created_at for s in own.values() if not s.deleted), default=None)
        missing = f"https://{self.domain}/avatars/original/missing.png"
        header = f"https://{self.domain}/headers/original/missing.png"
        return {
            "id": user.id,
            "username": user.username,
            "acct": user.acct,
            "display_name": user.display_name,
            "locked": user.locked,
            "bot": False,
            "discoverable": True,
            "indexable": False,
            "group": False,
            "created_at": iso_millis(created.replace(hour=0, minute=0, second=0, microsecond=0)),
            "note": "",
            "url": self._account_url(user),
            "uri": f"https://{self.domain}/users/{user.username}",
            "avatar": missing,
            "avatar_static": missing,
            "header": header,
            "header_static": header,
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": sum(1 for s in own.values() if not s.deleted),
            "last_status_at": last.strftime("%Y-%m-%d") if last else None,
            "hide_collections": None,
            "noindex": False,
            "emojis": [],
            "roles": [],
            "fields": [],
        }

    def _credential_json(self, user: MastodonUser) -> dict[str, Any]:
        body = self._account_json(user)
        body["source"] = {
            "privacy": "private" if user.locked else "public",
            "sensitive": False,
            "language": None,
            "note": "",
            "fields": [],
            "follow_requests_count": 0,
            "hide_collections": None,
            "discoverable": True,
            "indexable": False,
            "attribution_domains": [],
        }
        body["role"] = {
            "id": "-99",
            "name": "",
            "permissions": "0",
            "color": "",
            "highlighted": False,
        }
        return body

    def _status_json(
        self, status: Status, viewer_id: str | None, shallow_quote: bool = False
    ) -> dict[str, Any]:
        """REST::StatusSerializer."""
        user = self._users[status.account_id]
        reblog = self._statuses.get(status.reblog_of_id) if status.reblog_of_id else None
        uri = f"https://{self.domain}/users/{user.username}/statuses/{status.id}"
        url: str | None = f"https://{self.domain}/@{user.username}/{status.id}"
        if reblog is not None:
            uri = url = uri + "/activity"
        body: dict[str, Any] = {
            "id": str(status.id),
            "created_at": iso_millis(status.created_at),
            "in_reply_to_id": str(status.in_reply_to_id) if status.in_reply_to_id else None,
            "in_reply_to_account_id": status.in_reply_to_account_id,
            "sensitive": status.sensitive,
            "spoiler_text": status.spoiler_text,
            "visibility": status.visibility,
            "language": status.language,
            "uri": uri,
            "url": url,
            "replies_count": self._live_count(self._replies, status.id),
            "reblogs_count": self._live_count(self._reblogs, status.id),
            "favourites_count": 0,
            "edited_at": iso_millis(status.edited_at) if status.edited_at else None,
            "content": self._quote_fallback(status) + status.content,
            "reblog": None,
            "account": self._account_json(user),
            "media_attachments": [
                self._media_json(self._media[i]) for i in status.media_ids if i in self._media
            ],
            "mentions": [self._mention_json(self._users[i]) for i in status.mention_ids],
            "tags": [{"name": t, "url": f"https://{self.domain}/tags/{t}"} for t in status.tags],
            "emojis": [],
            "card": None,
            "poll": (poll_json(status.poll, status.account_id, viewer_id) if status.poll else None),
        }
        if self._quote_shown():
            body["quote"] = self._quote_json(status, viewer_id, shallow_quote)
        if self._quotes_enabled():
            body["quotes_count"] = self._live_count(self._quotes, status.id)
            body["quote_approval"] = self._quote_approval_json(status, viewer_id)
        if reblog is not None:
            body["reblog"] = self._status_json(reblog, viewer_id)
        if viewer_id is not None:
            body.update(self._viewer_json(status, reblog, viewer_id))
        if viewer_id == status.account_id and status.application:
            body["application"] = {"name": status.application, "website": None}
        return body

    def _mention_json(self, user: MastodonUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "username": user.username,
            "url": self._account_url(user),
            "acct": user.acct,
        }

    def _viewer_json(self, status: Status, reblog: Status | None, viewer_id: str) -> dict[str, Any]:
        """What a status is to the one who asks (REST::StatusSerializer's current_user
        attributes; nothing is favourited, muted, bookmarked or pinned here)."""
        proper_id = reblog.id if reblog is not None else status.id
        body: dict[str, Any] = {
            "favourited": False,
            "reblogged": self._own_reblog(viewer_id, proper_id) is not None,
            "muted": False,
            "bookmarked": False,
            "filtered": [],
        }
        if viewer_id == status.account_id:
            body["pinned"] = False
        return body

    def _quote_json(self, status: Status, viewer_id: str | None, shallow: bool) -> Any:
        """REST::QuoteSerializer (a nested quote is a REST::ShallowQuoteSerializer): every
        quote here is accepted; a deleted quoted post is ``deleted``, one the viewer may not
        see ``unauthorized`` (docs: entities/Quote#state)."""
        if status.quote_of is None:
            return None
        quoted = self._statuses.get(status.quote_of)
        if quoted is None or quoted.deleted:
            state = "deleted"
        elif not self._can_see(quoted, viewer_id):
            state = "unauthorized"
        else:
            state = "accepted"
        if shallow:
            return {
                "state": state,
                "quoted_status_id": str(quoted.id) if quoted and state == "accepted" else None,
            }
        return {
            "state": state,
            "quoted_status": (
                self._status_json(quoted, viewer_id, shallow_quote=True)
                if quoted is not None and state == "accepted"
                else None
            ),
        }

    def _quote_approval_json(self, status: Status, viewer_id: str | None) -> dict[str, Any]:
        """REST::StatusSerializer#quote_approval (docs: entities/QuoteApproval)."""
        policy = self._quote_policy_of(status)
        automatic = [] if policy == "nobody" else [policy]
        if viewer_id is not None and self._may_quote(viewer_id, status):
            current = "automatic"
        else:
            current = "denied"
        return {"automatic": automatic, "manual": [], "current_user": current}

    def _quote_fallback(self, status: Status) -> str:
        """The ``<p class="quote-inline">RE: <a …>…</a></p>`` put before a quote's content
        unless it links the quoted post already (docs: client/quotes, methods/statuses)."""
        if status.quote_of is None or not self._quote_shown():
            return ""
        quoted = self._get_status(status.quote_of)
        if quoted is None:
            return ""
        url = self._status_url(quoted)
        if url in status.content:
            return ""
        return f'<p class="quote-inline">RE: {shortened_link(url)}</p>'

    def _edit_json(self, status: Status, edit: StatusEdit) -> dict[str, Any]:
        """REST::StatusEditSerializer: ``poll`` only when that version had one."""
        shadow = Status(**{**status.__dict__})
        shadow.text, shadow.spoiler_text = edit.text, edit.spoiler_text
        self._render(shadow)
        media = []
        for media_id, description in edit.media:
            if media_id in self._media:
                media.append(
                    {**self._media_json(self._media[media_id]), "description": description}
                )
        body: dict[str, Any] = {
            "content": self._quote_fallback(shadow) + shadow.content,
            "spoiler_text": edit.spoiler_text,
            "sensitive": edit.sensitive,
            "created_at": iso_millis(edit.created_at),
            "account": self._account_json(self._users[edit.account_id]),
            "media_attachments": media,
            "emojis": [],
        }
        if edit.poll_options:
            body["poll"] = {"options": [{"title": t} for t in edit.poll_options]}
        return body
