"""The golden corpus (tests/data/corpus/*.json): loading, checking and replaying its cases.

Each case is a source post as its API returns it and the exact write requests the other
network must receive for it. :func:`replay` converts the post with the real converter, runs
the real policy and the real :class:`Deliverer` against a sandbox of the target network, and
returns the write requests that sandbox received, in the corpus's notation (see
tests/data/corpus/README.md).
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from birdbridge.config import MastodonConfig, PolicyConfig, TwitterConfig
from birdbridge.engine.deliver import Deliverer
from birdbridge.engine.media import MediaCarrier
from birdbridge.engine.poll import change, judge
from birdbridge.models import Account, NetworkName, Post
from birdbridge.networks.base import Network
from birdbridge.networks.mastodon import MastodonNetwork
from birdbridge.networks.mastodon_posts import status_to_post
from birdbridge.networks.twitter import TwitterNetwork
from birdbridge.networks.twitter_posts import Includes, tweet_to_post
from birdbridge.sandbox.common import Request, Response, SandboxServer
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox
from birdbridge.store import DeliveryStatus, Store

CORPUS_DIR = Path(__file__).parent / "data" / "corpus"
TESTS_DIR = Path(__file__).parent
LINK = "corpus"
# The MediaServer below stands in for the real CDNs on 127.0.0.1; downloads refuse loopback
# addresses unless the host is allowed, as a link allows its own API hosts.
LOCAL_MEDIA_HOST = frozenset({"127.0.0.1"})

CATEGORIES = frozenset(
    {
        "text",
        "unicode",
        "links",
        "mentions",
        "hashtags",
        "long",
        "cw",
        "poll",
        "quote",
        "repost",
        "media",
        "reply",
        "injection",
        "filter",
    }
)
CASE_KEYS = frozenset(
    {
        "name",
        "category",
        "description",
        "source",
        "before",
        "policy",
        "target",
        "media_files",
        "expected",
        "skip_reason",
        "fallbacks",
        "known_bug",
    }
)

# The source accounts every case is written as (README: "The source accounts").
X_ACCOUNT = Account(
    network=NetworkName.TWITTER,
    id="1450293081234567890",
    handle="@alice",
    url="https://x.com/alice",
)
MASTODON_SOURCE_URL = "https://mastodon.social"  # the instance @alice@mastodon.social is on

# Target writes that are not media uploads: what a case's `expected` lists.
_WRITES = {
    NetworkName.TWITTER: re.compile(r"^POST /2/(tweets|users/[^/]+/retweets)$"),
    NetworkName.MASTODON: re.compile(r"^POST /api/v1/statuses(/[^/]+/reblog)?$"),
}
_MASTODON_FIELDS = (
    "status",
    "in_reply_to_id",
    "spoiler_text",
    "sensitive",
    "visibility",
    "language",
    "poll",
    "quoted_status_id",
    "media_ids",
)


# -- loading ----------------------------------------------------------------------------


def case_files() -> list[Path]:
    return sorted(CORPUS_DIR.glob("*.json"))


def load_case(path: Path) -> dict[str, Any]:
    case = json.loads(path.read_text(encoding="utf-8"))
    problems = case_problems(case, path)
    if problems:
        raise ValueError(f"{path.name}: " + "; ".join(problems))
    return case


def case_problems(case: dict[str, Any], path: Path) -> list[str]:
    """What is wrong with a case's shape (empty when it is well formed)."""
    problems = [f"unknown key {key!r}" for key in sorted(set(case) - CASE_KEYS)]
    for key in ("name", "category", "description", "source", "expected"):
        if key not in case:
            problems.append(f"missing {key!r}")
    if case.get("name") != path.stem:
        problems.append(f"name {case.get('name')!r} is not the file name {path.stem!r}")
    if case.get("category") not in CATEGORIES:
        problems.append(f"category {case.get('category')!r} is not one of {sorted(CATEGORIES)}")
    network = (case.get("source") or {}).get("network")
    if network not in ("twitter", "mastodon"):
        problems.append('source.network must be "twitter" or "mastodon"')
    for source in [case.get("source") or {}, *(case.get("before") or [])]:
        key = "tweet" if network == "twitter" else "status"
        if key not in source:
            problems.append(f"a {network} source needs {key!r}")
    expected = case.get("expected")
    if not isinstance(expected, list):
        problems.append("expected must be a list")
    elif not expected and not case.get("skip_reason"):
        problems.append('"expected": [] needs a "skip_reason"')
    elif expected and case.get("skip_reason"):
        problems.append('"skip_reason" only goes with "expected": []')
    for item in expected or []:
        if not isinstance(item, dict) or set(item) != {"endpoint", "body"}:
            problems.append('each expected request is {"endpoint": ..., "body": {...}}')
    return problems


