"""Posts as the server keeps them: storing a post, retweet or new version of an edited post
(URLs become t.co links, a long post keeps its start as ``text``, media add their link), the
entities X finds, edit chains, and the rules a reply, a duplicate and an edit are held to."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Any

from birdbridge.sandbox.x.errors import (
    EDIT_FORBIDDEN_DETAIL,
    EDIT_LIMIT_DETAIL,
    EDIT_NOT_ELIGIBLE_DETAIL,
    EDIT_NOT_LATEST_DETAIL,
    EDIT_POLL_DETAIL,
    EDIT_WINDOW_DETAIL,
    MAX_EDITS,
)
from birdbridge.sandbox.x.polls import new_poll
from birdbridge.sandbox.x.records import XPost, XUser
from birdbridge.sandbox.x.state import XState, random_text
from birdbridge.sandbox.x.text import (
    HASHTAG_RE,
    MAX_WEIGHTED_LENGTH,
    MENTION_RE,
    display_url,
    language_of,
    truncate,
    url_spans,
    weighted_length,
)


class Posts(XState):
    """The posts part of the server's state (call its methods with the lock held)."""

    def _store(
        self,
        author: XUser,
        text: str,
        *,
        in_reply_to_id: str | None = None,
        quote_id: str | None = None,
        retweet_of: str | None = None,
        created_at: datetime | None = None,
        media_ids: list[str] | None = None,
        reply_settings: str | None = None,
        poll: dict[str, Any] | None = None,
        sensitive: bool = False,
        edit_of: XPost | None = None,
    ) -> XPost:
        """Store a post (``edit_of``: as the next version of that post's edit chain)."""
        parent, original, text = self._targets(text, in_reply_to_id, retweet_of)
        created = created_at or datetime.fromtimestamp(self.now(), UTC)
        stored_poll = None if poll is None else new_poll(poll, created, self._new_tweet_id)
        tweet_id = self._new_tweet_id()
        full_text, full_entities = self._shorten(text)
        long_post = weighted_length(text) > MAX_WEIGHTED_LENGTH
        shown = truncate(full_text) if long_post else full_text
        conversation_id = parent.conversation_id if parent else tweet_id
        if edit_of is not None:  # a new version stays in the original's conversation
            conversation_id = edit_of.conversation_id
        record = XPost(
            id=tweet_id,
            author_id=author.id,
            source_text=text,
            full_text=full_text,
            text=shown,
            entities=full_entities if not long_post else self._entities(shown),
            note_entities=full_entities if long_post else None,
            long=long_post,
            created_at=created,
            conversation_id=conversation_id,
            in_reply_to_tweet_id=parent.id if parent else None,
            in_reply_to_user_id=parent.author_id if parent else None,
            quote_of=str(quote_id) if quote_id else None,
            retweet_of=original.id if original else None,
            referenced=_references(parent, quote_id, original),
            media_keys=[self._media_key(m) for m in media_ids or []],
            reply_settings=reply_settings or "everyone",
            lang=language_of(text),
            poll=stored_poll,
            possibly_sensitive=bool(sensitive),
            edit_eligible=stored_poll is None
            and original is None
            and (parent is None or parent.author_id == author.id),
            chain=edit_of.chain if edit_of is not None else tweet_id,
        )
        self._chains.setdefault(record.chain, []).append(tweet_id)
        if record.media_keys and self.media_link_in_text:
            self._add_media_link(record, author)
        self._tweets[tweet_id] = record
        return record

    def _targets(
        self, text: str, in_reply_to_id: str | None, retweet_of: str | None
    ) -> tuple[XPost | None, XPost | None, str]:
        """The post replied to, the post retweeted (ValueError for an unknown one), and the
        text to store: NFC, or a retweet's "RT @author: ..."."""
        text = unicodedata.normalize("NFC", text)
        parent = self._tweets.get(str(in_reply_to_id)) if in_reply_to_id else None
        if in_reply_to_id and parent is None:
            raise ValueError(f"no tweet {in_reply_to_id}")
        original = self._tweets.get(str(retweet_of)) if retweet_of else None
        if retweet_of:
            if original is None:
                raise ValueError(f"no tweet {retweet_of}")
            source = self._users[original.author_id]
            text = f"RT @{source.username}: {original.full_text}"
        return parent, original, text

    def _media_key(self, media_id: str) -> str:
        media = self._media.get(media_id)
        return media.key if media is not None else f"3_{media_id}"

    def _add_media_link(self, record: XPost, author: XUser) -> None:
        """X ends the text of a post with media with a t.co link to the media, whose
        ``entities.urls`` entry carries the first ``media_key`` (display_url pic.x.com/...)."""
        first = self._media.get(record.media_keys[0].split("_", 1)[1])
        kind = "video" if first is not None and first.type == "video" else "photo"
        tco = f"https://t.co/{random_text(10)}"
        entities = record.entities = dict(record.entities)
        shown = record.text
        start = len(shown) + (1 if shown else 0)
        url = {
            "start": start,
            "end": start + len(tco),
            "url": tco,
            "expanded_url": f"https://x.com/{author.username}/status/{record.id}/{kind}/1",
            "display_url": f"pic.x.com/{tco[-10:]}",
            "media_key": record.media_keys[0],
        }
        entities["urls"] = [*entities.get("urls", []), url]
        record.text = f"{shown} {tco}" if shown else tco
        if not record.long:
            record.full_text = record.text

    def _shorten(self, text: str) -> tuple[str, dict[str, Any]]:
        """Replace each URL by a t.co link, as X does, and return the entities."""
        out, urls, pos, offset = [], [], 0, 0
        for start, end in url_spans(text):
            original = text[start:end]
            tco = f"https://t.co/{random_text(10)}"
            out.append(text[pos:start])
            new_start = start + offset
            expanded = original if re.match(r"https?://", original, re.I) else f"http://{original}"
            urls.append(
                {
                    "start": new_start,
                    "end": new_start + len(tco),
                    "url": tco,
                    "expanded_url": expanded,
                    "display_url": display_url(original),
                }
            )
            out.append(tco)
            offset += len(tco) - (end - start)
            pos = end
        out.append(text[pos:])
        shortened = "".join(out)
        entities = self._entities(shortened, urls)
        return shortened, entities

    def _entities(self, text: str, urls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        if urls is None:  # recompute positions of t.co links already in the text
            urls = [
                {
                    "start": m.start(),
                    "end": m.end(),
                    "url": m.group(0),
                    "expanded_url": m.group(0),
                    "display_url": m.group(0)[8:],
                }
                for m in re.finditer(r"https://t\.co/\w{10}", text)
            ]
        mentions = []
        for match in MENTION_RE.finditer(text):
            mention: dict[str, Any] = {
                "start": match.start(),
                "end": match.end(),
                "username": match.group(1),
            }
            user_id = self._by_username.get(match.group(1).lower())
            if user_id:
                mention["id"] = user_id
            mentions.append(mention)
        in_url = [(u["start"], u["end"]) for u in urls]
        hashtags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in HASHTAG_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in in_url)
        ]
        entities: dict[str, Any] = {}
        for key, value in (("urls", urls), ("mentions", mentions), ("hashtags", hashtags)):
            if value:
                entities[key] = value
        return entities

    def _history(self, record: XPost) -> list[str]:
        """``edit_history_tweet_ids``: every version of the record's chain, oldest first."""
        return list(self._chains[record.chain])

    def _is_latest(self, record: XPost) -> bool:
        return self._chains[record.chain][-1] == record.id

    def _may_reply(self, replier: XUser, parent: XPost) -> bool:
        """X's self-serve rule (2026-02-23): the parent's author summoned the replier."""
        if parent.author_id == replier.id:
            return self.self_replies_allowed
        mentioned = {m["username"].lower() for m in parent.entities.get("mentions", [])}
        if replier.username.lower() in mentioned:
            return True
        quoted = self._tweets.get(parent.quote_of or "")
        return bool(quoted and quoted.author_id == replier.id)

    def _is_duplicate(self, author_id: str, text: str) -> bool:
        recent = [
            r
            for r in self._tweets.values()
            if r.author_id == author_id
            and not r.deleted
            and not r.retweet_of
            and self._is_latest(r)
        ]
        recent.sort(key=lambda r: int(r.id), reverse=True)
        return any(r.source_text == text for r in recent[:200])

    def _retweet_by(self, user_id: str, tweet_id: str) -> XPost | None:
        for record in self._tweets.values():
            if record.author_id == user_id and record.retweet_of == tweet_id and not record.deleted:
                return record
        return None

    def _edit_refusal(self, previous: XPost, author: XUser) -> str | None:
        """Why X would refuse to edit ``previous`` (XD:…/edit-posts.mdx), or None."""
        if previous.author_id != author.id:
            return EDIT_FORBIDDEN_DETAIL
        if not self._is_latest(previous):
            return EDIT_NOT_LATEST_DETAIL
        chain = self._history(previous)
        original = self._tweets[chain[0]]
        if original.poll:
            return EDIT_POLL_DETAIL
        if not original.edit_eligible:  # reposts, replies to others
            return EDIT_NOT_ELIGIBLE_DETAIL
        if self.now() >= original.created_at.timestamp() + self.edit_window_s:
            return EDIT_WINDOW_DETAIL
        if len(chain) - 1 >= MAX_EDITS:
            return EDIT_LIMIT_DETAIL
        return None

    def _store_edit(self, previous: XPost, author: XUser, text: str, media_ids: list[str]) -> XPost:
        return self._store(
            author,
            text,
            in_reply_to_id=previous.in_reply_to_tweet_id,
            quote_id=previous.quote_of,
            media_ids=media_ids,
            reply_settings=previous.reply_settings,
            sensitive=previous.possibly_sensitive,
            edit_of=previous,
        )

    def _delete_chain(self, record: XPost) -> None:
        """Delete every version of the record's edit chain, and the retweets of them (a
        retweet disappears with its original)."""
        versions = set(self._history(record))
        for other in self._tweets.values():
            if other.id in versions or other.retweet_of in versions:
                other.deleted = True


def _references(
    parent: XPost | None, quote_id: str | None, original: XPost | None
) -> list[dict[str, str]]:
    """``referenced_tweets``: the post replied to, the one quoted, the one retweeted."""
    referenced = []
    if parent is not None:
        referenced.append({"type": "replied_to", "id": parent.id})
    if quote_id:
        referenced.append({"type": "quoted", "id": str(quote_id)})
    if original is not None:
        referenced.append({"type": "retweeted", "id": original.id})
    return referenced
