"""X (Twitter) API v2 through tweepy's ``Client``, OAuth 1.0a user context.

Every call goes through :meth:`TwitterNetwork._call`, which maps tweepy and requests failures
to :mod:`birdbridge.errors`. tweepy's host is hard-coded; :class:`BaseUrlSession` points it at
``api_base_url`` and adds the timeout tweepy lacks (reference/api-facts.md section 3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import requests
import tweepy
from requests_oauthlib import OAuth1

from birdbridge.config import TwitterConfig
from birdbridge.errors import AuthRevoked, Permanent, RateLimited, Transient, UsageCapped
from birdbridge.media.images import ImageLimits
from birdbridge.models import (
    Account,
    FetchResult,
    Media,
    MediaKind,
    MediaSource,
    NetworkName,
    OutgoingPart,
    Post,
    Published,
    Visibility,
)
from birdbridge.networks.base import MediaLimits, NetworkLimits, UploadedMedia, well_formed
from birdbridge.networks.funnel import Funnel
from birdbridge.networks.http import BaseUrlSession
from birdbridge.networks.meter import CallMeter
from birdbridge.networks.textmatch import same_text
from birdbridge.networks.twitter_media import XMediaUploader
from birdbridge.render.length import X_MAX_WEIGHTED_LENGTH, x_weighted_length

log = logging.getLogger(__name__)
T = TypeVar("T")

# tweepy's PUBLIC_TWEET_FIELDS omits note_tweet (api-facts section 1): ask for what we use.
TWEET_FIELDS = [
    "id",
    "text",
    "author_id",
    "created_at",
    "conversation_id",
    "in_reply_to_user_id",
    "referenced_tweets",
    "entities",
    "note_tweet",
    "lang",
    "possibly_sensitive",
    "attachments",
]
MEDIA_FIELDS = ["media_key", "type", "url", "variants", "alt_text", "width", "height"]
# docs.x.com x-api/media/introduction: images 5 MB, GIF 15 MB, video 512 MB; 4 photos or 1
# GIF/video per post; alt text up to 1000 characters.
X_MEDIA_LIMITS = MediaLimits(
    max_per_post=4,
    kinds=frozenset({MediaKind.IMAGE, MediaKind.GIF, MediaKind.VIDEO}),
    image=ImageLimits(
        types=frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"}),
        max_bytes=5 * 1024 * 1024,
        max_pixels=8192 * 8192,
    ),
    gif_bytes=15 * 1024 * 1024,
    video_bytes=512 * 1024 * 1024,
    video_types=frozenset({"video/mp4", "video/quicktime"}),
    alt_text_chars=1000,
)
_MEDIA_KINDS = {"photo": MediaKind.IMAGE, "animated_gif": MediaKind.GIF, "video": MediaKind.VIDEO}
PAGE_SIZE = 100
_MEDIA_LINK = re.compile(r"/status/\d+/(?:photo|video)/\d+$")  # the endpoint's maximum (5..100)
FIRST_POLL_PAGE = 5  # the minimum max_results: the first poll only needs the newest id
# A cursor of this form means "nothing seen yet; take posts created after this instant".
TIME_CURSOR = "t:"
# Clock skew allowance when searching our own recent posts after a crash.
RECOVERY_MARGIN = timedelta(minutes=5)


class TwitterNetwork(Funnel):
    name = NetworkName.TWITTER

    def __init__(self, config: TwitterConfig, *, timeout: float = 20) -> None:
        self._config = config
        self.client = tweepy.Client(
            consumer_key=config.consumer_key.get_secret_value(),
            consumer_secret=config.consumer_secret.get_secret_value(),
            access_token=config.access_token.get_secret_value(),
            access_token_secret=config.access_token_secret.get_secret_value(),
            return_type=dict,
            wait_on_rate_limit=False,  # never sleep inside a library call: we reschedule instead
        )
        self.client.session = BaseUrlSession(config.api_base_url, timeout)
        self.meter = CallMeter("twitter", per_endpoint=True)  # X limits each endpoint
        self.client.session.hooks["response"].append(self._observe)
        self._uploader = XMediaUploader(
            self.client.session,
            config.api_base_url,
            OAuth1(
                config.consumer_key.get_secret_value(),
                config.consumer_secret.get_secret_value(),
                config.access_token.get_secret_value(),
                config.access_token_secret.get_secret_value(),
            ),
        )
        self._account: Account | None = None

    # -- the funnel ------------------------------------------------------------------
    def _invoke(self, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return function(*args, **kwargs)
        except tweepy.TooManyRequests as exc:
            if _usage_capped(exc):
                raise UsageCapped(
                    f"X {what}: the app's monthly usage cap is reached (429 usage-capped); "
                    "X is paused for this link until the cap resets or `birdbridge resume`",
                    retry_at=_reset_time(exc.response),
                    network="twitter",
                ) from None
            raise RateLimited(
                f"X {what}: rate limited (429){_detail(exc)}",
                retry_at=_reset_time(exc.response),
                network="twitter",
            ) from None
        except tweepy.Unauthorized as exc:
            raise AuthRevoked(
                f"X {what}: the credentials were refused (401){_detail(exc)}; check the link's "
                "[links.twitter] keys and tokens, and that the app has read and write access",
                network="twitter",
            ) from None
        except (tweepy.BadRequest, tweepy.Forbidden, tweepy.NotFound) as exc:
            raise Permanent(
                f"X {what}: refused ({exc.response.status_code}){_detail(exc)}", network="twitter"
            ) from None
        except tweepy.TwitterServerError as exc:
            raise Transient(
                f"X {what}: server error ({exc.response.status_code})", network="twitter"
            ) from None
        except tweepy.HTTPException as exc:
            status = exc.response.status_code
            kind = Permanent if 400 <= status < 500 else Transient
            raise kind(f"X {what}: HTTP {status}{_detail(exc)}", network="twitter") from None
        except requests.Timeout:
            raise Transient(f"X {what}: timed out", network="twitter") from None
        except requests.RequestException as exc:
            # ConnectionError, a dropped connection, and JSONDecodeError (garbage body) land here.
            raise Transient(f"X {what}: {type(exc).__name__}: {exc}", network="twitter") from None
        except ValueError as exc:
            raise Transient(f"X {what}: unreadable reply: {exc}", network="twitter") from None

    # -- identity and limits ---------------------------------------------------------
    def account(self) -> Account:
        if self._account is None:
            body = self._call(
                "GET /2/users/me",
                self.client.get_me,
                user_fields=["id", "name", "username", "protected"],
                user_auth=True,
            )
            data = _expect_dict(body, "data", "GET /2/users/me")
            username = str(data.get("username") or "")
            self._account = Account(
                network=self.name,
                id=str(data["id"]),
                handle=f"@{username}",
                url=f"https://x.com/{username}",
                protected=bool(data.get("protected")),
            )
        return self._account

    def limits(self) -> NetworkLimits:
        return NetworkLimits(
            max_characters=X_MAX_WEIGHTED_LENGTH, counter=x_weighted_length, media=X_MEDIA_LIMITS
        )

    def upload_media(self, path: Path, mime: str, kind: MediaKind, alt_text: str) -> UploadedMedia:
        return self._uploader.upload(path, mime, kind, alt_text)

    # -- reading ---------------------------------------------------------------------
    def fetch_since(self, cursor: str | None, *, include_reposts: bool = False) -> FetchResult:
        account = self.account()
        if cursor is None:
            return self._first_poll(account)
        params: dict[str, Any] = {
            "max_results": PAGE_SIZE,
            "tweet_fields": TWEET_FIELDS,
            "expansions": ["attachments.media_keys"],
            "media_fields": MEDIA_FIELDS,
            "user_auth": True,
        }
        if cursor.startswith(TIME_CURSOR):
            params["start_time"] = cursor[len(TIME_CURSOR) :]
        else:
            params["since_id"] = cursor
        if not include_reposts:
            params["exclude"] = ["retweets"]  # X bills per post read: do not read what we skip
        tweets: list[dict[str, Any]] = []
        media: dict[str, dict[str, Any]] = {}
        newest: str | None = None
        token: str | None = None
        while True:
            body = self._call(
                "GET /2/users/:id/tweets",
                self.client.get_users_tweets,
                account.id,
                pagination_token=token,
                **params,
            )
            meta = body.get("meta") if isinstance(body, dict) else None
            if not isinstance(meta, dict):
                raise Transient("X GET /2/users/:id/tweets: reply has no meta", network="twitter")
            newest = newest or meta.get("newest_id")
            tweets.extend(_expect_list(body, "data"))
            media.update(_included_media(body))
            token = meta.get("next_token")
            if not token:
                break
        posts = well_formed(self.name, tweets, lambda t: self._to_post(t, account, media))
        posts.sort(key=lambda p: int(p.id))
        next_cursor = str(newest) if newest else (posts[-1].id if posts else cursor)
        return FetchResult(posts=posts, cursor=next_cursor)

    def _first_poll(self, account: Account) -> FetchResult:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._call(
            "GET /2/users/:id/tweets",
            self.client.get_users_tweets,
            account.id,
            max_results=FIRST_POLL_PAGE,
            user_auth=True,
        )
        meta = body.get("meta") if isinstance(body, dict) else None
        newest = meta.get("newest_id") if isinstance(meta, dict) else None
        return FetchResult(posts=[], cursor=str(newest) if newest else TIME_CURSOR + now)

    def _to_post(
        self,
        tweet: dict[str, Any],
        account: Account,
        media: dict[str, dict[str, Any]] | None = None,
    ) -> Post:
        try:
            tweet_id = str(tweet["id"])
            if not tweet_id.isdigit():  # X ids are numeric strings (snowflakes)
                raise ValueError(f"post id {tweet_id!r} is not a number")
            note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else None
            source = note if note and note.get("text") else tweet
            text = expand_urls(str(source["text"]), source.get("entities"))
            refs = {
                r.get("type"): str(r.get("id"))
                for r in tweet.get("referenced_tweets") or []
                if isinstance(r, dict)
            }
            created = tweet.get("created_at")
            created_at = (
                datetime.fromisoformat(created.replace("Z", "+00:00"))
                if isinstance(created, str)
                else datetime.now(UTC)
            )
            reply_user = tweet.get("in_reply_to_user_id")
            attachments = tweet.get("attachments") or {}
            keys = attachments.get("media_keys") or [] if isinstance(attachments, dict) else []
            items = tuple(item for key in keys if (item := _to_media((media or {}).get(str(key)))))
        except (KeyError, TypeError, ValueError) as exc:
            raise Transient(f"X: malformed post in reply: {exc!r}", network="twitter") from None
        return Post(
            network=self.name,
            id=tweet_id,
            author_id=str(tweet.get("author_id") or account.id),
            text=_unescape(text),
            created_at=created_at,
            # X has no per-post audience: every post of a protected account is followers-only.
            visibility=Visibility.PRIVATE if account.protected else Visibility.PUBLIC,
            url=f"{account.url}/status/{tweet_id}",
            in_reply_to_id=refs.get("replied_to"),
            in_reply_to_author_id=str(reply_user) if reply_user else None,
            is_repost="retweeted" in refs,
            quoted_id=refs.get("quoted"),
            sensitive=bool(tweet.get("possibly_sensitive")),
            language=tweet.get("lang"),
            media=items,
        )

    # -- writing ---------------------------------------------------------------------
    def publish(self, part: OutgoingPart, *, idempotency_key: str) -> Published:
        # X has no idempotency key: recovery searches our own posts instead (DESIGN, recover).
        try:
            return self._create(part.text, part.in_reply_to_id, part.media_ids)
        except Permanent as exc:
            if part.in_reply_to_id is None or not _is_reply_refusal(str(exc)):
                raise
            # 2026 self-serve reply restriction (api-facts section 2): post it standalone.
            log.warning(
                "X refused the reply to %s (%s); posting it standalone", part.in_reply_to_id, exc
            )
            published = self._create(part.text, None, part.media_ids)
            return Published(id=published.id, url=published.url, reply_fallback=True)

    def _create(
        self, text: str, in_reply_to_id: str | None, media_ids: tuple[str, ...] = ()
    ) -> Published:
        body = self._call(
            "POST /2/tweets",
            self.client.create_tweet,
            text=text or None,  # a post with media may have no text
            in_reply_to_tweet_id=in_reply_to_id,
            media_ids=list(media_ids) or None,
            user_auth=True,
        )
        data = _expect_dict(body, "data", "POST /2/tweets")
        tweet_id = str(data["id"])
        return Published(id=tweet_id, url=f"{self.account().url}/status/{tweet_id}")

    def find_recent_own(
        self, text: str, since: datetime, exclude_ids: set[str]
    ) -> Published | None:
        account = self.account()
        start = (since - RECOVERY_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._call(
            "GET /2/users/:id/tweets",
            self.client.get_users_tweets,
            account.id,
            start_time=start,
            max_results=PAGE_SIZE,
            tweet_fields=TWEET_FIELDS,
            exclude=["retweets"],
            user_auth=True,
        )
        for tweet in _expect_list(body, "data"):
            post = self._to_post(tweet, account)
            if post.id not in exclude_ids and same_text(post.text, text):
                return Published(id=post.id, url=post.url)
        return None

    def delete(self, post_id: str) -> None:
        self._call("DELETE /2/tweets/:id", self.client.delete_tweet, post_id, user_auth=True)


def _included_media(body: Any) -> dict[str, dict[str, Any]]:
    includes = body.get("includes") if isinstance(body, dict) else None
    items = includes.get("media") if isinstance(includes, dict) else None
    if not isinstance(items, list):
        return {}
    return {str(m["media_key"]): m for m in items if isinstance(m, dict) and m.get("media_key")}


def _to_media(item: dict[str, Any] | None) -> Media | None:
    """X's media object -> Media; videos and GIFs list their mp4 renditions, best first."""
    if item is None or item.get("type") not in _MEDIA_KINDS:
        return None
    kind = _MEDIA_KINDS[item["type"]]
    sources: tuple[MediaSource, ...]
    if kind is MediaKind.IMAGE:
        sources = (MediaSource(url=str(item["url"])),) if item.get("url") else ()
    else:
        mp4 = [
            v
            for v in item.get("variants") or []
            if isinstance(v, dict) and v.get("content_type") == "video/mp4" and v.get("url")
        ]
        mp4.sort(key=lambda v: int(v.get("bit_rate") or 0), reverse=True)
        sources = tuple(
            MediaSource(url=str(v["url"]), content_type="video/mp4", bit_rate=v.get("bit_rate"))
            for v in mp4
        )
    return Media(
        kind=kind,
        sources=sources,
        alt_text=str(item.get("alt_text") or ""),
        width=item.get("width"),
        height=item.get("height"),
    )


