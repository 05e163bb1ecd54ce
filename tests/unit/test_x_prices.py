"""X's rate card and how X bills (networks/x_prices.py): the class of each write, what a read
reply is billed, the price table and its overrides, and the config keys that set them."""

from __future__ import annotations

from typing import Any

import pytest

from birdbridge.config import X_PRICE_CLASSES, parse_config
from birdbridge.errors import ConfigError
from birdbridge.models import Charge
from birdbridge.networks.x_prices import (
    DEFAULT_TABLE,
    Billed,
    PriceClass,
    PriceTable,
    has_url,
    path_of,
    read_charges,
    request_json,
    write_class,
)

# -- writes: the class is known before the request is sent ---------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hello from Mastodon", PriceClass.POST),
        ("read https://example.com/a?b=1 now", PriceClass.POST_WITH_URL),
        ("http://example.com", PriceClass.POST_WITH_URL),
        # twitter-text links a bare domain with a known TLD: X bills it as a URL
        ("see example.com", PriceClass.POST_WITH_URL),
        ("see example.com/path for more", PriceClass.POST_WITH_URL),
        # a fediverse handle: the "@" before the domain stops twitter-text from linking it
        ("@alice@mastodon.social wrote this", PriceClass.POST),
        ("thanks @alice@mastodon.social", PriceClass.POST),
        # nor does X link a domain glued to "-", "_", "." or "/" (no bare URL after those)
        ("version_example.com", PriceClass.POST),
        # an e-mail address is not a link on X either
        ("mail bob@example.com", PriceClass.POST),
        ("no dots at all", PriceClass.POST),
        ("", PriceClass.POST),
    ],
)
def test_a_new_post_is_priced_by_whether_x_would_link_a_url(
    text: str, expected: PriceClass
) -> None:
    assert write_class("POST", "/2/tweets", {"text": text}) is expected
    assert has_url(text) is (expected is PriceClass.POST_WITH_URL)


def test_a_post_without_text_or_body_is_a_plain_post() -> None:
    assert write_class("post", "/2/tweets", {"media": {"media_ids": ["1"]}}) is PriceClass.POST
    assert write_class("POST", "/2/tweets", None) is PriceClass.POST
    assert write_class("POST", "/2/tweets/", {"text": "x.com"}) is PriceClass.POST_WITH_URL


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("DELETE", "/2/tweets/1", PriceClass.DELETE),
        ("delete", "/2/tweets/1790000000000000000", PriceClass.DELETE),
        ("POST", "/2/users/17/retweets", PriceClass.REPOST),
        ("DELETE", "/2/users/17/retweets/1790000000000000000", PriceClass.UNDO_REPOST),
        ("POST", "/2/media/upload", PriceClass.MEDIA_UPLOAD),
        ("POST", "/2/media/upload/initialize", PriceClass.MEDIA_UPLOAD),
        ("POST", "/2/media/upload/1880000000000000000/append", PriceClass.MEDIA_UPLOAD),
        ("POST", "/2/media/upload/1880000000000000000/finalize", PriceClass.MEDIA_UPLOAD),
        ("POST", "/2/media/metadata", PriceClass.MEDIA_METADATA),
        # not writes X bills (reads are billed on the reply; others are not on the card)
        ("GET", "/2/tweets", None),
        ("GET", "/2/users/me", None),
        ("GET", "/2/media/upload", None),
        ("POST", "/2/users/17/likes", None),
        ("DELETE", "/2/users/17/likes/1", None),
        ("POST", "/1.1/statuses/update.json", None),
        ("POST", "/oauth2/token", None),
        ("PUT", "/2/tweets/1", None),
    ],
)
def test_the_class_of_each_other_write(method: str, path: str, expected: PriceClass | None) -> None:
    assert write_class(method, path, None) is expected


def test_the_body_of_a_write_is_read_from_the_prepared_request() -> None:
    assert request_json(b'{"text": "see example.com"}') == {"text": "see example.com"}
    assert request_json('{"text": "hi"}') == {"text": "hi"}
    # multipart (a media upload) and empty bodies: no JSON, and the class needs none
    assert request_json(b"--boundary\r\nContent-Disposition: form-data") is None
    assert request_json(b"\xff\xfe") is None
    assert request_json(None) is None and request_json(b"") is None
    assert path_of("https://api.x.com/2/tweets?ids=1,2") == "/2/tweets"
    assert path_of("http://127.0.0.1:8123/2/media/upload?command=STATUS") == "/2/media/upload"


# -- reads: billed per post and user returned -----------------------------------------------


def timeline_page() -> dict[str, Any]:
    """A page of one's own timeline: 2 posts, the author, a quoted post and its media."""
    return {
        "data": [
            {"id": "101", "text": "one", "author_id": "7"},
            {"id": "102", "text": "two", "author_id": "7", "attachments": {"media_keys": ["3_9"]}},
        ],
        "includes": {
            "users": [{"id": "7", "username": "alice"}],
            "tweets": [{"id": "55", "text": "quoted", "author_id": "8"}],
            "media": [{"media_key": "3_9", "type": "photo"}],
            "polls": [{"id": "44", "options": []}],
        },
        "meta": {"result_count": 2, "newest_id": "102", "oldest_id": "101"},
    }


