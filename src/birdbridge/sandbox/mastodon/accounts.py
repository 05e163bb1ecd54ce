"""The account endpoints: the token's own account (verify_credentials), lookup by acct, an
account, and its statuses (AccountStatusesFilter, paged as Paginable pages, with Link)."""

from __future__ import annotations

from urllib.parse import urlencode

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.auth import READ_ACCOUNTS, READ_STATUSES, VERIFY_CREDENTIALS, Auth
from birdbridge.sandbox.mastodon.oauth import unauthorized
from birdbridge.sandbox.mastodon.params import int_arg, truthy
from birdbridge.sandbox.mastodon.records import Status
from birdbridge.sandbox.mastodon.serializers import Serializers


class AccountRoutes(Serializers, Auth):
    def _register_account_routes(self) -> None:
        s = r"(?P<id>[^/]+)"
        # verify_credentials and lookup before :id, which would take them
        self.route("GET", r"/api/v1/accounts/verify_credentials", self._verify_credentials)
        self.route("GET", r"/api/v1/accounts/lookup", self._lookup)
        self.route("GET", rf"/api/v1/accounts/{s}", self._account)
        self.route("GET", rf"/api/v1/accounts/{s}/statuses", self._account_statuses)

    def _verify_credentials(self, request: Request) -> Response:
        user, error = self._viewer(request, True, VERIFY_CREDENTIALS)
        if error or user is None:
            return error or unauthorized()
        with self._lock:
            return json_response(self._credential_json(user))

    def _lookup(self, request: Request) -> Response:
        _, error = self._viewer(request, False, READ_ACCOUNTS)
        if error:
            return error
        acct = (request.arg("acct") or "").lstrip("@")
        username, _, domain = acct.partition("@")
        with self._lock:
            user = self._find_user(username)
            if user is None or (domain and domain.lower() != self.domain.lower()):
                return self.error_response(404, "Record not found")
            return json_response(self._account_json(user))

    def _account(self, request: Request) -> Response:
        _, error = self._viewer(request, False, READ_ACCOUNTS)
        if error:
            return error
        with self._lock:
            user = self._users.get(request.path_params["id"])
            if user is None:
                return self.error_response(404, "Record not found")
            return json_response(self._account_json(user))

    def _account_statuses(self, request: Request) -> Response:
        """Api::V1::Accounts::StatusesController + AccountStatusesFilter + Paginable."""
        viewer, error = self._viewer(request, False, READ_STATUSES)
        if error:
            return error
        viewer_id = viewer.id if viewer else None
        q = request.arg
        limit_arg = q("limit")
        limit = 20 if not limit_arg else min(abs(int(limit_arg)), 40)  # limit_param(20): max 2x
        with self._lock:
            account = self._users.get(request.path_params["id"])
            if account is None:
                return self.error_response(404, "Record not found")
            rows = [
                s
                for s in self._by_account.get(account.id, {}).values()
                if not s.deleted and self._can_see(s, viewer_id)
            ]
            if truthy(q("pinned")):
                rows = []  # nothing is pinned in this sandbox
            if truthy(q("only_media")):
                rows = [s for s in rows if s.media_ids]
            if truthy(q("exclude_replies")):  # Status.without_replies
                rows = [
                    s
                    for s in rows
                    if s.in_reply_to_id is None or s.in_reply_to_account_id == s.account_id
                ]
            if truthy(q("exclude_reblogs")):
                rows = [s for s in rows if s.reblog_of_id is None]
            if q("tagged"):
                tag = (q("tagged") or "").lstrip("#").lower()
                rows = [s for s in rows if tag in s.tags]
            max_id, since_id, min_id = (int_arg(q(k)) for k in ("max_id", "since_id", "min_id"))
            if max_id is not None:
                rows = [s for s in rows if s.id < max_id]
            if min_id is not None:  # Paginable#paginate_by_min_id, then reversed
                rows = sorted((s for s in rows if s.id > min_id), key=lambda s: s.id)[:limit]
                rows.reverse()
            else:
                if since_id is not None:
                    rows = [s for s in rows if s.id > since_id]
                rows = sorted(rows, key=lambda s: s.id, reverse=True)[:limit]
            body = [self._status_json(s, viewer_id) for s in rows]
        headers = {}
        links = self._link_header(request, rows, limit)
        if links:
            headers["Link"] = links
        return Response(200, body, headers)

    def _link_header(self, request: Request, rows: list[Status], limit: int) -> str:
        keys = ("limit", "pinned", "tagged", "only_media", "exclude_replies", "exclude_reblogs")
        kept = {k: request.arg(k) for k in keys if request.arg(k) is not None}
        base = self._base_url(request) + request.path
        links = []
        if rows and len(rows) == limit:  # records_continue?
            links.append(f'<{base}?{urlencode({**kept, "max_id": rows[-1].id})}>; rel="next"')
        if rows:
            links.append(f'<{base}?{urlencode({**kept, "min_id": rows[0].id})}>; rel="prev"')
        return ", ".join(links)
