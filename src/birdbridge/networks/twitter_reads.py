"""Reading an X account's posts: the poll (GET /2/users/:id/tweets since the cursor), the
re-check of mirrored posts (GET /2/tweets, 100 ids a call) and the recent posts crash
recovery looks through, each with the fields, expansions and author a poll asks for
(api-notes X1). X bills every post read (X2): nothing is read twice. The adapter
(networks/twitter.py) adds the account, the writes and the funnel's error mapping."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import tweepy

from birdbridge.errors import Transient
from birdbridge.models import Account, FetchResult, NetworkName, Post
from birdbridge.networks.base import Recheck, well_formed
from birdbridge.networks.funnel import Funnel
from birdbridge.networks.twitter_posts import Includes, is_post_id, tweet_to_post
from birdbridge.networks.twitter_spec import (
    FIRST_POLL_PAGE,
    LOOKUP_BATCH,
    PAGE_SIZE,
    READ_PARAMS,
    RECOVERY_MARGIN,
    TIME_CURSOR,
    expect_dict,
    expect_list,
    not_found_ids,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KnownAccount:
    """Who the tokens act as, as the database knows it: the id, and the handle when known."""

    id: str
    handle: str | None = None


def x_account(user: dict[str, Any]) -> Account:
    """An X user object (GET /2/users/me, or a reply's includes) as the account."""
    username = str(user.get("username") or "")
    return Account(
        network=NetworkName.TWITTER,
        id=str(user["id"]),
        handle=f"@{username}",
        url=f"https://x.com/{username}",
        protected=bool(user.get("protected")),
    )


class TwitterReads(Funnel):
    name = NetworkName.TWITTER
    client: tweepy.Client
    _account: Account | None
    _known: KnownAccount | None

    def account(self) -> Account:
        raise NotImplementedError  # the adapter's: who the tokens belong to

    def know_account(self, account_id: str, handle: str | None = None) -> None:
        """The account these tokens act as, as the database knows it (networks/signins.py
        decides when that is certain): the reads and writes then need no GET /2/users/me (a
        billed user read) at each start of `once` or `run`. Whether the account is
        protected is not taken from it: see account_seen."""
        self._known = KnownAccount(account_id, handle)

    def account_id(self) -> str:
        if self._account is None and self._known is not None:
            return self._known.id
        return self.account().id

    def account_seen(self, includes: Includes) -> Account:
        """The account to read the posts of a reply with, as that reply shows it: every post
        of a protected account is followers-only (promise 3), so its ``protected`` flag must be
        current. The reads ask for the author (expansion author_id with username and
        protected): a reply with posts of the account carries it. Without it, X is asked
        (GET /2/users/me), once a process."""
        user = includes.users.get(self.account_id())
        if self._account is None and user is not None and _complete(user):
            self._account = x_account(user)
            return self._account
        return self._learn_protected(self.account(), includes)

    def fetch_since(self, cursor: str | None, *, include_reposts: bool = False) -> FetchResult:
        account_id = self.account_id()
        if cursor is None:
            return self._first_poll(account_id)
        params: dict[str, Any] = {"max_results": PAGE_SIZE, **READ_PARAMS}
        if cursor.startswith(TIME_CURSOR):
            params["start_time"] = cursor[len(TIME_CURSOR) :]
        else:
            params["since_id"] = cursor
        if not include_reposts:
            params["exclude"] = ["retweets"]  # X bills per post read: do not read what we skip
        tweets: list[dict[str, Any]] = []
        includes = Includes()
        newest: str | None = None
        token: str | None = None
        while True:
            body = self._call(
                "GET /2/users/:id/tweets",
                self.client.get_users_tweets,
                account_id,
                pagination_token=token,
                **params,
            )
            meta = body.get("meta") if isinstance(body, dict) else None
            if not isinstance(meta, dict):
                raise Transient("X GET /2/users/:id/tweets: reply has no meta", network="twitter")
            # A cursor X would refuse (not a snowflake) would stop every later poll: ignored.
            if newest is None and is_post_id(meta.get("newest_id")):
                newest = str(meta["newest_id"])
            tweets.extend(expect_list(body, "data"))
            includes = includes.merged(Includes.of(body))
            token = meta.get("next_token")
            if not token:
                break
        # Nothing new (the usual poll) needs nothing of the account but its id.
        account = self.account_seen(includes) if tweets else None
        posts = well_formed(self.name, tweets, lambda t: self._to_post(t, account, includes))
        posts.sort(key=lambda p: int(p.id))
        next_cursor = str(newest) if newest else (posts[-1].id if posts else cursor)
        return FetchResult(posts=posts, cursor=next_cursor)

    def _learn_protected(self, account: Account, includes: Includes) -> Account:
        """The account as this reply shows it: locked since the last poll means every post
        read now is followers-only (promise 3), whatever the cached account said."""
        user = includes.users.get(account.id)
        if user is None or "protected" not in user:
            return account
        protected = bool(user["protected"])
        if protected != account.protected:
            log.warning(
                "X account %s is now %s", account.handle, "protected" if protected else "public"
            )
            account = replace(account, protected=protected)
            self._account = account
        return account

    def _first_poll(self, account_id: str) -> FetchResult:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._call(
            "GET /2/users/:id/tweets",
            self.client.get_users_tweets,
            account_id,
            max_results=FIRST_POLL_PAGE,
            user_auth=True,
        )
        meta = body.get("meta") if isinstance(body, dict) else None
        newest = meta.get("newest_id") if isinstance(meta, dict) else None
        cursor = str(newest) if is_post_id(newest) else TIME_CURSOR + now
        return FetchResult(posts=[], cursor=cursor)

    def _to_post(self, tweet: dict[str, Any], account: Account | None, includes: Includes) -> Post:
        assert account is not None  # read before any post is converted
        return tweet_to_post(tweet, includes, account)

    def _posts(self, tweets: list[dict[str, Any]], includes: Includes) -> list[Post]:
        account = self.account_seen(includes) if tweets else None
        return well_formed(self.name, tweets, lambda t: self._to_post(t, account, includes))

    def recent_own(self, since: datetime) -> list[Post]:
        start = (since - RECOVERY_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # The same fields and expansions as a poll: recovery compares media and reply targets.
        body = self._call(
            "GET /2/users/:id/tweets",
            self.client.get_users_tweets,
            self.account_id(),
            start_time=start,
            max_results=PAGE_SIZE,
            exclude=["retweets"],
            **READ_PARAMS,
        )
        return self._posts(expect_list(body, "data"), Includes.of(body))

    def get_post(self, post_id: str) -> Post:
        """One post by id (``birdbridge explain``)."""
        body = self._call("GET /2/tweets/:id", self.client.get_tweet, post_id, **READ_PARAMS)
        tweet = expect_dict(body, "data", "GET /2/tweets/:id")
        includes = Includes.of(body)
        return self._to_post(tweet, self.account_seen(includes), includes)

    def recheck(self, posts: dict[str, datetime]) -> Recheck:
        """Which of ``posts`` (id -> created) still exist: batched lookups, 100 ids a call."""
        gone: set[str] = set()
        current: dict[str, Post] = {}
        ids = sorted(posts)
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            body = self._call("GET /2/tweets", self.client.get_tweets, batch, **READ_PARAMS)
            found = self._posts(expect_list(body, "data"), Includes.of(body))
            current.update((post.id, post) for post in found)
            gone |= not_found_ids(body) & set(batch)
        return Recheck(gone=gone, current=current)


def _complete(user: dict[str, Any]) -> bool:
    """Does this user object say all the account needs (its username and protected flag)?"""
    return "protected" in user and bool(user.get("username"))