def as_tuples(billed: list[Billed]) -> list[tuple[PriceClass, int, tuple[str, ...]]]:
    return [(b.price_class, b.units, b.resources) for b in billed]


def test_own_timeline_page_when_the_account_owns_the_app() -> None:
    billed = read_charges("GET", "/2/users/7/tweets", timeline_page(), owned=True)
    assert as_tuples(billed) == [
        (PriceClass.OWNED_READ, 2, ("101", "102")),
        (PriceClass.POST_READ, 1, ("55",)),  # a referenced post is not an owned read
        (PriceClass.USER_READ, 1, ("7",)),
    ]  # media and polls are not resources X bills


def test_own_timeline_page_when_the_account_does_not_own_the_app() -> None:
    billed = read_charges("GET", "/2/users/7/tweets", timeline_page(), owned=False)
    assert as_tuples(billed) == [
        (PriceClass.POST_READ, 2, ("101", "102")),
        (PriceClass.POST_READ, 1, ("55",)),
        (PriceClass.USER_READ, 1, ("7",)),
    ]


def test_an_empty_page_costs_nothing() -> None:
    empty = {"meta": {"result_count": 0}}
    assert read_charges("GET", "/2/users/7/tweets", empty, owned=True) == []
    assert read_charges("GET", "/2/users/7/tweets", {"data": []}, owned=False) == []
    assert read_charges("GET", "/2/tweets", {"errors": [{"resource_id": "1"}]}, owned=True) == []


def test_a_lookup_by_ids_is_a_regular_post_read_even_for_the_owner() -> None:
    body = {
        "data": [{"id": "101", "author_id": "7"}, {"id": "102", "author_id": "7"}],
        "includes": {"users": [{"id": "7"}]},
        "errors": [{"resource_id": "103", "title": "Not Found Error"}],  # deleted: not billed
    }
    billed = read_charges("GET", "/2/tweets", body, owned=True)
    assert as_tuples(billed) == [
        (PriceClass.POST_READ, 2, ("101", "102")),
        (PriceClass.USER_READ, 1, ("7",)),
    ]
    one = read_charges("GET", "/2/tweets/101", {"data": {"id": "101"}}, owned=True)
    assert as_tuples(one) == [(PriceClass.POST_READ, 1, ("101",))]


def test_reading_the_account_is_one_user_read() -> None:
    body = {"data": {"id": "7", "username": "alice", "protected": False}}
    assert as_tuples(read_charges("GET", "/2/users/me", body, owned=True)) == [
        (PriceClass.USER_READ, 1, ("7",))
    ]


def test_the_media_status_check_is_billed_once_per_call() -> None:
    body = {"data": {"id": "1880", "processing_info": {"state": "in_progress"}}}
    assert as_tuples(read_charges("GET", "/2/media/upload", body, owned=True)) == [
        (PriceClass.MEDIA_STATUS, 1, ())
    ]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/2/users/7/tweets", {"data": [{"id": "1"}]}),  # not a read
        ("GET", "/1.1/account/verify_credentials.json", {"data": {"id": "1"}}),
        ("GET", "/2/users/7/tweets", ["not", "a", "dict"]),
        ("GET", "/2/spaces/1", {"data": {"id": "1"}}),  # nothing birdbridge reads
    ],
)
def test_what_is_not_a_billed_read(method: str, path: str, body: Any) -> None:
    assert read_charges(method, path, body, owned=True) == []


# -- the price table ------------------------------------------------------------------------


def test_the_default_table_is_x_rate_card_in_millionths() -> None:
    assert {c: DEFAULT_TABLE.of(c) for c in PriceClass} == {
        PriceClass.OWNED_READ: 1_000,
        PriceClass.POST_READ: 5_000,
        PriceClass.USER_READ: 10_000,
        PriceClass.POST: 15_000,
        PriceClass.POST_WITH_URL: 200_000,
        PriceClass.MEDIA_UPLOAD: 15_000,
        PriceClass.MEDIA_STATUS: 5_000,
        PriceClass.MEDIA_METADATA: 5_000,
        PriceClass.DELETE: 5_000,
        PriceClass.REPOST: 15_000,
        PriceClass.UNDO_REPOST: 10_000,
    }
    assert DEFAULT_TABLE.of(PriceClass.OWNED_READ, 7) == 7_000
    assert DEFAULT_TABLE.of(PriceClass.POST, 0) == 0