# Between "@" and a handle, so no Mastodon server links it to an unrelated local account of
# the same name: the mention stays readable ("@carol") but pings nobody.
WORD_JOINER = "\u2060"


def expand_urls(text: str, entities: Any) -> str:
    """X text -> neutral text, from the ``entities`` offsets (never a regex over the text):
    t.co links become the URLs they stand for, the link to the post's own media is dropped,
    and @mentions of X accounts are kept as text that pings no one on the other network."""
    if not isinstance(entities, dict):
        return text
    edits: list[tuple[int, int, str, str]] = []  # start, end, expected text, replacement
    for url in entities.get("urls") or []:
        if isinstance(url, dict) and url.get("url") and url.get("expanded_url"):
            # X appends a t.co link to the post's own media ("…/status/1/photo/1", with a
            # media_key): the media travel as media, so that link is dropped, not expanded.
            replacement = "" if _is_media_link(url) else str(url["expanded_url"])
            edits.append((url.get("start", -1), url.get("end", -1), str(url["url"]), replacement))
    for mention in entities.get("mentions") or []:
        if isinstance(mention, dict) and mention.get("username"):
            name = str(mention["username"])
            edits.append(
                (
                    mention.get("start", -1),
                    mention.get("end", -1),
                    f"@{name}",
                    f"@{WORD_JOINER}{name}",
                )
            )
    # Offsets count code points (X data dictionary), as Python's str does; apply from the end
    # so earlier offsets stay valid.
    for start, end, expected, replacement in sorted(edits, key=lambda e: -int(e[0])):
        if (
            isinstance(start, int)
            and isinstance(end, int)
            and (text[start:end].lower() == expected.lower())
        ):
            text = text[:start] + replacement + text[end:]
        elif expected.startswith("https://t.co/"):
            text = text.replace(expected, replacement, 1)  # a t.co link is unique in a post
    return text.strip()


