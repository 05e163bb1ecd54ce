"""The status endpoints that write: post (with replies, quotes, polls, media and an
Idempotency-Key), boost and undo a boost, edit, delete; each as its controller and service
refuse, and counted in the ``statuses`` rate-limit family where Mastodon counts it."""

from __future__ import annotations

import time
from typing import Any

from birdbridge.sandbox.common import Request, Response, json_response
from birdbridge.sandbox.mastodon.auth import WRITE_STATUSES
from birdbridge.sandbox.mastodon.errors import Invalid, validation_failed
from birdbridge.sandbox.mastodon.limits import RateLimits
from birdbridge.sandbox.mastodon.oauth import unauthorized
from birdbridge.sandbox.mastodon.params import first, media_ids_param, request_params, truthy
from birdbridge.sandbox.mastodon.polls import new_poll, poll_errors, poll_params, poll_present
from birdbridge.sandbox.mastodon.records import VISIBILITIES, MastodonUser, Status
from birdbridge.sandbox.mastodon.status_reads import StatusReads


class StatusWrites(StatusReads, RateLimits):
    def _register_status_write_routes(self) -> None:
        s = r"(?P<id>[^/]+)"
        self.route("POST", r"/api/v1/statuses", self._post_status)
        self.route("POST", rf"/api/v1/statuses/{s}/reblog", self._reblog)
        self.route("POST", rf"/api/v1/statuses/{s}/unreblog", self._unreblog)
        self.route("PUT", rf"/api/v1/statuses/{s}", self._edit_status)
        self.route("DELETE", rf"/api/v1/statuses/{s}", self._delete_status)

    def _post_status(self, request: Request) -> Response:
        """Api::V1::StatusesController#create and PostStatusService."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        # set_thread's 404 is a before_action: it halts before the family's headers are set
        return self._counted(user, lambda: self._create_status(request, user), halting=(404,))

    def _create_status(self, request: Request, user: MastodonUser) -> Response:
        params = request_params(request)
        media_ids = media_ids_param(params)
        poll_data = poll_params(params)
        key = request.headers.get("idempotency-key")
        with self._lock:
            targets = self._thread_and_quote(params, user)
            if isinstance(targets, Response):
                return targets
            thread, quoted, quote_policy = targets
            if key:  # PostStatusService#with_idempotency: same status for an hour
                earlier = self._idempotent_reply(user, key)
                if earlier is not None:
                    return earlier
            has_poll = poll_present(poll_data)
            media = self._validate_media(user, media_ids, has_poll)
            status = self._new_post(request, params, user, thread, quoted)
            status.quote_policy = quote_policy
            errors = self._text_errors(status, media=bool(media))
            if has_poll and poll_data is not None:
                # has_one :poll + accepts_nested_attributes_for: the poll's errors follow
                status.poll = new_poll(poll_data, next(self._poll_ids))
                errors += poll_errors(status.poll)
            if errors:
                raise validation_failed(errors)
            self._count_status(user)
            for item in media:
                item.status_id = status.id
            status.media_ids = [m.id for m in media]
            self._store(status)
            if key:
                self._idempotency[(user.id, key)] = (status.id, time.time() + 3600)
            return json_response(self._status_json(status, user.id))

    def _thread_and_quote(
        self, params: dict[str, list[Any]], user: MastodonUser
    ) -> tuple[Status | None, Status | None, str] | Response:
        """The status replied to, the one quoted and the quote policy asked for, or the 404
        of the before_actions that look them up."""
        thread = None
        if first(params, "in_reply_to_id"):
            thread = self._get_status(first(params, "in_reply_to_id"))
            if thread is None or not self._can_see(thread, user.id):
                # Api::V1::StatusesController#set_thread
                return self.error_response(
                    404, "The post you are trying to reply to does not appear to exist."
                )
        quoted, quote_policy = None, "public"
        if self._quotes_enabled():  # before 4.5 these are unknown parameters, ignored
            if first(params, "quoted_status_id") not in (None, ""):
                # #set_quoted_status: Status.find(...)&.proper, authorize :quote?
                found = self._get_status(first(params, "quoted_status_id"))
                quoted = self._proper(found) if found is not None else None
                if quoted is None or not self._may_quote(user.id, quoted):
                    return self.error_response(
                        404, "The post you are trying to quote does not appear to exist."
                    )
            policy = self._parse_quote_policy(first(params, "quote_approval_policy"))
            quote_policy = policy or "public"
        return thread, quoted, quote_policy

    def _idempotent_reply(self, user: MastodonUser, key: str) -> Response | None:
        """The status made with this Idempotency-Key within the hour, if one was."""
        entry = self._idempotency.get((user.id, key))
        if not entry or entry[1] <= time.time():
            return None
        earlier = self._get_status(entry[0])
        if earlier is None:
            return self.error_response(404, "Record not found")
        return json_response(self._status_json(earlier, user.id))

    def _new_post(
        self,
        request: Request,
        params: dict[str, list[Any]],
        user: MastodonUser,
        thread: Status | None,
        quoted: Status | None,
    ) -> Status:
        """The status the request makes, not yet stored (PostStatusService#process_status!)."""
        visibility = first(params, "visibility") or ("private" if user.locked else "public")
        if visibility not in VISIBILITIES:
            raise Invalid("Validation failed: Visibility is not included in the list")
        quoting_private = quoted is not None and quoted.visibility == "private"
        if quoting_private and visibility in ("public", "unlisted"):
            visibility = "private"  # #preprocess_attributes!
        status = self._build(
            user,
            str(first(params, "status") or ""),
            str(first(params, "spoiler_text") or ""),
            truthy(first(params, "sensitive")),
            visibility,
            first(params, "language") or "en",
            thread,
            None,
            self._app_of(request),
            quoted=quoted,
        )
        if (
            quoted is not None
            and visibility == "direct"
            and quoted.account_id != user.id
            and quoted.account_id not in status.mention_ids
        ):  # #safeguard_private_mention_quote! (statuses.errors.quoted_user_not_mentioned)
            raise Invalid(
                "Validation failed: Cannot quote a non-mentioned user in a Private Mention post."
            )
        return status

    def _reblog(self, request: Request) -> Response:
        """Api::V1::Statuses::ReblogsController#create and ReblogService: a boost of a boost
        boosts the original; a second boost is the first one again; StatusPolicy#reblog?
        refuses private mentions and others' followers-only posts (403)."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        # The reply carries the statuses family's headers, but a boost is not counted: the
        # controller passes no with_rate_limit (reblogs_controller.rb:52-54, research §3).
        # set_reblog's 404 is a before_action: it halts before the headers are set.
        return self._counted(user, lambda: self._boost(request, user), halting=(404,))

    def _boost(self, request: Request, user: MastodonUser) -> Response:
        visibility = request_params(request).get("visibility", [None])[0]
        with self._lock:
            found = self._get_status(request.path_params["id"])
            if found is None or not self._can_see(found, user.id):
                return self.error_response(404, "Record not found")
            original = self._proper(found)
            if original.visibility == "direct" or (
                original.visibility == "private" and original.account_id != user.id
            ):
                return self.error_response(403, "This action is not allowed")
            existing = self._own_reblog(user.id, original.id)
            if existing is not None:
                return json_response(self._status_json(existing, user.id))
            if original.visibility in ("private", "direct"):
                visibility = original.visibility  # a hidden post's boost keeps its visibility
            else:
                visibility = visibility or ("private" if user.locked else "public")
            if visibility not in VISIBILITIES:
                raise Invalid("Validation failed: Visibility is not included in the list")
            if visibility == "direct":  # validates :visibility, exclusion:, if: :reblog?
                raise Invalid("Validation failed: Visibility is reserved")
            reblog = self._new_status(user, "", "", False, visibility, None, None, "Sandbox")
            reblog.reblog_of_id = original.id
            self._store(reblog)
            return json_response(self._status_json(reblog, user.id))

    def _unreblog(self, request: Request) -> Response:
        """ReblogsController#destroy: the viewer's boost of that post is discarded and the
        post returned; with no boost, the post as it is (404 if the viewer may not see it)."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        with self._lock:
            try:
                status_id = int(request.path_params["id"])
            except ValueError:
                return self.error_response(404, "Record not found")
            reblog = self._own_reblog(user.id, status_id)
            if reblog is not None:
                reblog.deleted = True
                original = self._statuses[status_id]
            else:
                found = self._get_status(status_id)
                if found is None or not self._can_see(found, user.id):
                    return self.error_response(404, "Record not found")
                original = found
            return json_response(self._status_json(original, user.id))

    def _edit_status(self, request: Request) -> Response:
        """Api::V1::StatusesController#update and UpdateStatusService: the request says what
        the post now is, whole. The controller hands every field on, nil for those left out,
        so an edit without ``media_ids`` drops the attachments and one without ``poll`` the
        poll (clients send them again); ``media_attributes`` change descriptions and focus.
        A quote stays a quote (an edit cannot change it). Each edit counts in the statuses
        family (UpdateStatusService#create_edit!, research §3)."""
        user, error = self._viewer(request, True, WRITE_STATUSES)
        if error or user is None:
            return error or unauthorized()
        return self._counted(user, lambda: self._update_from(request))

    def _update_from(self, request: Request) -> Response:
        params = request_params(request)
        attributes = [a for a in params.get("media_attributes") or [] if isinstance(a, dict)]
        poll_data = poll_params(params)
        with self._lock:
            status, user, error = self._own_status(request)
            if error or status is None or user is None:
                return error  # type: ignore[return-value]
            policy = None
            if self._quotes_enabled():
                policy = self._parse_quote_policy(first(params, "quote_approval_policy"))
            has_poll = poll_present(poll_data)
            media = self._edit_media(user, status, media_ids_param(params), has_poll)
            self._update_status(
                status,
                user.id,
                text=first(params, "status"),
                spoiler_text=first(params, "spoiler_text"),
                sensitive=first(params, "sensitive"),
                language=first(params, "language"),
                media=media,
                media_attributes=attributes,
                poll=poll_data if has_poll else None,
                before_apply=lambda: self._count_status(user),
            )
            if policy is not None:
                status.quote_policy = policy
            return json_response(self._status_json(status, user.id))

    def _delete_status(self, request: Request) -> Response:
        with self._lock:
            status, user, error = self._own_status(request)
            if error or status is None or user is None:
                return error  # type: ignore[return-value]
            body = self._status_json(status, user.id)
            body["text"] = status.text  # source_requested: true
            self._discard(status)
            return json_response(body)