def test_overrides_change_only_the_classes_named() -> None:
    table = PriceTable.with_overrides({"post": 0.5, "owned_read": 0.0015})
    assert table.of(PriceClass.POST) == 500_000
    assert table.of(PriceClass.OWNED_READ, 3) == 4_500
    others = set(PriceClass) - {PriceClass.POST, PriceClass.OWNED_READ}
    assert all(table.of(c) == DEFAULT_TABLE.of(c) for c in others)
    assert PriceTable.with_overrides({"delete": 0}).of(PriceClass.DELETE) == 0
    assert PriceTable.with_overrides(None) == PriceTable.with_overrides({}) == DEFAULT_TABLE
    with pytest.raises(ValueError, match="nonsense"):
        PriceTable.with_overrides({"nonsense": 1.0})


def test_a_charge_carries_the_unit_price_of_its_table() -> None:
    billed = Billed(PriceClass.OWNED_READ, 2, ("101", "102"))
    charge = billed.charge(PriceTable.with_overrides({"owned_read": 0.002}))
    assert charge == Charge("owned_read", 2, 2_000, ("101", "102"), resource_kind="post")
    users = Billed(PriceClass.USER_READ, 1, ("7",)).charge(DEFAULT_TABLE)
    assert users.resource_kind == "user"  # a post and a user with one id are two resources
    assert charge.micros == 4_000
    assert Billed(PriceClass.POST_WITH_URL, 1).charge(DEFAULT_TABLE).micros == 200_000


def test_every_class_has_a_label_and_only_reads_are_per_resource() -> None:
    assert all(c.label for c in PriceClass)
    assert {c for c in PriceClass if c.per_resource} == {
        PriceClass.OWNED_READ,
        PriceClass.POST_READ,
        PriceClass.USER_READ,
    }


# -- the config ---------------------------------------------------------------------------


def test_the_config_knows_exactly_the_price_classes() -> None:
    assert tuple(X_PRICE_CLASSES) == tuple(c.value for c in PriceClass)


CONFIG = """
[bridge]
database_url = "sqlite:///state.db"
poll_interval = 60
{bridge}

[[links]]
name = "alice"
direction = "both"

[links.twitter]
consumer_key = "ck"
consumer_secret = "cs"
access_token = "at"
access_token_secret = "ats"
{twitter}

[links.mastodon]
api_base_url = "https://mastodon.example/"
access_token = "mt"
"""


def config(bridge: str = "", twitter: str = "") -> str:
    return CONFIG.format(bridge=bridge, twitter=twitter)


def error(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "my.toml", {})
    message = str(caught.value)
    assert message.startswith("my.toml")
    return message


def test_price_overrides_budget_and_owner_are_read_from_the_config() -> None:
    parsed = parse_config(
        config(
            "x_prices = { post = 0.02, post_with_url = 0.25 }\nmax_poll_interval = 900",
            "monthly_budget_usd = 12.5\napp_owner = false",
        ),
        "my.toml",
        {},
    )
    assert parsed.bridge.x_prices == {"post": 0.02, "post_with_url": 0.25}
    assert parsed.bridge.slowest_poll == 900
    twitter = parsed.links[0].twitter
    assert twitter.monthly_budget_usd == 12.5 and twitter.app_owner is False
    defaults = parse_config(config(), "my.toml", {})
    assert defaults.bridge.x_prices == {} and defaults.bridge.slowest_poll == 600
    assert defaults.links[0].twitter.monthly_budget_usd is None
    assert defaults.links[0].twitter.app_owner is None
    slow = parse_config(config().replace("poll_interval = 60", "poll_interval = 900"), "m", {})
    assert slow.bridge.slowest_poll == 900  # never faster than poll_interval


def test_an_unknown_price_class_is_an_error_naming_the_key() -> None:
    message = error(config("x_prices = { nonsense = 1 }"))
    assert "bridge.x_prices" in message and "nonsense" in message
    assert "post_with_url" in message  # the known classes are listed


def test_a_price_out_of_range_is_refused() -> None:
    assert "bridge.x_prices" in error(config("x_prices = { post = -1 }"))
    assert "bridge.x_prices" in error(config("x_prices = { post = 101 }"))
    assert "bridge.x_prices" in error(config('x_prices = { post = "cheap" }'))


def test_max_poll_interval_below_poll_interval_is_refused() -> None:
    message = error(config("max_poll_interval = 30"))
    assert "max_poll_interval" in message and "poll_interval" in message
    assert "30" in message and "60" in message
    assert parse_config(config("max_poll_interval = 60"), "m", {}).bridge.slowest_poll == 60


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("monthly_budget_usd = -1.0", "twitter.monthly_budget_usd"),
        ('monthly_budget_usd = "5"', "twitter.monthly_budget_usd"),
        ('app_owner = "yes"', "twitter.app_owner"),
    ],
)
def test_bad_budget_or_owner_values_name_the_key(line: str, key: str) -> None:
    assert key in error(config(twitter=line))


def test_policy_adds_no_url_towards_x_unless_chosen() -> None:
    policy = parse_config(config(), "my.toml", {}).links[0].policy
    assert policy.quotes is None and policy.media_fallback is None
    assert policy.quotes_on("twitter") == "text" and policy.quotes_on("mastodon") == "link"
    assert policy.media_fallback_on("twitter") == "drop"
    assert policy.media_fallback_on("mastodon") == "link"