def _is_media_link(url: dict[str, Any]) -> bool:
    return bool(url.get("media_key")) or bool(_MEDIA_LINK.search(str(url.get("expanded_url"))))


def _unescape(text: str) -> str:
    # X escapes &, < and > in tweet text (data dictionary: "text").
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _expect_dict(body: Any, key: str, what: str) -> dict[str, Any]:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict) or "id" not in value:
        raise Transient(f"X {what}: reply has no {key!r} object", network="twitter")
    return value


def _expect_list(body: Any, key: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        raise Transient("X: reply is not a JSON object", network="twitter")
    value = body.get(key, [])
    if not isinstance(value, list):
        raise Transient(f"X: reply's {key!r} is not a list", network="twitter")
    return [item for item in value if isinstance(item, dict)]


def _detail(exc: tweepy.HTTPException) -> str:
    messages = [m for m in exc.api_messages if m]
    return f": {'; '.join(messages)}" if messages else ""


def _reset_time(response: Any) -> datetime:
    """X's reset header is Unix epoch seconds (docs.x.com fundamentals/rate-limits)."""
    try:
        return datetime.fromtimestamp(int(response.headers["x-rate-limit-reset"]), UTC)
    except (KeyError, TypeError, ValueError, AttributeError):
        return datetime.now(UTC) + timedelta(minutes=15)  # X's windows are 15 minutes


def _usage_capped(exc: tweepy.HTTPException) -> bool:
    """docs.x.com fundamentals/response-codes-and-errors: problem type ".../usage-capped"."""
    try:
        body = exc.response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "usage-capped" in str(body.get("type", ""))


def _is_reply_refusal(message: str) -> bool:
    lowered = message.lower()
    return "(403)" in lowered and ("repl" in lowered or "conversation" in lowered)