# -- the media files a case's source points at ------------------------------------------


class MediaServer:
    """Serves the corpus's media files on 127.0.0.1, so that the source's media URLs (which
    name the real CDNs) can be pointed at local bytes."""

    def __init__(self) -> None:
        self.files: dict[str, Path] = {}
        files = self.files

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = files.get(urlsplit(self.path).path)
                if path is None:
                    self.send_error(404)
                    return
                data = path.read_bytes()
                self.send_response(200)
                ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> MediaServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def serve(self, relative: str) -> str:
        """The local URL of a file given relative to the corpus folder."""
        path = (CORPUS_DIR / relative).resolve()
        if TESTS_DIR.resolve() not in path.parents or not path.is_file():
            raise ValueError(f"media file {relative!r} is not a file under tests/")
        route = f"/{len(self.files)}/{path.name}"
        self.files[route] = path
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{route}"


def localize_media(value: Any, urls: dict[str, str]) -> Any:
    """``value`` with every string that is a key of ``urls`` replaced by its value."""
    if isinstance(value, dict):
        return {k: localize_media(v, urls) for k, v in value.items()}
    if isinstance(value, list):
        return [localize_media(v, urls) for v in value]
    if isinstance(value, str):
        return urls.get(value, value)
    return value


# -- the target's request log -------------------------------------------------------------


@dataclass
class Recorded:
    request: Request
    response: Response


@dataclass
class Recorder:
    """Every request a sandbox handled, with its response, from the sandbox's own log (with
    ``keep_exchanges`` on it keeps the bodies)."""

    servers: list[SandboxServer] = field(default_factory=list)

    def install(self, server: SandboxServer) -> None:
        server.keep_exchanges = True
        self.servers.append(server)

    @property
    def calls(self) -> list[Recorded]:
        return [
            Recorded(logged.request, logged.response)
            for server in self.servers
            for logged in server.requests
            if logged.request is not None and logged.response is not None
        ]

    def writes(self, network: NetworkName) -> list[Recorded]:
        pattern = _WRITES[network]
        return [c for c in self.calls if pattern.match(f"{c.request.method} {c.request.path}")]


