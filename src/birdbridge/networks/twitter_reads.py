"""Reading an X account's posts: the poll (GET /2/users/:id/tweets since the cursor), the
re-check of mirrored posts (GET /2/tweets, 100 ids a call) and the recent posts crash
recovery looks through, each with the fields, expansions and author a poll asks for
(api-notes X1). X bills every post read (X2): nothing is read twice. The adapter
(networks/twitter.py) adds the account, the writes and the funnel's error mapping."""

from __future__ import annotations

import logging
from dataclasses import replace
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


class TwitterReads(Funnel):
    name = NetworkName.TWITTER
    client: tweepy.Client
    _account: Account | None

    def account(self) -> Account:
        raise NotImplementedError  # the adapter's: who the tokens belong to

    def fetch_since(self, cursor: str | None, *, include_reposts: bool = False) -> FetchResult:
        account = self.account()
        if cursor is None:
            return self._first_poll(account)
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
                account.id,
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
        account = self._learn_protected(account, includes)
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
        cursor = str(newest) if is_post_id(newest) else TIME_CURSOR + now
        return FetchResult(posts=[], cursor=cursor)

    def _to_post(self, tweet: dict[str, Any], account: Account, includes: Includes) -> Post:
        return tweet_to_post(tweet, includes, account)

    def _posts(
        self, tweets: list[dict[str, Any]], account: Account, includes: Includes
    ) -> list[Post]:
        return well_formed(self.name, tweets, lambda t: tweet_to_post(t, includes, account))

    def recent_own(self, since: datetime) -> list[Post]:
        account = self.account()
        start = (since - RECOVERY_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # The same fields and expansions as a poll: recovery compares media and reply targets.
        body = self._call(
            "GET /2/users/:id/tweets",
            self.client.get_users_tweets,
            account.id,
            start_time=start,
            max_results=PAGE_SIZE,
            exclude=["retweets"],
            **READ_PARAMS,
        )
        includes = Includes.of(body)
        return well_formed(
            self.name, expect_list(body, "data"), lambda t: self._to_post(t, account, includes)
        )

    def get_post(self, post_id: str) -> Post:
        """One post by id (``birdbridge explain``)."""
        body = self._call("GET /2/tweets/:id", self.client.get_tweet, post_id, **READ_PARAMS)
        tweet = expect_dict(body, "data", "GET /2/tweets/:id")
        return self._to_post(tweet, self.account(), Includes.of(body))

    def recheck(self, posts: dict[str, datetime]) -> Recheck:
        """Which of ``posts`` (id -> created) still exist: batched lookups, 100 ids a call."""
        account = self.account()
        gone: set[str] = set()
        current: dict[str, Post] = {}
        ids = sorted(posts)
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            body = self._call("GET /2/tweets", self.client.get_tweets, batch, **READ_PARAMS)
            found = self._posts(expect_list(body, "data"), account, Includes.of(body))
            current.update((post.id, post) for post in found)
            gone |= not_found_ids(body) & set(batch)
        return Recheck(gone=gone, current=current)
