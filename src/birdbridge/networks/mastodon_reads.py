"""Reading a Mastodon account's statuses: the poll, the re-check of mirrored posts and the
recent posts crash recovery looks through (GET /api/v1/accounts/:id/statuses, newest first,
paged back with ``max_id``; api-notes M1). The adapter (networks/mastodon.py) adds the
account, the writes and the funnel's error mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from birdbridge.errors import Transient
from birdbridge.models import Account, FetchResult, NetworkName, Post
from birdbridge.networks.base import Recheck, well_formed
from birdbridge.networks.funnel import Funnel
from birdbridge.networks.mastodon_posts import created_at, status_to_post
from birdbridge.networks.mastodon_py import Mastodon

PAGE_SIZE = 40  # GET /api/v1/accounts/:id/statuses maximum (docs: methods/accounts)
TIME_CURSOR = "t:"
RECOVERY_MARGIN = timedelta(minutes=5)
RECHECK_MAX_PAGES = 25  # 1,000 statuses: a bound on one re-check of the timeline


class MastodonReads(Funnel):
    name = NetworkName.MASTODON
    api: Mastodon
    _domain: str

    def account(self) -> Account:
        raise NotImplementedError  # the adapter's: who the token belongs to

    def account_id(self) -> str:
        # Always the token's own answer (networks/signins.py says why): asked once a process.
        return self.account().id

    def fetch_since(self, cursor: str | None, *, include_reposts: bool = False) -> FetchResult:
        account = self.account_id()
        if cursor is None:
            return self._first_poll(account)
        if cursor.startswith(TIME_CURSOR):
            after = datetime.fromisoformat(cursor[len(TIME_CURSOR) :])
            statuses = self._walk_back(
                account, since_id=None, include_reposts=include_reposts, after=after
            )
        else:
            statuses = self._walk_back(account, since_id=cursor, include_reposts=include_reposts)
        posts = well_formed(self.name, statuses, self._to_post)
        posts.sort(key=lambda p: _id_key(p.id))
        # Past every status read, even one skipped as malformed: it will not get better.
        ids = [str(s["id"]) for s in statuses if isinstance(s, dict) and s.get("id")]
        next_cursor = max(ids, key=_id_key) if ids else cursor
        return FetchResult(posts=posts, cursor=next_cursor)

    def _walk_back(
        self,
        account: str,
        *,
        since_id: str | None,
        include_reposts: bool,
        after: datetime | None = None,
    ) -> list[Any]:
        """Every status newer than ``since_id`` (or created after ``after``): pages of the
        newest first, walking back with ``max_id`` until a short page or an older status."""
        statuses: list[Any] = []
        max_id: str | None = None
        while True:
            page = self._page(
                account, since_id=since_id, max_id=max_id, include_reposts=include_reposts
            )
            kept = [s for s in page if after is None or created_at(s) > after]
            statuses.extend(kept)
            if len(page) < PAGE_SIZE or len(kept) < len(page):
                return statuses
            max_id = min((str(s["id"]) for s in page), key=_id_key)

    def _page(
        self, account: str, *, since_id: str | None, max_id: str | None, include_reposts: bool
    ) -> list[Any]:
        page = self._call(
            "GET /api/v1/accounts/:id/statuses",
            self.api.account_statuses,
            account,
            since_id=since_id,
            max_id=max_id,
            limit=PAGE_SIZE,
            exclude_reblogs=not include_reposts,
        )
        if not isinstance(page, list):
            raise Transient("Mastodon: account statuses reply is not a list", network="mastodon")
        return page

    def _first_poll(self, account: str) -> FetchResult:
        now = datetime.now(UTC)
        page = self._call(
            "GET /api/v1/accounts/:id/statuses", self.api.account_statuses, account, limit=1
        )
        newest = str(page[0]["id"]) if isinstance(page, list) and page else None
        return FetchResult(posts=[], cursor=newest or TIME_CURSOR + now.isoformat())

    def _to_post(self, status: Any) -> Post:
        return status_to_post(status, self._domain)

    def get_post(self, post_id: str) -> Post:
        status = self._call("GET /api/v1/statuses/:id", self.api.status, post_id)
        return self._to_post(status)

    def recheck(self, posts: dict[str, datetime]) -> Recheck:
        """Read the timeline back (boosts included) over the time ``posts`` span: a mirrored
        status inside the covered range that is not listed was deleted."""
        if not posts:
            return Recheck(gone=set(), current={})
        account = self.account_id()
        oldest = min(posts.values())
        listed: list[Any] = []
        max_id: str | None = None
        complete = False
        for _ in range(RECHECK_MAX_PAGES):
            page = self._page(account, since_id=None, max_id=max_id, include_reposts=True)
            listed.extend(page)
            if len(page) < PAGE_SIZE:
                complete = True
                break
            if created_at(page[-1]) < oldest:
                break
            max_id = min((str(s["id"]) for s in page), key=_id_key)
        current = {p.id: p for p in well_formed(self.name, listed, self._to_post)}
        floor = None if complete or not listed else min(created_at(s) for s in listed)
        gone = {
            post_id
            for post_id, created in posts.items()
            if post_id not in current and (floor is None or created >= floor)
        }
        return Recheck(gone=gone, current={k: v for k, v in current.items() if k in posts})

    def recent_own(self, since: datetime) -> list[Post]:
        account = self.account_id()
        page = self._page(account, since_id=None, max_id=None, include_reposts=False)
        earliest = since - RECOVERY_MARGIN
        return [
            post
            for post in well_formed(self.name, page, self._to_post)
            if post.created_at >= earliest
        ]


def _id_key(post_id: str) -> tuple[int, str]:
    # Mastodon ids are numeric strings that grow with time; compare by length, then text.
    return (len(post_id), post_id)