def _truthy(value: Any) -> bool:
    """A boolean parameter as Mastodon (Rails) reads it."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "f", "false", "off", "no")
    return bool(value)


def _response_id(response: Response) -> str | None:
    body = response.body if isinstance(response.body, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), dict) else body
    value = data.get("rest_id") or data.get("id")
    return str(value) if value is not None else None


def request_view(
    network: NetworkName, call: Recorded, media: Any, ids: list[str]
) -> dict[str, Any]:
    """One target write in the corpus's notation: ``{"endpoint", "body"}``, with the id the
    target gave the case's Nth write written back as "$partN" (``ids``) and each media id
    as what the target holds for it (``media``)."""
    request = call.request

    def placeholders(value: Any) -> Any:
        if isinstance(value, str):
            for index, known in enumerate(ids):
                if known:
                    value = re.sub(rf"(?<!\d){re.escape(known)}(?!\d)", f"$part{index}", value)
            return value
        if isinstance(value, list):
            return [placeholders(v) for v in value]
        if isinstance(value, dict):
            return {k: placeholders(v) for k, v in value.items()}
        return value

    if network is NetworkName.TWITTER:
        body = request.json() or {}
        if isinstance(body.get("media"), dict) and "media_ids" in body["media"]:
            body["media"] = {
                **body["media"],
                "media_ids": [media(str(i)) for i in body["media"]["media_ids"]],
            }
    else:
        form = request.form()
        body = {}
        for name in _MASTODON_FIELDS:
            values = form.get(name, form.get(f"{name}[]"))
            if values is None:
                continue
            value = values if name == "media_ids" else values[0]
            if name == "sensitive":
                value = _truthy(value)
            if name == "media_ids":
                value = [media(str(i)) for i in value]
            body[name] = value
    # The target account's own id in a path (X: POST /2/users/:id/retweets) is the sandbox's.
    endpoint = re.sub(r"^/2/users/[^/]+/", "/2/users/:id/", request.path)
    return {
        "endpoint": placeholders(f"{request.method} {endpoint}"),
        "body": placeholders(body),
    }


# -- replaying a case -----------------------------------------------------------------------


@dataclass
class Outcome:
    requests: list[dict[str, Any]]  # the target writes, in the corpus's notation
    skipped: str | None  # why the (last) source post was not mirrored, if it was not
    fallbacks: list[str]  # what the deliveries reported


def source_post(network: NetworkName, source: dict[str, Any]) -> Post:
    """A source post converted by the real converter of its network."""
    if network is NetworkName.TWITTER:
        return tweet_to_post(source["tweet"], Includes.of(source), X_ACCOUNT)
    return status_to_post(source["status"], urlsplit(MASTODON_SOURCE_URL).hostname or "")


@contextmanager
def target_network(
    network: NetworkName, overrides: dict[str, Any], recorder: Recorder
) -> Iterator[tuple[Network, SandboxServer]]:
    """A sandbox of ``network`` (with the case's overrides) and the real adapter for it."""
    if network is NetworkName.MASTODON:
        masto = MastodonSandbox(
            domain=overrides.get("domain", "mastodon.example"),
            max_characters=overrides.get("max_characters", 500),
            version=overrides.get("version", "4.3.0"),
            media_processing_seconds=0.05,
        )
        recorder.install(masto)
        with masto:
            user = masto.create_user("alice", "Alice")
            config = MastodonConfig(api_base_url=masto.url, access_token=user.access_token)
            yield MastodonNetwork(config, timeout=5), masto
        return
    x = XSandbox(media_processing_seconds=0.05, **overrides)
    recorder.install(x)
    with x:
        user = x.create_user("alice", "Alice")
        config = TwitterConfig(
            api_base_url=x.url,
            consumer_key=user.consumer_key,
            consumer_secret=user.consumer_secret,
            access_token=user.access_token,
            access_token_secret=user.access_token_secret,
        )
        yield TwitterNetwork(config, timeout=5), x


def _media_lookup(network: NetworkName, server: SandboxServer) -> Any:
    def lookup(media_id: str) -> dict[str, Any]:
        info = server.media(media_id)  # type: ignore[attr-defined]
        if info is None:
            return {"unknown_media_id": media_id}
        if network is NetworkName.TWITTER:
            return {"type": info["type"], "alt_text": info["alt_text"]}
        return {"type": info["type"], "description": info["description"]}

    return lookup


def replay(case: dict[str, Any], workdir: Path) -> Outcome:
    """Run a case through the real converter, policy and deliverer (see the module doc)."""
    source_network = NetworkName(case["source"]["network"])
    target = NetworkName.MASTODON if source_network is NetworkName.TWITTER else NetworkName.TWITTER
    policy = PolicyConfig(**case.get("policy", {}))
    recorder = Recorder()
    outcome = Outcome(requests=[], skipped=None, fallbacks=[])
    with ExitStack() as stack:
        media = stack.enter_context(MediaServer())
        urls = {url: media.serve(path) for url, path in (case.get("media_files") or {}).items()}
        adapter, server = stack.enter_context(
            target_network(target, case.get("target") or {}, recorder)
        )
        store = Store.open(f"sqlite:///{workdir / 'corpus.db'}")
        stack.callback(store.close)
        (workdir / "media").mkdir(exist_ok=True)
        deliverer = Deliverer(
            store,
            LINK,
            {target: adapter},
            worker_id="corpus",
            max_attempts=1,
            stop=threading.Event(),
            clock=lambda: datetime.now(UTC),
            policy=policy,
            media=MediaCarrier(
                store, workdir / "media", download_timeout=5, allowed_hosts=LOCAL_MEDIA_HOST
            ),
        )
        sources = [*(case.get("before") or []), case["source"]]
        for number, raw in enumerate(sources):
            last = number == len(sources) - 1
            post = source_post(source_network, localize_media(raw, urls))
            now = datetime.now(UTC)
            decision = judge(store, LINK, post, policy, [target], now)
            if not decision.mirror:
                if not last:
                    raise AssertionError(f"earlier post {post.id} was skipped: {decision.reason}")
                outcome.skipped = decision.reason
                break
            store.record_poll(
                LINK,
                source_network.value,
                account_id=post.author_id,
                cursor=post.id,
                deliveries=[change(post, target, "post")],
                now=now,
            )
            report = deliverer.run()
            outcome.fallbacks += report.fallbacks
            delivery = store.delivery_for(LINK, source_network.value, post.id, target.value)
            assert delivery is not None
            if delivery.status == DeliveryStatus.SKIPPED and last:
                outcome.skipped = delivery.last_error or "skipped"
            elif delivery.status != DeliveryStatus.DONE:
                raise AssertionError(
                    f"delivery of {post.id} ended {delivery.status}: {delivery.last_error}"
                )
        writes = recorder.writes(target)
        ids: list[str] = []
        lookup = _media_lookup(target, server)
        for call in writes:
            outcome.requests.append(request_view(target, call, lookup, ids))
            ids.append(_response_id(call.response) or "")
    return outcome
