"""The Mastodon sandbox put together: :class:`MastodonSandbox` is every part (a mixin of
MastodonState) with its routes."""

from __future__ import annotations

from birdbridge.sandbox.mastodon.accounts import AccountRoutes
from birdbridge.sandbox.mastodon.control import ControlRoutes
from birdbridge.sandbox.mastodon.instance import InstanceRoutes
from birdbridge.sandbox.mastodon.media_routes import MediaRoutes
from birdbridge.sandbox.mastodon.sign_in_control import SignInRoutes
from birdbridge.sandbox.mastodon.status_writes import StatusWrites


class MastodonSandbox(
    ControlRoutes, SignInRoutes, StatusWrites, AccountRoutes, MediaRoutes, InstanceRoutes
):
    """A fake Mastodon 4.3 instance: accounts, statuses, paging, limits, idempotency, media,
    polls, boosts, edits and their history, batch lookup; quote posts when it is a 4.5.

    Media limits (``max_media_attachments``, ``image_size_limit``, ``video_size_limit``,
    ``image_matrix_limit``, ``description_limit``, ``supported_mime_types``) default to
    Mastodon's and can be changed with :meth:`set_media_limits`; the instance endpoints
    report them. Video and audio uploads stay "processing" for ``media_processing_seconds``.
    Files live in a temporary directory removed by :meth:`stop`.

    ``version`` (default "4.3.0", also :meth:`set_version`) is what ``/api/v1/instance`` and
    ``/api/v2/instance`` report, with the matching ``api_versions.mastodon`` (none before
    4.3); from "4.4.0" statuses carry ``quote``, from "4.5.0" quote posts can be made.

    Rate limits (on by default, :meth:`set_rate_limit` changes them): rack-attack's throttles
    in fixed epoch-aligned windows (300 calls per token per 5 minutes, 30 media uploads and
    30 deletions per user per 30 minutes, paging) and the ``statuses`` family, 300 statuses
    and edits per account per 3 hours; the headers report the one with the fewest calls left.
    They run on :attr:`clock` (epoch seconds), which the ``Date`` header tells too.

    Scopes (on by default): each token has some (``create_user(..., scopes=...)``,
    :meth:`create_token`; "read write" unless asked) and each endpoint accepts the ones its
    Mastodon controller lists; ``/api/v1/apps/verify_credentials`` tells a token's scopes.

    Sign-in (sign_in_control.py and the modules it joins): ``POST /api/v1/apps``, the
    ``/oauth/authorize`` page (the signed-in user is the first user), ``/oauth/token``,
    ``/oauth/revoke`` and, from 4.3, ``/.well-known/oauth-authorization-server``, as
    Doorkeeper answers them; :meth:`applications`, :meth:`issued_tokens` and
    :meth:`revoke_tokens` for tests.
    """

    def _register_routes(self) -> None:
        self._register_instance_routes()
        self._register_account_routes()
        self._register_auth_routes()
        self._register_sign_in_routes()
        self._register_status_write_routes()
        self._register_status_read_routes()
        self._register_media_routes()
        self._register_control_routes()
