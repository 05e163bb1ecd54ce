"""The status endpoints that read: a batch by ids, one status, its source, its thread
(context) and its versions (history), each only as far as the one asking may see."""

from __future__ import annotations

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.auth import READ_STATUSES, WRITE_STATUSES, Auth
from birdbridge.sandbox.mastodon.edits import Edits
from birdbridge.sandbox.mastodon.errors import Invalid
from birdbridge.sandbox.mastodon.params import ruby_to_i
from birdbridge.sandbox.mastodon.records import MastodonUser, Status
from birdbridge.sandbox.mastodon.serializers import Serializers


class StatusReads(Serializers, Edits, Auth):
    def _register_status_read_routes(self) -> None:
        s = r"(?P<id>[^/]+)"
        self.route("GET", r"/api/v1/statuses", self._list_statuses)
        self.route("GET", rf"/api/v1/statuses/{s}", self._show_status)
        self.route("GET", rf"/api/v1/statuses/{s}/history", self._status_history)
        self.route("GET", rf"/api/v1/statuses/{s}/source", self._status_source)
        self.route("GET", rf"/api/v1/statuses/{s}/context", self._status_context)

    def _list_statuses(self, request: Request) -> Response:
        """Api::V1::StatusesController#index (4.3+): ``id[]`` (duplicates count once), more
        than DEFAULT_STATUSES_LIMIT (20) is a bare Mastodon::ValidationError; what is gone or
        hidden is left out, and the rest come as Status.permitted_statuses_from_ids gives
        them: the default scope's order, newest (highest id) first, not the request's."""
        viewer, error = self._viewer(request, False, READ_STATUSES)
        if error:
            return error
        viewer_id = viewer.id if viewer else None
        raw = request.query.get("id[]") or []
        if request.body:
            form = request.form()
            raw = form.get("id[]") or (form["id"] if isinstance(form.get("id"), list) else raw)
        ids = list(dict.fromkeys(str(i) for i in raw))
        if len(ids) > 20:
            raise Invalid("Mastodon::ValidationError")
        with self._lock:
            found = {}
            for value in ids:
                status = self._get_status(ruby_to_i(value))
                if status is not None and self._can_see(status, viewer_id):
                    found[status.id] = status
            rows = sorted(found.values(), key=lambda s: s.id, reverse=True)
            return json_response([self._status_json(s, viewer_id) for s in rows])

    def _show_status(self, request: Request) -> Response:
        with self._lock:
            status, viewer_id, error = self._visible_status(request)
            if error or status is None:
                return error  # type: ignore[return-value]
            return json_response(self._status_json(status, viewer_id))

    def _status_source(self, request: Request) -> Response:
        with self._lock:
            status, _, error = self._own_status(request, READ_STATUSES)
            if error or status is None:
                return error  # type: ignore[return-value]
            return json_response(
                {"id": str(status.id), "text": status.text, "spoiler_text": status.spoiler_text}
            )

    def _status_context(self, request: Request) -> Response:
        with self._lock:
            status, viewer_id, error = self._visible_status(request)
            if error or status is None:
                return error  # type: ignore[return-value]
            ancestors, parent_id = [], status.in_reply_to_id
            while parent_id is not None and parent_id in self._statuses:
                parent = self._statuses[parent_id]
                if not parent.deleted and self._can_see(parent, viewer_id):
                    ancestors.append(parent)
                parent_id = parent.in_reply_to_id
            ancestors.reverse()
            descendants: list[Status] = []
            stack = [status]  # depth first, oldest reply first; no recursion limit
            while stack:
                node = stack.pop()
                if node is not status:
                    descendants.append(node)
                children = sorted(self._replies.get(node.id, ()), key=lambda s: s.id)
                stack.extend(reversed(children))
            descendants = [s for s in descendants if not s.deleted and self._can_see(s, viewer_id)]
            return json_response(
                {
                    "ancestors": [self._status_json(s, viewer_id) for s in ancestors],
                    "descendants": [self._status_json(s, viewer_id) for s in descendants],
                }
            )

    def _status_history(self, request: Request) -> Response:
        """Api::V1::Statuses::HistoriesController: every version, oldest first; a status
        never edited has one (built on the fly)."""
        with self._lock:
            status, _, error = self._visible_status(request)
            if error or status is None:
                return error  # type: ignore[return-value]
            edits = status.edits or [
                self._snapshot(status, status.edited_at or status.created_at, status.account_id)
            ]
            return json_response([self._edit_json(status, edit) for edit in edits])

    # -- the status a request names (call with the lock held) --------------------------
    def _visible_status(
        self, request: Request
    ) -> tuple[Status | None, str | None, Response | None]:
        viewer, error = self._viewer(request, False, READ_STATUSES)
        if error:
            return None, None, error
        viewer_id = viewer.id if viewer else None
        status = self._get_status(request.path_params["id"])
        if status is None or not self._can_see(status, viewer_id):
            return None, viewer_id, self.error_response(404, "Record not found")
        return status, viewer_id, None

    def _own_status(
        self, request: Request, scopes: tuple[str, ...] = WRITE_STATUSES
    ) -> tuple[Status | None, MastodonUser | None, Response | None]:
        """``Status.where(account: current_account).find(id)``: someone else's is a 404."""
        user, error = self._viewer(request, True, scopes)
        if error or user is None:
            return None, None, error
        status = self._get_status(request.path_params["id"])
        if status is None or status.account_id != user.id:
            return None, user, self.error_response(404, "Record not found")
        return status, user, None
