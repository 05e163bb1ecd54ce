"""The v2 tweet and user objects, and the payload of the read endpoints: ``data``, the
``includes`` that ``expansions`` ask for, and ``errors`` for expanded posts that are gone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from birdbridge.sandbox.common import Request
from birdbridge.sandbox.common.times import iso_millis
from birdbridge.sandbox.x.errors import MAX_EDITS, not_found_error
from birdbridge.sandbox.x.fields import fields as query_fields
from birdbridge.sandbox.x.media_store import MediaStore
from birdbridge.sandbox.x.polls import render_poll
from birdbridge.sandbox.x.posts import Posts
from birdbridge.sandbox.x.records import XPost, XUser
from birdbridge.sandbox.x.text import escape

_REFERENCE_EXPANSIONS = {
    "referenced_tweets.id",
    "referenced_tweets.id.author_id",
    "referenced_tweets.id.attachments.media_keys",
}


@dataclass
class _Expanded:
    """What ``expansions`` pull into ``includes`` (ids in the order first met), and the
    errors for expanded posts that are gone."""

    user_ids: list[str] = field(default_factory=list)
    tweet_ids: list[str] = field(default_factory=list)
    media_keys: list[str] = field(default_factory=list)
    poll_ids: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @staticmethod
    def add(bucket: list[str], value: str | None) -> None:
        if value and value not in bucket:
            bucket.append(value)


class Rendering(Posts, MediaStore):
    """How the server shows what it keeps (call with the lock held)."""

    def _render(self, record: XPost, fields: set[str] | None = None) -> dict[str, Any]:
        """The v2 tweet object; ``fields=None`` renders every field this sandbox knows."""

        def want(name: str) -> bool:
            return fields is None or name in fields

        tweet: dict[str, Any] = {
            "id": record.id,
            "text": escape(record.text),
            "edit_history_tweet_ids": self._history(record),
        }
        if want("author_id"):
            tweet["author_id"] = record.author_id
        if want("created_at"):
            tweet["created_at"] = iso_millis(record.created_at)
        if want("conversation_id"):
            tweet["conversation_id"] = record.conversation_id
        if want("in_reply_to_user_id") and record.in_reply_to_user_id:
            tweet["in_reply_to_user_id"] = record.in_reply_to_user_id
        if want("referenced_tweets") and record.referenced:
            tweet["referenced_tweets"] = [dict(r) for r in record.referenced]
        if want("entities") and record.entities:
            tweet["entities"] = record.entities
        if want("note_tweet") and record.long:
            note: dict[str, Any] = {"text": escape(record.full_text)}
            if record.note_entities:
                note["entities"] = record.note_entities
            tweet["note_tweet"] = note
        if want("attachments") and (record.media_keys or record.poll):
            attachments: dict[str, Any] = {}
            if record.media_keys:
                attachments["media_keys"] = list(record.media_keys)
            if record.poll:
                attachments["poll_ids"] = [record.poll.id]
            tweet["attachments"] = attachments
        if want("edit_controls"):
            tweet["edit_controls"] = self._edit_controls(record)
        if want("possibly_sensitive"):
            tweet["possibly_sensitive"] = record.possibly_sensitive
        if want("lang"):
            tweet["lang"] = record.lang
        if want("reply_settings"):
            tweet["reply_settings"] = record.reply_settings
        if fields is not None and "public_metrics" in fields:
            tweet["public_metrics"] = {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        return tweet

    def _edit_controls(self, record: XPost) -> dict[str, Any]:
        """``edit_controls`` (XD:…/edit-posts.mdx): the same for every version of a chain,
        counted from the original post; ``is_edit_eligible`` as at creation (enterprise
        edit-tweets.mdx: "If a Post was edit eligible at the time of creation")."""
        chain = self._history(record)
        original = self._tweets[chain[0]]
        until = original.created_at.timestamp() + self.edit_window_s
        return {
            "edits_remaining": max(0, MAX_EDITS - (len(chain) - 1)),
            "is_edit_eligible": original.edit_eligible,
            "editable_until": iso_millis(datetime.fromtimestamp(until, UTC)),
        }

    def _render_user(self, user: XUser, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if "protected" in fields:
            data["protected"] = user.protected
        if "verified" in fields:
            data["verified"] = False
        if "description" in fields:
            data["description"] = ""
        if "created_at" in fields:
            data["created_at"] = "2020-01-01T00:00:00.000Z"
        return data

    def _tweets_payload(
        self, request: Request, rows: list[XPost], meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``data`` plus ``includes`` per ``expansions``; an expanded tweet that is gone is
        reported in top-level ``errors`` as X does ("Could not find tweet with
        referenced_tweets.id: [...]")."""
        fields = query_fields(request, "tweet.fields")
        expansions = query_fields(request, "expansions")
        payload: dict[str, Any] = {"data": [self._render(r, fields) for r in rows]}
        expanded = _Expanded()
        row_ids = {r.id for r in rows}
        for r in rows:
            self._expand(r, expansions, expanded, row_ids)
        includes = self._includes(request, rows, expanded, fields)
        if includes:
            payload["includes"] = includes
        if expanded.errors:
            payload["errors"] = expanded.errors
        if meta is not None:
            payload["meta"] = meta
        return payload

    def _expand(
        self, r: XPost, expansions: set[str], expanded: _Expanded, row_ids: set[str]
    ) -> None:
        if "author_id" in expansions:
            expanded.add(expanded.user_ids, r.author_id)
        if "in_reply_to_user_id" in expansions:
            expanded.add(expanded.user_ids, r.in_reply_to_user_id)
        if "entities.mentions.username" in expansions:
            for m in r.entities.get("mentions", []):
                expanded.add(expanded.user_ids, m.get("id"))
        if "attachments.media_keys" in expansions:
            for key in r.media_keys:
                expanded.add(expanded.media_keys, key)
        if "attachments.poll_ids" in expansions and r.poll:
            expanded.add(expanded.poll_ids, r.poll.id)
        if "edit_history_tweet_ids" in expansions:  # the other versions of the chain
            for version in self._history(r):
                if version not in row_ids:
                    expanded.add(expanded.tweet_ids, version)
        if expansions & _REFERENCE_EXPANSIONS:
            self._expand_references(r, expansions, expanded)

    def _expand_references(self, r: XPost, expansions: set[str], expanded: _Expanded) -> None:
        for ref in r.referenced:
            target = self._tweets.get(ref["id"])
            if target is None or target.deleted:
                error = not_found_error("tweet", ref["id"], "referenced_tweets.id")
                if error not in expanded.errors:
                    expanded.errors.append(error)
                continue
            if "referenced_tweets.id" in expansions:
                expanded.add(expanded.tweet_ids, ref["id"])
            if "referenced_tweets.id.author_id" in expansions:
                expanded.add(expanded.user_ids, target.author_id)
            if "referenced_tweets.id.attachments.media_keys" in expansions:
                for key in target.media_keys:
                    expanded.add(expanded.media_keys, key)

    def _includes(
        self, request: Request, rows: list[XPost], expanded: _Expanded, fields: set[str]
    ) -> dict[str, list[dict[str, Any]]]:
        includes: dict[str, list[dict[str, Any]]] = {}
        if expanded.user_ids:
            user_fields = query_fields(request, "user.fields")
            includes["users"] = [
                self._render_user(self._users[u], user_fields)
                for u in expanded.user_ids
                if u in self._users
            ]
        if expanded.tweet_ids:
            includes["tweets"] = [self._render(self._tweets[t], fields) for t in expanded.tweet_ids]
        if expanded.media_keys:
            media_fields = query_fields(request, "media.fields")
            includes["media"] = [
                self._render_media(self._media[self._media_by_key[k]], media_fields)
                for k in expanded.media_keys
                if k in self._media_by_key
            ]
        if expanded.poll_ids:
            polls = {r.poll.id: r.poll for r in rows if r.poll}
            poll_fields = query_fields(request, "poll.fields")
            includes["polls"] = [render_poll(polls[p], poll_fields) for p in expanded.poll_ids]
        return includes
