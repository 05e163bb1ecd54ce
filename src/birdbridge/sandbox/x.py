"""A local fake of the X (Twitter) API v2 that keeps the real contract.

Used by the tests, the demo and the benchmarks; the bridge also runs against independent
real implementations, so paths, JSON shapes, status codes, error bodies, rate-limit headers
and OAuth 1.0a signatures follow the real API. Sources for each error body are noted where
it is built (see also shared/reference/api-facts.md sections 1-5).

Scope: users/me, a user's timeline, tweet lookup (one and many), create, edit and delete
tweets, polls, retweets (create and undo), per-user per-endpoint rate limits, OAuth 1.0a user
context and app-only Bearer for reads, and a JSON control API under ``/_sandbox/``.
"""

from __future__ import annotations

import base64
import hmac
import math
import re
import secrets
import shutil
import string
import time
import unicodedata
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any

import regex
from oauthlib.oauth1.rfc5849 import signature as oauth_signature
from oauthlib.oauth1.rfc5849 import utils as oauth_utils

from birdbridge.sandbox import x_media_rules as media_rules
from birdbridge.sandbox import x_media_schema as media_schema
from birdbridge.sandbox.common import Request, Response, SandboxServer, json_response
from birdbridge.sandbox.common.images import ftyp_brand, image_size, image_type
from birdbridge.sandbox.common.media import MediaFolder, write_media
from birdbridge.sandbox.common.times import iso_millis
from birdbridge.sandbox.x_media_probe import read_movie

# --------------------------------------------------------------------------------------
# Weighted length (twitter-text v3: config/v3.json; XD:fundamentals/counting-characters)
# --------------------------------------------------------------------------------------

MAX_WEIGHTED_LENGTH = 280
TRANSFORMED_URL_LENGTH = 23
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

# The TLDs twitter-text links: its whole ccTLD list and the common part of its gTLD list (here a
# URL with a rarer TLD is text; X, with the whole list, would count 23).
_TLD_LIST = (
    "ac ad ae af ag ai al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn "
    "bo bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj "
    "dk dm do dz ec ee eg eh er es et eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp "
    "gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh "
    "ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn "
    "mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph "
    "pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr "
    "ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tp tr tt tv tw tz ua ug uk um us uy "
    "uz va vc ve vg vi vn vu wf ws ye yt za zm zw 한국 香港 澳門 新加坡 台灣 台湾 中國 中国 გე "
    "ລາວ ไทย ලංකා ഭാരതം ಭಾರತ భారత్ சிங்கப்பூர் இலங்கை இந்தியா ଭାରତ ભારત ਭਾਰਤ ভাৰত ভারত বাংলা "
    "भारोत भारतम् भारत ڀارت پاکستان موريتانيا مليسيا مصر قطر فلسطين عمان عراق سورية سودان تونس "
    "بھارت بارت ایران امارات المغرب السعودية الجزائر البحرين الاردن հայ "
    "қаз укр срб рф мон мкд ею бел бг ευ ελ "  # noqa: RUF001 (Cyrillic TLDs)
    "com org net edu gov mil int info biz name pro mobi aero asia cat coop jobs museum tel "
    "travel app dev page blog shop store online site tech xyz club news art design social live "
    "world today life email cloud digital network media agency studio space website link click "
    "top win vip one global solutions services company group center software systems wiki fun "
    "exchange party town cafe garden place coffee pub bar lgbt horse rip ink kitchen computer "
    # not X's: the names reserved for tests (RFC 2606), which stand in for real domains here,
    # as the Mastodon sandbox's own sandbox.example
    "example test"
)
_TLDS = frozenset(_TLD_LIST.split())
# twitter-text's extractUrl regex (js/src/regexp/*.js): preceding character, scheme, domain
# (subdomains, name, TLD), port, path, query. Subdomains stop at DNS's 125.
_DOMAIN_CHAR = (
    r"[^!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$\x09-\x0D\x20\x85\xA0\u1680\u180E\u2000-\u200A"
    r"\u2028\u2029\u202F\u205F\u3000\uFFFE\uFEFF\uFFFF\u202A-\u202E\u061C\u200E\u200F\u2066-\u2069]"
)
_LATIN = (
    r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\u0100-\u024F\u0253\u0254\u0256\u0257\u0259\u025B\u0263\u0268"
    r"\u026F\u0272\u0289\u028B\u02BB\u0300-\u036F\u1E00-\u1EFF"
)
_PATH_CHAR = rf"[a-zA-Z\u0400-\u04FF0-9!*';:=+,.$/%#\[\]\-\u2013_~@|&{_LATIN}]"
_PARENS = rf"\((?:{_PATH_CHAR}+|{_PATH_CHAR}*\({_PATH_CHAR}+\){_PATH_CHAR}*)\)"
_PATH_END = rf"(?:[+\-a-zA-Z\u0400-\u04FF0-9=_#/{_LATIN}]|{_PARENS})"
_TLD = r"(?:(?i:\L<tlds>)(?=[^0-9a-zA-Z@+\-]|$)|[xX][nN]--[\-0-9a-zA-Z]+)"
_URL_RE = regex.compile(
    # twitter-text reads UTF-16: past U+FFFF a high surrogate may precede a URL from the low one
    r"(?P<before>(?=[\U00010000-\U0010FFFF])|[^A-Za-z0-9@\uFF20$#\uFF03\uFFFE\uFEFF\uFFFF]|^)"
    r"(?P<url>(?P<scheme>[hH][tT][tT][pP][sS]?://)?"
    rf"(?P<domain>(?:{_DOMAIN_CHAR}(?:[_\-]*+{_DOMAIN_CHAR})*+\.){{0,125}}"
    rf"{_DOMAIN_CHAR}(?:-*+{_DOMAIN_CHAR})*+\.{_TLD})"
    rf"(?::[0-9]+)?(?P<path>/(?:{_PATH_CHAR}*(?:{_PARENS}{_PATH_CHAR}*)*{_PATH_END}"
    rf"|@{_PATH_CHAR}+/)*)?(?:\?[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-zA-Z0-9\-_&=#/])?)",
    tlds=_TLDS,
)
_ASCII_DOMAIN_RE = regex.compile(rf"(?:[\-a-zA-Z0-9{_LATIN}]+\.)+{_TLD}", tlds=_TLDS)
_TCO_RE = regex.compile(
    r"[hH][tT][tT][pP][sS]?://[tT]\.[cC][oO]/([a-zA-Z0-9]+)"
    r"(?:\?[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]*[a-zA-Z0-9\-_&=#/])?"
)
_INVALID_CHARACTERS = "\ufffe\ufeff\uffff"  # a post holding one is refused (twitter-text)
# Emoji (twitter-text v3 counts one as 2): a grapheme cluster with a pictograph, a keycap or a
# flag (X counts today's emoji; twitter-text 3.1's twemoji stops at Emoji 11).
_EMOJI_RE = regex.compile(r"[\p{Extended_Pictographic}\u20e3]|(?P<flag>\p{Regional_Indicator}{2})")
_EMOJI_PART_RE = regex.compile(r"[\p{Extended_Pictographic}\p{Emoji_Component}]")
_TAKES_SELECTOR_RE = regex.compile(r"[#*0-9]|(?=\p{Extended_Pictographic})\P{Emoji_Presentation}")
_FLAGS = frozenset(  # regional indicator pairs of ISO 3166 regions (and a few Unicode adds)
    "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in code)
    for code in {tld for tld in _TLDS if len(tld) == 2 and tld.isascii()} - {"an", "su", "tp", "uk"}
    | {"cp", "dg", "ea", "ic", "ta", "un"}
)
# twitter-text: a screen name, unless followed by another at sign, an accented latin letter or
# "://" (end_mention_match): "@bob@other.example" mentions nobody on X.
_MENTION_RE = re.compile(r"(?<![\w@])[@\uff20]([A-Za-z0-9_]{1,15})\b(?![@\uff20\u00c0-\u024f]|://)")
# twitter-text's validCashtag: "$" and 1-6 letters (optionally "." or "_" and 1-2 more),
# after a space or the start, before a space, punctuation or the end.
_CASHTAG_RE = regex.compile(
    r"(?:^|(?<=[\s]))\$([a-z]{1,6}(?:[._][a-z]{1,2})?)"
    r"(?=$|\s|[!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$\"])",
    regex.IGNORECASE,
)
_HASHTAG_RE = regex.compile(
    r"(?<![\w#&])[#\uff03]([\p{L}\p{M}\p{N}_]*[\p{L}\p{M}][\p{L}\p{M}\p{N}_]*)"
)


def _utf16(text: str) -> int:
    return len(text) + sum(ord(ch) > 0xFFFF for ch in text)


def _utf16_end(text: str, start: int, units: int) -> int:
    """Where ``units`` UTF-16 units from ``start`` end, short of a code point they would split."""
    end = start
    while end < len(text) and (size := 2 if ord(text[end]) > 0xFFFF else 1) <= units:
        units -= size
        end += 1
    return end


def _label_ok(label: str) -> bool:
    """twitter-text lib/idna.js: a label is 1-63 characters once punycode.js has encoded it."""
    parts = regex.split("[\u3002\uff0e\uff61]", label)
    encoded = [
        "xn--" + part.encode("punycode").decode() if any(ord(ch) > 0x7E for ch in part) else part
        for part in parts
    ]
    return 1 <= len(".".join(encoded)) <= 63


def _url_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) code point offsets of each URL twitter-text's extractUrlsWithIndices links."""
    spans: list[tuple[int, int]] = []
    for match in _URL_RE.finditer(text):
        url, domain, start = match["url"], match["domain"], match.start("url")
        if len(match["scheme"] or "https://") + _utf16(url) > 4096:
            continue
        if domain.startswith("xn--") and not _ASCII_DOMAIN_RE.search(domain):
            continue
        if not all(_label_ok(label) for label in domain.split(".")):
            continue
        if match["scheme"]:
            tco = _TCO_RE.match(url)  # a t.co link ends with its slug
            if not tco or len(tco[1]) <= 40:
                spans.append((start, start + (tco.end() if tco else len(url))))
        elif not match["before"] or match["before"] not in "-_./":
            # no scheme: only the ASCII domains in it are links, the last one with the path
            ascii_domains = _ASCII_DOMAIN_RE.finditer(domain)
            found = [(start + hit.start(), start + hit.end()) for hit in ascii_domains]
            if found and match["path"]:  # parseTweet passes over that URL's UTF-16 length
                first, last = found[-1]
                units = _utf16(text[first:last] + url) - _utf16(domain)
                found[-1] = (first, _utf16_end(text, first, units))
            spans += found
    return spans


def _code_point_weight(ch: str) -> int:
    cp = ord(ch)
    return 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2


def _grapheme_weight(grapheme: str) -> int:
    emoji = _EMOJI_RE.search(grapheme)
    if (
        not emoji
        or (emoji["flag"] and emoji["flag"] not in _FLAGS)
        or (grapheme[0] in "\u00a9\u00ae" and grapheme[1:2] != "\ufe0f")  # ©, ® need U+FE0F
    ):
        return sum(_code_point_weight(ch) for ch in grapheme)
    total = 2  # one emoji, and what in its cluster is no part of one (an accent, a stray VS16)
    for i, ch in enumerate(grapheme):
        if ch in "\ufe0e\ufe0f":
            part = i > 0 and bool(_TAKES_SELECTOR_RE.match(grapheme[i - 1]))
        elif ch == "\u200d":
            part = bool(regex.match(r"\p{Extended_Pictographic}", grapheme[i + 1 : i + 2]))
        else:
            part = bool(_EMOJI_PART_RE.match(ch))
        total += 0 if part else _code_point_weight(ch)
    return total


def _plain_weight(text: str, emoji_parsing: bool = True) -> int:
    if not emoji_parsing:  # twitter-text config v2
        return sum(_code_point_weight(ch) for ch in text)
    return sum(_grapheme_weight(grapheme) for grapheme in regex.findall(r"\X", text))


def _escape(text: str) -> str:
    """X returns post text with &, < and > escaped as HTML entities (long-standing API
    behaviour, e.g. sferik/twitter-ruby#348, FxEmbed/FxEmbed#24)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def weighted_length(text: str, *, emoji_parsing: bool = True) -> int:
    """X's weighted length of ``text`` (twitter-text v3 parseTweet, scaled so the limit is 280;
    ``emoji_parsing=False``: config v2). Checked against twitter-text's conformance cases."""
    text = unicodedata.normalize("NFC", text)
    total, pos = 0, 0
    for start, end in _url_spans(text):
        total += _plain_weight(text[pos:start], emoji_parsing) + TRANSFORMED_URL_LENGTH
        pos = end
    return total + _plain_weight(text[pos:], emoji_parsing)


def text_is_valid(text: str) -> bool:
    """twitter-text parseTweet's ``valid``: 1-280 weighted, and none of U+FFFE, U+FEFF, U+FFFF."""
    if any(ch in _INVALID_CHARACTERS for ch in text):
        return False
    return 0 < weighted_length(text) <= MAX_WEIGHTED_LENGTH


# --------------------------------------------------------------------------------------
# Error bodies
# --------------------------------------------------------------------------------------

PROBLEMS = "https://api.twitter.com/2/problems/"
# 403 detail strings, as X sends them (sources in the final report / module docs):
DUPLICATE_DETAIL = "You are not allowed to create a Tweet with duplicate content."
# Self-serve apps: "Posts created via the API are limited to a maximum of 1 cashtag ...
# Requests that include more than 1 cashtag will be rejected" (XD:x-api/posts/manage-tweets/
# integrate.mdx, 2026-04-13). The 403 detail is the one several public clients quote; the
# rest of the body is like X's other 403s (title Forbidden, type about:blank).
MAX_CASHTAGS = 1
CASHTAGS_DETAIL = "Posts are limited to a maximum of one cashtag"
TOO_LONG_DETAIL = (
    "Your Tweet text is too long. For more information on how Twitter determines text "
    "length see https://github.com/twitter/twitter-text."
)
REPLY_RESTRICTED_DETAIL = (
    "Reply to this conversation is not allowed because you have not been mentioned or "
    "otherwise engaged by the author of the post you are replying to."
)
REPLY_DELETED_DETAIL = "You attempted to reply to a Tweet that is deleted or not visible to you."
QUOTE_DELETED_DETAIL = "You attempted to quote a Tweet that is deleted or not visible to you."
DELETE_FORBIDDEN_DETAIL = "You are not authorized to delete this Tweet."
APP_ONLY_FORBIDDEN_DETAIL = (
    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."
)
INVALID_REQUEST_DETAIL = "One or more parameters to your request was invalid."
# Pay-per-use, out of credits: 402 {"title": "Payment Required", "detail": "credits depleted",
# "type": ".../credits-depleted"} (koala73/worldmonitor#7156, 2026-08; the docs give no body).
CREDITS_DEPLETED_TYPE = "https://api.x.com/2/problems/credits-depleted"
CREDITS_DEPLETED_DETAIL = "credits depleted"
PRICE_POST, PRICE_POST_WITH_URL = 0.015, 0.20
DEFAULT_CREDITS_USD = 25.0  # a first top-up
PRICE_POST_READ, PRICE_OWNED_READ = 0.005, 0.001
ACCESS_LEVELS = ("read", "read-write", "read-write-directmessages")
OAUTH1_PERMISSIONS_DETAIL = (
    "Your client app is not configured with the appropriate oauth1 app permissions for this "
    "endpoint."
)
# Quote posts: "Quote-posting (using the `quote_tweet_id` parameter) requires an Enterprise
# plan. It is not available on self-serve (pay-per-use) tiers." (XD:x-api/posts/create-post.mdx,
# removed from self-serve on 2026-04-20, api-facts §2). The body X sends was not found: this
# is the documented `client-forbidden` problem type (XD:…/response-codes-and-errors.mdx) in
# the shape of X's "client-not-enrolled" bodies, with plausible wording.
QUOTE_NOT_ENROLLED_DETAIL = (
    "Quote-posting (quote_tweet_id) requires an Enterprise plan. It is not available on "
    "self-serve (pay-per-use) tiers."
)
# Edits (XD:x-api/fundamentals/edit-posts.mdx: 30 minutes, 5 edits, no polls, no reposts, no
# replies to others; XD:changelog.mdx 2025-10-03: X Premium, own posts). X's wording for the
# refusals was not found in any stored source: these are plausible, modelled on the reply,
# quote and delete details above.
EDIT_PREMIUM_DETAIL = (
    "Editing a Tweet through the API requires the user to be subscribed to X Premium."
)
EDIT_DELETED_DETAIL = "You attempted to edit a Tweet that is deleted or not visible to you."
EDIT_FORBIDDEN_DETAIL = "You are not authorized to edit this Tweet."
EDIT_NOT_LATEST_DETAIL = "Only the most recent version of a Tweet can be edited."
EDIT_POLL_DETAIL = "Tweets with polls cannot be edited."
EDIT_NOT_ELIGIBLE_DETAIL = "This Tweet is not eligible for editing."
EDIT_WINDOW_DETAIL = "This Tweet can no longer be edited: its edit window has closed."
EDIT_LIMIT_DETAIL = "This Tweet has reached the maximum number of edits."
MAX_EDITS = 5
# Retweets. "You have already retweeted this Tweet." is X's wording (v1.1 error 327,
# marco97pa/Blackpink-Data#24 via tweepy; v2 clients match it in the problem `detail`). The
# other two are plausible wordings (X's were not found), modelled on the ones above.
ALREADY_RETWEETED_DETAIL = "You have already retweeted this Tweet."
RETWEET_DELETED_DETAIL = "You attempted to retweet a Tweet that is deleted or not visible to you."
RETWEET_OTHER_USER_DETAIL = (
    "You are not permitted to perform this action on behalf of another user: the `id` in the "
    "path must be the authenticating user's id."
)


def problem(
    status: int,
    detail: str | None = None,
    title: str | None = None,
    type_: str = "about:blank",
    **extra: Any,
) -> dict[str, Any]:
    """X v2's problem body: {"title", "detail", "type", "status"} (RFC 7807 style)."""
    phrase = HTTPStatus(status).phrase
    return {
        "title": title or phrase,
        "detail": detail or phrase,
        "type": type_,
        "status": status,
        **extra,
    }


def invalid_request(parameter: str, value: Any, message: str) -> Response:
    values = value if isinstance(value, list) else [value]
    body = {
        "errors": [{"parameters": {parameter: [str(v) for v in values]}, "message": message}],
        "title": "Invalid Request",
        "detail": INVALID_REQUEST_DETAIL,
        "type": PROBLEMS + "invalid-request",
    }
    return json_response(body, 400)


def not_found_error(resource_type: str, value: str, parameter: str) -> dict[str, Any]:
    """One entry of an ``errors`` array for a missing resource (partial-error shape)."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": PROBLEMS + "resource-not-found",
    }


# --------------------------------------------------------------------------------------
# Fields
# --------------------------------------------------------------------------------------

TWEET_FIELDS = [
    "article",
    "attachments",
    "author_id",
    "card_uri",
    "community_id",
    "context_annotations",
    "conversation_id",
    "created_at",
    "display_text_range",
    "edit_controls",
    "edit_history_tweet_ids",
    "entities",
    "geo",
    "id",
    "in_reply_to_user_id",
    "lang",
    "media_metadata",
    "non_public_metrics",
    "note_tweet",
    "organic_metrics",
    "possibly_sensitive",
    "promoted_metrics",
    "public_metrics",
    "referenced_tweets",
    "reply_settings",
    "scopes",
    "source",
    "text",
    "withheld",
]
USER_FIELDS = [
    "affiliation",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
]
MEDIA_FIELDS = [
    "alt_text",
    "duration_ms",
    "height",
    "media_key",
    "non_public_metrics",
    "organic_metrics",
    "preview_image_url",
    "promoted_metrics",
    "public_metrics",
    "type",
    "url",
    "variants",
    "width",
]
# Poll object (XD openapi.json `Poll`): id and options by default, the rest per poll.fields.
POLL_FIELDS = ["duration_minutes", "end_datetime", "id", "options", "voting_status"]
# POST /2/tweets `poll` (XD openapi.json 2.168 `CreatePostsPoll`): 2-4 options of 1-25
# characters, duration 5-10080 minutes; mutually exclusive with media, quote and card.
POLL_MIN_OPTIONS, POLL_MAX_OPTIONS, POLL_OPTION_MAX = 2, 4, 25
POLL_MIN_MINUTES, POLL_MAX_MINUTES = 5, 10080
EXPANSIONS = [
    "article.cover_media",
    "article.media_entities",
    "attachments.media_keys",
    "attachments.media_source_tweet",
    "attachments.poll_ids",
    "author_id",
    "edit_history_tweet_ids",
    "entities.mentions.username",
    "geo.place_id",
    "in_reply_to_user_id",
    "entities.note.mentions.username",
    "referenced_tweets.id",
    "referenced_tweets.id.attachments.media_keys",
    "referenced_tweets.id.author_id",
]

ENDPOINT_DEFAULTS: dict[str, int] = {  # per user per 15 min (api-facts §2, rate-limits.mdx)
    "POST /2/tweets": 100,
    "DELETE /2/tweets/:id": 50,
    "GET /2/users/:id/tweets": 900,
    "GET /2/users/me": 75,
    "GET /2/tweets/:id": 900,
    "GET /2/tweets": 5000,  # rate-limits.mdx: 5,000 per user (3,500 per app) per 15 min
    "POST /2/users/:id/retweets": 50,
    "DELETE /2/users/:id/retweets/:source_tweet_id": 50,
    "POST /2/media/upload": 500,
    "POST /2/media/upload/initialize": 1875,
    "POST /2/media/upload/:id/append": 1875,
    "POST /2/media/upload/:id/finalize": 1875,
    "GET /2/media/upload": 1000,
    "POST /2/media/metadata": 500,
}
DEFAULT_WINDOW_S = 900.0

_TWITTER_EPOCH_MS = 1288834974657
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _parseiso_millis(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _lang(text: str) -> str:
    """A rough stand-in for X's language detection (real X uses a classifier)."""
    body = _URL_RE.sub("", _MENTION_RE.sub("", text)).strip()
    if not body:
        return "zxx"
    if regex.search(r"[\p{Hiragana}\p{Katakana}]", body):
        return "ja"
    if regex.search(r"\p{Hangul}", body):
        return "ko"
    if regex.search(r"\p{Han}", body):
        return "zh"
    if not regex.search(r"\p{L}", body):
        return "und"
    return "en"


# --------------------------------------------------------------------------------------
# Media (XD:x-api/media/*, api-facts §1)
# --------------------------------------------------------------------------------------

MIB = 1024 * 1024
# The request bodies of the media endpoints are checked against the newest openapi.json in
# x_media_schema.py. The older `command=INIT|APPEND|FINALIZE` form on POST /2/media/upload, which
# the chunked quickstart's cURL lines still show (XD:x-api/media/quickstart/
# media-upload-chunked.mdx), is refused: MediaUploadRequest (openapi 2.167) declares only
# `media`, `media_category` and `additional_owners`, with additionalProperties false.
# Upload limits by category family (XD:x-api/media/introduction.mdx; the 512 MB video figure
# is the one api-facts §1 quotes; newer best-practices.mdx says 8 GB for Post video).
DEFAULT_MEDIA_LIMITS = {"tweet_image": 5 * MIB, "tweet_gif": 15 * MIB, "tweet_video": 512 * MIB}
MEDIA_CATEGORIES = {  # category -> family (a key of media_limits)
    "tweet_image": "tweet_image",
    "dm_image": "tweet_image",
    "tweet_gif": "tweet_gif",
    "dm_gif": "tweet_gif",
    "tweet_video": "tweet_video",
    "amplify_video": "tweet_video",
    "dm_video": "tweet_video",
}
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
VIDEO_TYPES = ("video/mp4", "video/quicktime")
# media_key prefixes seen on live X: 3_ image, 7_ video, 13_ amplify_video, 16_ animated GIF
# (XD:…/media-upload-chunked.mdx; abraham/twitteroauth#1222; plhery/node-twitter-api-v2#519)
_KEY_PREFIX = {"photo": "3", "video": "7", "animated_gif": "16"}
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")
_EXT = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "video/mp4": "mp4",
    "video/quicktime": "mov",
}
ALT_TEXT_MAX = 1000
DEFAULT_MEDIA_TTL = 86400  # `expires_after_secs` after upload (xurl#18, chunked quickstart)
VIDEO_BIT_RATE = 2176000
# Upload error messages. "Not found": xdevplatform/xurl#18 (STATUS of an unknown or
# unprocessed media). "media type unrecognized.": sferik/x-ruby#14 and #54 (FINALIZE of
# bytes X cannot decode). "Your media IDs are invalid.": abraham/twitteroauth#1222,
# plhery/node-twitter-api-v2#336 (POST /2/tweets with a pending, unknown or foreign media).
MEDIA_NOT_FOUND = "BadRequest: Not found"
MEDIA_UNRECOGNIZED = "media type unrecognized."
MEDIA_IDS_INVALID = "Your media IDs are invalid."
SEGMENTS_MISMATCH = "Segments do not add up to provided total file size."  # v1.1 wording
# Subtitles and 3D models pass the schema's enums but are beyond this sandbox: its own wording.
UNSUPPORTED_CATEGORY = "The X sandbox does not handle media_category {} uploads."
PROCESSING_ERROR = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video format"}
# A 16x9 grey JPEG served as the preview image of videos and GIFs.
_THUMBNAIL = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERX"
    "RTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAJABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAA"
    "AAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
    "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKT"
    "lJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QA"
    "HwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdh"
    "cRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hp"
    "anN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk"
    "5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDk6KKKAP/Z"
)


def sniff_media_type(head: bytes) -> str | None:
    """The content type of media bytes by their magic numbers; None if X would not take it
    (HEIC/AVIF, WebM, BMP, ...). X decodes the bytes, it does not trust the declared type."""
    picture = image_type(head)
    if picture is not None:
        return picture
    brand = ftyp_brand(head)
    if brand is None or brand in _HEIF_BRANDS:
        return None
    return "video/quicktime" if brand == b"qt  " else "video/mp4"


def _media_kind(content_type: str | None, family: str) -> str:
    if family == "tweet_video":
        return "video"
    if family == "tweet_gif":
        return "animated_gif"
    return "photo"


# --------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XUser:
    """What a test needs to configure a client for this user."""

    id: str
    username: str
    name: str
    protected: bool
    consumer_key: str
    consumer_secret: str
    access_token: str  # "<user id>-<random>", as X issues them (tweepy reads the id from it)
    access_token_secret: str
    premium: bool = False  # X Premium: needed to edit posts through the API
    # The app's permission when the token was made: "read", "read-write" or
    # "read-write-directmessages"; X reports it in the x-access-level header.
    access_level: str = "read-write"


class EditRefused(ValueError):
    """An edit X would refuse; ``detail`` is the problem detail the API would send."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True)
class _Secrets:  # what oauthlib's sign_hmac_sha1_with_client reads from a "client"
    client_secret: str
    resource_owner_secret: str


@dataclass
class _Auth:
    user: XUser | None  # None: app-only Bearer

    @property
    def key(self) -> str:
        return self.user.id if self.user else "app"


class XSandbox(SandboxServer):
    """X API v2 on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        reply_restriction: bool = True,
        self_replies_allowed: bool = True,
        credits_usd: float | None = DEFAULT_CREDITS_USD,
        retweet_reply_id: bool = False,
        timeline_lag_s: float = 0.0,
        media_processing_seconds: float = 0.5,
        media_ttl: float = DEFAULT_MEDIA_TTL,
        media_link_in_text: bool = True,
        quotes_allowed: bool = False,
        edit_window_s: float = 1800,
    ) -> None:
        super().__init__(host, port)
        # Quote posts through the API: refused on self-serve tiers since 2026-04-20 (api-facts
        # §2); True behaves like an Enterprise app. The control API can always quote.
        self.quotes_allowed = quotes_allowed
        # Edit window from the original post: 30 min in XD:…/edit-posts.mdx, 1 h in the
        # 2025-10-03 changelog entry (api-facts §5), hence a parameter.
        self.edit_window_s = float(edit_window_s)
        # Real X ends a post's text with a t.co link to its media; False leaves it out.
        self.media_link_in_text = media_link_in_text
        # Media bytes live on disk only, in this per-server directory (removed by stop()).
        self._media_dir = MediaFolder("birdbridge-x-media-")
        self._media: dict[str, dict[str, Any]] = {}  # by media id
        self._media_by_key: dict[str, str] = {}
        self._last_media_id = 1900000000000000000
        self.media_processing_seconds = float(media_processing_seconds)  # keep <= 1 s
        self.media_ttl = float(media_ttl)  # expires_after_secs of uploaded media
        self.media_limits: dict[str, int] = dict(DEFAULT_MEDIA_LIMITS)  # bytes, by category
        # APPEND's reply: "expires_at" is the v2 reference's {"data": {"expires_at": ...}};
        # "204" and "200" answer with an empty body, as the v1.1 APPEND did.
        self.media_append_reply = "expires_at"
        # The self-serve reply rule (2026-02-23): a reply only where the parent's author
        # mentioned or quoted the replier. Whether one's own thread is exempt is not
        # documented (api-facts section 2): allowed by default, refusable for tests.
        self.reply_restriction = reply_restriction
        self.self_replies_allowed = self_replies_allowed
        # Pay-per-use credits in USD (None: not metered), as every self-serve account is
        # since 2026-02: each billable call takes its price, and at zero every request is
        # refused with 402 credits-depleted until credits are added (set_credits).
        self.credits_usd = credits_usd
        self.spent_usd = 0.0
        # The retweet reply: the manage-retweets guide shows {"data": {"retweeted": true}};
        # only the newest openapi.json adds the retweet's own id (``rest_id``).
        self.retweet_reply_id = retweet_reply_id
        # X's timelines are eventually consistent: a post can take a moment to show in its
        # author's timeline (a test sets this to see what recovery does meanwhile).
        self.timeline_lag_s = float(timeline_lag_s)
        self.consumer_key = _rand(25)
        self.consumer_secret = _rand(50)
        self.bearer_token = "AAAAAAAAAAAAAAAAAAAAA" + _rand(60)
        self._users: dict[str, XUser] = {}  # by id
        self._by_username: dict[str, str] = {}  # lower-cased username -> id
        self._by_token: dict[str, XUser] = {}
        self._tweets: dict[str, dict[str, Any]] = {}  # internal records by id
        self._chains: dict[str, list[str]] = {}  # edit chains by original id, oldest first
        self._last_tweet_id = 1800000000000000000
        self._next_user_id = 1700000000000000001
        self._limits: dict[str, tuple[int, float]] = {
            k: (v, DEFAULT_WINDOW_S) for k, v in ENDPOINT_DEFAULTS.items()
        }
        self._windows: dict[tuple[str, str], list[float]] = {}  # -> [used, reset_at]

        self.route("GET", r"/2/users/me", self._api("GET /2/users/me", self._me, user_only=True))
        self.route(
            "GET",
            r"/2/users/(?P<id>[^/]+)/tweets",
            self._api("GET /2/users/:id/tweets", self._timeline),
        )
        self.route("GET", r"/2/tweets/(?P<id>[^/]+)", self._api("GET /2/tweets/:id", self._lookup))
        self.route("GET", r"/2/tweets", self._api("GET /2/tweets", self._lookup_many))
        self.route("POST", r"/2/tweets", self._api("POST /2/tweets", self._create, user_only=True))
        self.route(
            "DELETE",
            r"/2/tweets/(?P<id>[^/]+)",
            self._api("DELETE /2/tweets/:id", self._delete, user_only=True),
        )
        media_routes = (
            ("POST", r"/2/media/upload", "POST /2/media/upload", self._media_upload),
            ("GET", r"/2/media/upload", "GET /2/media/upload", self._media_status),
            (
                "POST",
                r"/2/media/upload/initialize",
                "POST /2/media/upload/initialize",
                self._media_init,
            ),
            (
                "POST",
                r"/2/media/upload/(?P<id>[^/]+)/append",
                "POST /2/media/upload/:id/append",
                self._media_append,
            ),
            (
                "POST",
                r"/2/media/upload/(?P<id>[^/]+)/finalize",
                "POST /2/media/upload/:id/finalize",
                self._media_finalize,
            ),
            ("POST", r"/2/media/metadata", "POST /2/media/metadata", self._media_metadata),
        )
        for method, pattern, key, handler in media_routes:
            self.route(method, pattern, self._api(key, handler, user_only=True))
        self.route("GET", r"/media/(?P<name>[^/]+)", self._media_download)
        self.route("HEAD", r"/media/(?P<name>[^/]+)", self._media_download)
        self.route(
            "POST",
            r"/2/users/(?P<id>[^/]+)/retweets",
            self._api("POST /2/users/:id/retweets", self._retweet, user_only=True),
        )
        self.route(
            "DELETE",
            r"/2/users/(?P<id>[^/]+)/retweets/(?P<tweet_id>[^/]+)",
            self._api(
                "DELETE /2/users/:id/retweets/:source_tweet_id", self._unretweet, user_only=True
            ),
        )
        self.route("GET", r"/_sandbox/uploads", self._control_uploads)
        self.route("POST", r"/_sandbox/users", self._control_create_user)
        self.route("POST", r"/_sandbox/posts", self._control_create_post)
        self.route("GET", r"/_sandbox/posts", self._control_posts)
        self.route("DELETE", r"/_sandbox/posts/(?P<id>\d+)", self._control_delete_post)
        self.route("POST", r"/_sandbox/posts/(?P<id>\d+)/edit", self._control_edit_post)
        self.route("POST", r"/_sandbox/rate_limits", self._control_rate_limit)
        self.route("POST", r"/_sandbox/credits", self._control_credits)

    # -- Python API ------------------------------------------------------------------
    def create_user(
        self,
        username: str,
        name: str | None = None,
        protected: bool = False,
        premium: bool = False,
        access_level: str = "read-write",
    ) -> XUser:
        if access_level not in ACCESS_LEVELS:
            raise ValueError(f"access_level must be one of {ACCESS_LEVELS}")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", username):
            raise ValueError(f"invalid X username {username!r}")
        with self._lock:
            if username.lower() in self._by_username:
                raise ValueError(f"username {username!r} is taken")
            user_id = str(self._next_user_id)
            self._next_user_id += 1
            user = XUser(
                id=user_id,
                username=username,
                name=name or username,
                protected=protected,
                consumer_key=self.consumer_key,
                consumer_secret=self.consumer_secret,
                access_token=f"{user_id}-{_rand(40)}",
                access_token_secret=_rand(45),
                premium=premium,
                access_level=access_level,
            )
            self._users[user_id] = user
            self._by_username[username.lower()] = user_id
            self._by_token[user.access_token] = user
        return user

    def create_post(
        self,
        username: str,
        text: str,
        *,
        in_reply_to_id: str | None = None,
        quote_id: str | None = None,
        retweet_of: str | None = None,
        created_at: datetime | None = None,
        media: list[dict[str, Any]] | None = None,
        poll: dict[str, Any] | None = None,
        sensitive: bool = False,
    ) -> dict[str, Any]:
        """Post as the user would in the app: no length, duplicate, rate or media limits.

        ``media``: dicts of ``type`` (photo | animated_gif | video), ``data`` (bytes or a
        path, copied into the store), and optional ``content_type`` (sniffed if missing),
        ``alt_text``, ``width``, ``height``, ``duration_ms``.
        ``poll``: ``{"options": [2-4 labels], "duration_minutes": N}`` and optional ``votes``
        (one count per option). ``sensitive``: the post's ``possibly_sensitive``.
        """
        with self._lock:
            author = self._user_by_name(username)
            if poll is not None:
                _control_poll_check(poll)
            media_ids = [self._store_control_media(author, item)["id"] for item in media or []]
            record = self._store(
                author,
                text,
                in_reply_to_id=in_reply_to_id,
                quote_id=quote_id,
                retweet_of=retweet_of,
                created_at=created_at,
                media_ids=media_ids,
                poll=poll,
                sensitive=sensitive,
            )
            return self._render(record)

    def edit_post(self, id: str, text: str) -> dict[str, Any]:
        """Edit as the user would in the app: no Premium check, but X's edit rules (own
        latest version, window from the original post, at most 5 edits, no polls, reposts or
        replies to others). The new version gets a new id and keeps media, reply, quote and
        ``possibly_sensitive``. Raises KeyError for an unknown or deleted post and
        :class:`EditRefused` (a ValueError) with X's detail for a refused edit."""
        with self._lock:
            previous = self._tweets.get(str(id))
            if previous is None or previous["deleted"]:
                raise KeyError(id)
            author = self._users[previous["author_id"]]
            refusal = self._edit_refusal(previous, author)
            if refusal:
                raise EditRefused(refusal)
            media_ids = [key.split("_", 1)[1] for key in previous["media_keys"]]
            record = self._store_edit(previous, author, text, media_ids)
            return self._render(record)

    def posts(
        self, username: str, include_deleted: bool = False, include_superseded: bool = False
    ) -> list[dict[str, Any]]:
        """The user's posts, oldest first: the newest version of each edit chain, or every
        version with ``include_superseded``; deleted ones (flagged ``"deleted": true``) with
        ``include_deleted``."""
        with self._lock:
            author = self._user_by_name(username)
            out = []
            for record in sorted(self._tweets.values(), key=lambda r: int(r["id"])):
                if record["author_id"] != author.id or (record["deleted"] and not include_deleted):
                    continue
                if not include_superseded and not self._is_latest(record):
                    continue
                tweet = self._render(record)
                if include_deleted and record["deleted"]:
                    tweet["deleted"] = True
                out.append(tweet)
            return out

    def get_post(self, id: str) -> dict[str, Any] | None:
        """The post with this id (an older version of an edited post stays readable)."""
        with self._lock:
            record = self._tweets.get(str(id))
            return self._render(record) if record and not record["deleted"] else None

    def delete_post(self, id: str) -> None:
        """Delete a post as the user would: its whole edit chain and its retweets go."""
        with self._lock:
            record = self._tweets.get(str(id))
            if record is None:
                raise KeyError(id)
            self._delete_chain(record)

    def set_rate_limit(self, endpoint_key: str, limit: int, window_s: float = 900) -> None:
        with self._lock:
            self._limits[endpoint_key] = (int(limit), float(window_s))
            for key in [k for k in self._windows if k[0] == endpoint_key]:
                del self._windows[key]

    def user(self, username: str) -> XUser:
        with self._lock:
            return self._user_by_name(username)

    def set_protected(self, username: str, protected: bool = True) -> XUser:
        """Lock (or unlock) an account, as its owner would in the app."""
        with self._lock:
            user = replace(self._user_by_name(username), protected=protected)
            self._users[user.id] = user
            self._by_token[user.access_token] = user
            return user

    def set_credits(self, usd: float | None) -> None:
        """The pay-per-use balance (None: not metered)."""
        with self._lock:
            self.credits_usd = usd

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            self._media_dir.remove()

    # -- media: Python API ---------------------------------------------------------------
    def media(self, media_id_or_key: str) -> dict[str, Any] | None:
        """What the server holds for a media id or media_key (None if unknown)."""
        with self._lock:
            key = str(media_id_or_key)
            rec = self._media.get(key) or self._media.get(self._media_by_key.get(key, ""))
            return self._media_info(rec) if rec else None

    def uploads(self) -> list[dict[str, Any]]:
        """Media created through the upload endpoints (not the control API), oldest first."""
        with self._lock:
            rows = sorted(self._media.values(), key=lambda r: int(r["id"]))
            return [self._media_info(r) for r in rows if r["uploaded"]]

    def _media_info(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": rec["id"],
            "media_key": rec["key"],
            "type": rec["type"],
            "category": rec["category"],
            "content_type": rec["content_type"],
            "size": rec["size"],
            "alt_text": rec["alt_text"],
            "state": self._media_state(rec, time.time()),
            "owner": rec["owner"],
            "path": rec["path"],
            "uploaded": rec["uploaded"],
            "width": rec["width"],
            "height": rec["height"],
            "expires_at": rec["expires_at"],
        }

    # -- media: storage (call with the lock held) -----------------------------------------
    def _new_media(
        self,
        owner_id: str,
        category: str,
        *,
        uploaded: bool,
        total_bytes: int | None = None,
        media_type: str | None = None,
    ) -> dict[str, Any]:
        self._last_media_id = max(self._last_media_id + 1, int(self._new_tweet_id()))
        media_id = str(self._last_media_id)
        family = MEDIA_CATEGORIES[category]
        kind = {"tweet_image": "photo", "tweet_gif": "animated_gif", "tweet_video": "video"}[family]
        prefix = "13" if category == "amplify_video" else _KEY_PREFIX[kind]
        now = time.time()
        rec: dict[str, Any] = {
            "id": media_id,
            "key": f"{prefix}_{media_id}",
            "owner": owner_id,
            "category": category,
            "family": family,
            "type": kind,
            "declared_type": media_type,
            "content_type": None,
            "path": self._media_dir.path / media_id,
            "size": 0,
            "total_bytes": total_bytes,
            "segments": {},  # segment_index -> bytes written to its part file
            "state": "uploading",  # -> succeeded | failed | processing (see _media_state)
            "processing_seconds": 0.0,
            "finalized_at": None,
            "valid": True,
            "expires_at": now + self.media_ttl,
            "alt_text": None,
            "width": None,
            "height": None,
            "duration_ms": None,
            "error": None,  # the processing error when it fails
            "uploaded": uploaded,
        }
        self._media[media_id] = rec
        self._media_by_key[rec["key"]] = media_id
        return rec

    def _drop_media(self, rec: dict[str, Any]) -> None:
        for index in rec["segments"]:
            self._part_path(rec, index).unlink(missing_ok=True)
        rec["path"].unlink(missing_ok=True)
        self._media.pop(rec["id"], None)
        self._media_by_key.pop(rec["key"], None)

    def _part_path(self, rec: dict[str, Any], index: int) -> Path:
        return self._media_dir.path / f"{rec['id']}.part{index}"

    def _write_segment(self, rec: dict[str, Any], index: int, data: bytes) -> None:
        # One file per segment: a retried APPEND of the same segment replaces it, as X allows
        # ("Failed chunks can be retried individually", XD:…/media-upload-chunked.mdx).
        self._part_path(rec, index).write_bytes(data)
        rec["segments"][index] = len(data)

    def _finalize(self, rec: dict[str, Any]) -> Response | None:
        """Join the segments on disk, check size and type; an error Response or None."""
        if rec["state"] != "uploading":
            return None  # finalized before: answer with the current state
        size = sum(rec["segments"].values())
        if rec["total_bytes"] is not None and size != rec["total_bytes"]:
            return self.error_response(400, SEGMENTS_MISMATCH)
        limit = self.media_limits[rec["family"]]
        if size > limit:
            return self.error_response(400, f"File size exceeds {limit} bytes.")
        with rec["path"].open("wb") as out:
            for index in sorted(rec["segments"]):
                part = self._part_path(rec, index)
                with part.open("rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                part.unlink()
        rec["segments"] = {}
        with rec["path"].open("rb") as file:
            sniffed = sniff_media_type(file.read(32))
        rec["size"] = size
        rec["content_type"] = sniffed or rec["declared_type"] or "application/octet-stream"
        rec["finalized_at"] = time.time()
        if rec["family"] == "tweet_image":
            if sniffed not in IMAGE_TYPES:
                rec["state"], rec["valid"] = "failed", False
                return self.error_response(400, MEDIA_UNRECOGNIZED)
            rec["state"] = "succeeded"
            rec["width"], rec["height"] = image_size(rec["path"]) or (None, None)
            return None
        # GIFs and videos are transcoded asynchronously: pending -> in_progress -> result.
        # The category must match the file (tweet_gif: a GIF; tweet_video: an mp4/mov), and
        # the file's real properties must keep X's rules (x_media_rules.py, best-practices.mdx).
        rec["state"] = "processing"
        rec["processing_seconds"] = float(self.media_processing_seconds)
        expected = ("image/gif",) if rec["family"] == "tweet_gif" else VIDEO_TYPES
        if sniffed not in expected:
            rec["valid"], rec["error"] = False, dict(PROCESSING_ERROR)
            return None
        check = media_rules.gif_error if sniffed == "image/gif" else media_rules.video_error
        error, learnt = check(rec["path"])
        rec.update(learnt)
        rec["valid"], rec["error"] = error is None, error
        return None

    def _media_state(self, rec: dict[str, Any], now: float) -> str:
        if rec["state"] != "processing":
            return str(rec["state"])
        elapsed, total = now - rec["finalized_at"], rec["processing_seconds"]
        if elapsed >= total:
            return "succeeded" if rec["valid"] else "failed"
        return "pending" if elapsed < total / 2 else "in_progress"

    def _processing_info(self, rec: dict[str, Any], now: float) -> dict[str, Any]:
        state = self._media_state(rec, now)
        info: dict[str, Any] = {"state": state}
        elapsed, total = now - rec["finalized_at"], rec["processing_seconds"]
        if state in ("pending", "in_progress"):
            # X reports whole seconds, at least 1 (XD:…/media-upload-chunked.mdx example)
            info["check_after_secs"] = max(1, math.ceil(total - elapsed))
            if state == "in_progress":
                info["progress_percent"] = min(99, int(100 * elapsed / total))
        elif state == "succeeded":
            info["progress_percent"] = 100
        else:  # the v1.1 STATUS reference's failed example, or a rule the file breaks
            info["progress_percent"] = 100 if (rec["error"] or {}).get("code") == 3 else 99
            info["error"] = dict(rec["error"] or PROCESSING_ERROR)
        return info

    def _upload_data(self, rec: dict[str, Any], now: float) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": rec["id"],
            "media_key": rec["key"],
            "size": rec["size"],
            "expires_after_secs": max(0, round(rec["expires_at"] - now)),
        }
        if rec["state"] == "processing":
            data["processing_info"] = self._processing_info(rec, now)
            if data["processing_info"]["state"] == "succeeded" and rec["type"] == "video":
                data["video"] = {"video_type": rec["content_type"]}
        elif rec["type"] == "photo":
            data["image"] = {
                "image_type": rec["content_type"],
                "w": rec["width"],
                "h": rec["height"],
            }
        return data

    def _owned_media(self, auth: _Auth, media_id: Any) -> dict[str, Any] | None:
        rec = self._media.get(str(media_id or ""))
        if rec is None or auth.user is None or rec["owner"] != auth.user.id:
            return None
        return rec if time.time() < rec["expires_at"] else None

    def _store_control_media(self, author: XUser, item: dict[str, Any]) -> dict[str, Any]:
        """Media attached in the app: copied into the store, no limits, ready at once."""
        kind = item.get("type", "photo")
        categories = {"photo": "tweet_image", "animated_gif": "tweet_gif", "video": "tweet_video"}
        if kind not in categories:
            raise ValueError(f"media type must be one of {sorted(categories)}, not {kind!r}")
        rec = self._new_media(author.id, categories[kind], uploaded=False)
        data = item["data"]
        write_media(rec["path"], data)
        with rec["path"].open("rb") as file:
            sniffed = sniff_media_type(file.read(32))
        default_type = {"photo": "image/jpeg", "animated_gif": "image/gif", "video": "video/mp4"}
        content_type = item.get("content_type") or sniffed or default_type[kind]
        width, height, duration_ms = None, None, None
        if content_type in IMAGE_TYPES:
            width, height = image_size(rec["path"]) or (None, None)
        elif kind != "photo":  # the file's own size and length; made-up ones if unreadable
            movie = read_movie(rec["path"])
            width = movie.width if movie and movie.width else 1280
            height = movie.height if movie and movie.height else 720
            if kind == "video":
                duration_ms = round(movie.duration * 1000) if movie and movie.duration else 10000
        size = rec["path"].stat().st_size
        rec.update(
            content_type=content_type,
            size=size,
            total_bytes=size,
            state="succeeded",
            finalized_at=time.time(),
            alt_text=item.get("alt_text"),
            width=item.get("width") or width,
            height=item.get("height") or height,
            duration_ms=item.get("duration_ms") or duration_ms,
        )
        return rec

    def _render_media(self, rec: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        """The v2 media object: media_key and type always, the rest per ``media.fields``."""
        out: dict[str, Any] = {"media_key": rec["key"], "type": rec["type"]}
        base = f"{self.url}/media/{rec['key']}"
        moving = rec["type"] != "photo"
        if "url" in fields and not moving:  # pbs.twimg.com/media/<id>.jpg on real X
            out["url"] = f"{base}.{_EXT.get(rec['content_type'], 'jpg')}"
        if "preview_image_url" in fields and moving:
            out["preview_image_url"] = f"{base}_thumb.jpg"
        if "variants" in fields and moving:
            if rec["type"] == "video":  # several mp4 bit rates plus HLS, as video.twimg.com
                out["variants"] = [
                    {"bit_rate": VIDEO_BIT_RATE, "content_type": "video/mp4", "url": f"{base}.mp4"},
                    {"content_type": "application/x-mpegURL", "url": f"{base}.m3u8"},
                    {"bit_rate": 256000, "content_type": "video/mp4", "url": f"{base}.mp4?low"},
                ]
            else:  # an animated GIF is served as one silent mp4 with bit_rate 0
                out["variants"] = [
                    {"bit_rate": 0, "content_type": "video/mp4", "url": f"{base}.mp4"}
                ]
        if "width" in fields and rec["width"]:
            out["width"] = rec["width"]
        if "height" in fields and rec["height"]:
            out["height"] = rec["height"]
        if "duration_ms" in fields and rec["type"] == "video" and rec["duration_ms"]:
            out["duration_ms"] = rec["duration_ms"]
        if "alt_text" in fields and rec["alt_text"]:
            out["alt_text"] = rec["alt_text"]
        return out

    def _check_media_ids(self, author: XUser, media: Any) -> Response | None:
        """POST /2/tweets `media`: schema errors in the networknt style X uses
        (plhery/node-twitter-api-v2#539), anything else "Your media IDs are invalid."."""
        ids = media.get("media_ids") if isinstance(media, dict) else None
        param = "media.media_ids"
        if ids is None:
            return invalid_request(param, [], "$.media.media_ids: is missing but it is required")
        if not isinstance(ids, list):
            return invalid_request(param, ids, "$.media.media_ids: string found, array expected")
        if not ids:
            return invalid_request(
                param, [], "$.media.media_ids: there must be a minimum of 1 items in the array"
            )
        if len(ids) > 4:
            return invalid_request(
                param, ids, "$.media.media_ids: there must be a maximum of 4 items in the array"
            )
        now = time.time()
        kinds = []
        for media_id in ids:
            rec = self._media.get(str(media_id))
            if (
                rec is None
                or rec["owner"] != author.id
                or now >= rec["expires_at"]
                or self._media_state(rec, now) != "succeeded"
                or rec["category"].startswith("dm_")
            ):
                return invalid_request(param, ids, MEDIA_IDS_INVALID)
            kinds.append(rec["type"])
        # up to 4 photos, or exactly 1 animated GIF or 1 video (XD:…/best-practices.mdx)
        if len(kinds) > 1 and any(k != "photo" for k in kinds):
            return invalid_request(param, ids, MEDIA_IDS_INVALID)
        return None

    # -- media: handlers -------------------------------------------------------------------
    def _media_upload(self, request: Request, auth: _Auth) -> Response:
        """POST /2/media/upload, the one-shot upload (openapi 2.167 `MediaUploadRequest`:
        `media` and `media_category` required, nothing else but `additional_owners`)."""
        fields = media_schema.read_body(request, media_schema.ONE_SHOT)
        if isinstance(fields, tuple):
            return invalid_request(*fields)
        category = fields["media_category"]
        if category not in MEDIA_CATEGORIES:
            return self.error_response(400, UNSUPPORTED_CATEGORY.format(category))
        media = fields["media"]
        assert auth.user is not None
        rec = self._new_media(auth.user.id, category, uploaded=True, total_bytes=len(media))
        self._write_segment(rec, 0, media)
        error = self._finalize(rec)
        if error is not None:
            self._drop_media(rec)  # no media id was handed out
            return error
        return json_response({"data": self._upload_data(rec, time.time())})

    def _media_init(self, request: Request, auth: _Auth) -> Response:
        """POST /2/media/upload/initialize (openapi 2.167 `InitializeMediaUploadRequest`: no
        property is required). Without `media_category` the media is "assumed to be media for
        a Post (tweet_image, tweet_video, or tweet_gif), depending on the content type"
        (XD:x-api/media/quickstart/best-practices.mdx, "Media categories")."""
        fields = media_schema.read_body(request, media_schema.INITIALIZE)
        if isinstance(fields, tuple):
            return invalid_request(*fields)
        media_type = fields.get("media_type")
        category = fields.get("media_category") or _post_category(media_type)
        if category not in MEDIA_CATEGORIES:
            return self.error_response(400, UNSUPPORTED_CATEGORY.format(category))
        total = fields.get("total_bytes")
        limit = self.media_limits[MEDIA_CATEGORIES[category]]
        if total is not None and total > limit:
            return self.error_response(400, f"File size exceeds {limit} bytes.")
        assert auth.user is not None
        rec = self._new_media(
            auth.user.id, category, uploaded=True, total_bytes=total, media_type=media_type
        )
        data = {
            "id": rec["id"],
            "media_key": rec["key"],
            "expires_after_secs": int(self.media_ttl),
        }
        return json_response({"data": data})

    def _media_append(self, request: Request, auth: _Auth) -> Response:
        """POST /2/media/upload/{id}/append (openapi 2.167 `AppendMediaUploadRequest`)."""
        media_id = request.path_params["id"]
        bad = _media_path_id(media_id)
        if bad is not None:
            return bad
        fields = media_schema.read_body(request, media_schema.APPEND)
        if isinstance(fields, tuple):
            return invalid_request(*fields)
        rec = self._owned_media(auth, media_id)
        if rec is None or rec["state"] != "uploading":
            return self.error_response(400, MEDIA_NOT_FOUND)
        self._write_segment(rec, fields["segment_index"], fields["media"])
        return self._append_reply(rec)

    def _append_reply(self, rec: dict[str, Any]) -> Response:
        """The v2 reference documents ``{"data": {"expires_at": <epoch s>}}`` (openapi 2.167
        appendMediaUpload 200); the v1.1 APPEND answered an empty 2xx. `media_append_reply`
        "204" or "200" answers with no body, as a client must survive."""
        if self.media_append_reply == "204":
            return Response(204, None)
        if self.media_append_reply == "200":
            return Response(200, b"", {"Content-Type": "application/json; charset=utf-8"})
        return json_response({"data": {"expires_at": int(rec["expires_at"])}})

    def _media_finalize(self, request: Request, auth: _Auth) -> Response:
        """POST /2/media/upload/{id}/finalize: the operation declares no request body."""
        media_id = request.path_params["id"]
        bad = _media_path_id(media_id)
        if bad is not None:
            return bad
        rec = self._owned_media(auth, media_id)
        if rec is None:
            return self.error_response(400, MEDIA_NOT_FOUND)
        error = self._finalize(rec)
        if error is not None:
            return error
        if rec["state"] == "failed":
            return self.error_response(400, MEDIA_UNRECOGNIZED)
        return json_response({"data": self._upload_data(rec, time.time())})

    def _media_status(self, request: Request, auth: _Auth) -> Response:
        """GET /2/media/upload: `media_id` required (MediaId), `command` optional, enum
        ["STATUS"] (openapi 2.167 getMediaUploadStatus)."""
        media_id = request.arg("media_id")
        if not media_id:
            return invalid_request(
                "media_id", [], "The `media_id` query parameter can not be empty"
            )
        if not re.fullmatch(r"[0-9]{1,19}", media_id):
            return invalid_request(
                "media_id",
                media_id,
                f"The `media_id` query parameter value [{media_id}] is not valid",
            )
        command = request.arg("command")
        if command is not None and command != "STATUS":
            return invalid_request(
                "command",
                command,
                f"The `command` query parameter value [{command}] is not one of [STATUS]",
            )
        rec = self._owned_media(auth, media_id)
        # An image has no processing_info and STATUS answers Not found (xdevplatform/xurl#18)
        if rec is None or rec["state"] != "processing":
            return self.error_response(400, MEDIA_NOT_FOUND)
        return json_response({"data": self._upload_data(rec, time.time())})

    def _media_metadata(self, request: Request, auth: _Auth) -> Response:
        """POST /2/media/metadata (openapi 2.167 `CreateMediaMetadataRequest`: `id` required,
        a string matching ^[0-9]{1,19}$; no additionalProperties rule, so other properties
        pass) answers ``{"data": {"id", "associated_metadata": {"alt_text": {"text"}}}}``."""
        body = request.json()
        if not isinstance(body, dict):
            return self.error_response(400, "Request body is not valid JSON.")
        media_id = body.get("id")
        if media_id is None:
            return invalid_request("id", [], "$.id: is missing but it is required")
        if not isinstance(media_id, str):
            return invalid_request(
                "id",
                str(media_id),
                f"$.id: {media_schema.json_type(media_id)} found, string expected",
            )
        if not re.fullmatch(r"[0-9]{1,19}", media_id):
            return invalid_request(
                "id", media_id, f"$.id: does not match the regex pattern {media_schema.ID_PATTERN}"
            )
        metadata = body.get("metadata") or {}
        alt = metadata.get("alt_text") if isinstance(metadata, dict) else None
        text = alt.get("text") if isinstance(alt, dict) else None
        if alt is not None and not isinstance(text, str):
            return invalid_request(
                "metadata.alt_text.text",
                [],
                "$.metadata.alt_text.text: is missing but it is required",
            )
        if text is not None and len(text) > ALT_TEXT_MAX:
            return invalid_request(
                "metadata.alt_text.text",
                text,
                f"$.metadata.alt_text.text: may only be {ALT_TEXT_MAX} characters long",
            )
        rec = self._owned_media(auth, media_id)
        if rec is None:
            return self.error_response(400, MEDIA_NOT_FOUND)
        associated: dict[str, Any] = {}
        if text is not None:
            rec["alt_text"] = text
            associated["alt_text"] = {"text": text}
        return json_response({"data": {"id": rec["id"], "associated_metadata": associated}})

    def _media_download(self, request: Request) -> Response:
        """The files behind `url` and `variants` (pbs.twimg.com / video.twimg.com: no auth)."""
        name = request.path_params["name"]
        thumb = name.endswith("_thumb.jpg")
        key, _, ext = name.removesuffix("_thumb.jpg").partition(".")
        with self._lock:
            rec = self._media.get(self._media_by_key.get(key, ""))
            ready = rec is not None and self._media_state(rec, time.time()) == "succeeded"
        if rec is None or not ready:
            return Response(404, b"Not Found", {"Content-Type": "text/plain"})
        if thumb:
            return Response(200, _THUMBNAIL, {"Content-Type": "image/jpeg"})
        if ext == "m3u8" and rec["type"] == "video":
            playlist = (
                "#EXTM3U\n"
                f"#EXT-X-STREAM-INF:BANDWIDTH={VIDEO_BIT_RATE},"
                f"RESOLUTION={rec['width']}x{rec['height']}\n"
                f"{self.url}/media/{key}.mp4\n"
            )
            return Response(200, playlist, {"Content-Type": "application/x-mpegURL"})
        return Response(200, rec["path"], {"Content-Type": rec["content_type"]})

    # -- overrides of the base ---------------------------------------------------------
    def error_response(self, status: int, message: str) -> Response:
        if status == 400:
            body = {
                "errors": [{"message": message}],
                "title": "Invalid Request",
                "detail": INVALID_REQUEST_DETAIL,
                "type": PROBLEMS + "invalid-request",
            }
            return json_response(body, 400)
        detail = None if message in ("Injected", "Not Found", "Method Not Allowed") else message
        return json_response(problem(status, detail), status)

    def rate_limit_response(self, reset_at: float) -> Response:
        # Injected 429s do not know the endpoint; the headers still carry an epoch reset.
        return self._too_many(100, reset_at)

    def _too_many(self, limit: int, reset_at: float) -> Response:
        body = problem(429, "Too Many Requests")
        return json_response(body, 429, **self._rl_headers(limit, 0, reset_at))

    @staticmethod
    def _rl_headers(limit: int, remaining: int, reset_at: float) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset_at)),
        }

    # -- auth and rate limiting ---------------------------------------------------------
    def _api(self, endpoint_key: str, handler: Any, user_only: bool = False) -> Any:
        def wrapped(request: Request) -> Response:
            auth = self._authenticate(request)
            if isinstance(auth, Response):
                return auth
            if auth.user is None and user_only:
                body = problem(
                    403,
                    APP_ONLY_FORBIDDEN_DETAIL,
                    "Unsupported Authentication",
                    PROBLEMS + "unsupported-authentication",
                )
                return json_response(body, 403)
            refused = self._refusal(request, auth)
            if refused is not None:
                return self._with_access_level(refused, auth)
            with self._lock:
                limit, window = self._limits.get(endpoint_key, (900, DEFAULT_WINDOW_S))
                now = time.time()
                slot = self._windows.get((endpoint_key, auth.key))
                if slot is None or now >= slot[1]:
                    slot = self._windows[(endpoint_key, auth.key)] = [0, now + window]
                if slot[0] >= limit:
                    return self._with_access_level(self._too_many(limit, slot[1]), auth)
                slot[0] += 1
                headers = self._rl_headers(limit, limit - int(slot[0]), slot[1])
                response = handler(request, auth)
                self._bill(endpoint_key, request, auth, response)
            response.headers.update(headers)
            return self._with_access_level(response, auth)

        return wrapped

    def _refusal(self, request: Request, auth: _Auth) -> Response | None:
        """Account-level refusals before any endpoint work: no credits left, or a write with a
        token of a read-only app."""
        if self.credits_usd is not None and self.credits_usd <= 0:
            # Pay-per-use: "API requests will be blocked until you add credits" (XD:x-api/
            # getting-started/pricing.mdx); the 402 body as seen in public issue threads.
            return json_response(
                problem(402, CREDITS_DEPLETED_DETAIL, "Payment Required", CREDITS_DEPLETED_TYPE),
                402,
            )
        if request.method != "GET" and auth.user is not None and auth.user.access_level == "read":
            # A read-only app's token may not write: 403 oauth1-permissions, as quoted in
            # plhery/node-twitter-api-v2#493 (and on the api.x.com host in 2026).
            return json_response(
                problem(
                    403, OAUTH1_PERMISSIONS_DETAIL, "Forbidden", PROBLEMS + "oauth1-permissions"
                ),
                403,
            )
        return None

    @staticmethod
    def _with_access_level(response: Response, auth: _Auth) -> Response:
        # "All authenticated API requests return an x-access-level header ... read, read-write,
        # and read-write-directmessages" (XD:fundamentals/developer-apps.mdx until 2026-01-16;
        # still seen on v2 replies to OAuth 1.0a requests, plhery/node-twitter-api-v2#469).
        if auth.user is not None:
            response.headers["x-access-level"] = auth.user.access_level
        return response

    def _bill(self, endpoint_key: str, request: Request, auth: _Auth, response: Response) -> None:
        """Take a successful call's price from the credits (with the lock held)."""
        if self.credits_usd is None or not 200 <= response.status < 300:
            return
        price = self._price(endpoint_key, request, auth, response)
        self.spent_usd += price
        self.credits_usd -= price

    def _price(self, endpoint_key: str, request: Request, auth: _Auth, response: Response) -> float:
        """XD:x-api/getting-started/pricing.mdx (rates from 2026-04-20): a post $0.015, a post
        with a URL $0.20, a post read $0.005 per post returned, owned reads (one's own
        timeline; an ids lookup is not on that list) $0.001 per post returned; "only
        successful responses that return data are billed" (post-cap.mdx). X's per-UTC-day
        deduplication of reads is not modelled: the sandbox bills every read."""
        body = response.body if isinstance(response.body, dict) else {}
        if endpoint_key == "POST /2/tweets":
            data = body.get("data") or {}
            text = str(data.get("text") or "")
            return PRICE_POST_WITH_URL if _URL_RE.search(text) else PRICE_POST
        data = body.get("data")
        returned = len(data) if isinstance(data, list) else (1 if isinstance(data, dict) else 0)
        if endpoint_key == "GET /2/users/:id/tweets":
            owned = auth.user is not None and request.path_params.get("id") == auth.user.id
            return returned * (PRICE_OWNED_READ if owned else PRICE_POST_READ)
        if endpoint_key in ("GET /2/tweets", "GET /2/tweets/:id"):
            return returned * PRICE_POST_READ
        return 0.0

    def _authenticate(self, request: Request) -> _Auth | Response:
        unauthorized = json_response(problem(401, "Unauthorized"), 401)
        header = request.headers.get("authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :].strip()
            if hmac.compare_digest(token, self.bearer_token):
                return _Auth(None)
            return unauthorized
        if not header.startswith("OAuth "):
            return unauthorized
        try:
            params = {
                k: oauth_utils.unescape(v)
                for k, v in oauth_utils.parse_authorization_header(header)
            }
        except (ValueError, TypeError):
            return unauthorized
        with self._lock:
            user = self._by_token.get(params.get("oauth_token", ""))
        if (
            user is None
            or params.get("oauth_consumer_key") != self.consumer_key
            or params.get("oauth_signature_method") != "HMAC-SHA1"
        ):
            return unauthorized
        if not hmac.compare_digest(
            self._expected_signature(request, params, user), params.get("oauth_signature", "")
        ):
            return unauthorized
        return _Auth(user)

    def _expected_signature(self, request: Request, oauth: dict[str, str], user: XUser) -> str:
        pairs = [(k, v) for k, v in oauth.items() if k not in ("oauth_signature", "realm")]
        pairs += [(k, v) for k, vs in request.query.items() for v in vs]
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            pairs += [(k, v) for k, vs in request.form().items() for v in vs]
        host = request.headers.get("host") or self.url.split("://", 1)[1]
        base_uri = oauth_signature.base_string_uri(f"http://{host}{request.path}")
        normalized = oauth_signature.normalize_parameters(pairs)
        base = oauth_signature.signature_base_string(request.method, base_uri, normalized)
        secrets_ = _Secrets(self.consumer_secret, user.access_token_secret)
        return oauth_signature.sign_hmac_sha1_with_client(base, secrets_)

    # -- handlers ------------------------------------------------------------------------
    def _me(self, request: Request, auth: _Auth) -> Response:
        assert auth.user is not None
        bad = self._validate_fields(request, ("user.fields", USER_FIELDS))
        if bad:
            return bad
        return json_response(
            {"data": self._render_user(auth.user, _fields(request, "user.fields"))}
        )

    def _timeline(self, request: Request, auth: _Auth) -> Response:
        user_id = request.path_params["id"]
        bad = self._validate_common(request) or self._validate_timeline(request)
        if bad:
            return bad
        if user_id not in self._users:
            return json_response({"errors": [not_found_error("user", user_id, "id")]})
        max_results = int(request.arg("max_results") or 10)
        since_id, until_id = request.arg("since_id"), request.arg("until_id")
        start, end = request.arg("start_time"), request.arg("end_time")
        exclude = set(filter(None, (request.arg("exclude") or "").split(",")))
        token = request.arg("pagination_token")
        below = int(token[1:], 36) if token else None

        shown_before = datetime.now(UTC) - timedelta(seconds=self.timeline_lag_s)
        rows = [
            r
            for r in self._tweets.values()
            if r["author_id"] == user_id
            and not r["deleted"]
            and self._is_latest(r)
            and r["created_at"] <= shown_before
        ]  # an edited post shows once, at the id of its newest version (XD:…/edit-posts.mdx)
        rows.sort(key=lambda r: int(r["id"]), reverse=True)
        rows = rows[:3200]  # the timeline depth (tweepy get_users_tweets docstring)
        if "replies" in exclude:
            rows = [r for r in rows if not r["in_reply_to_tweet_id"]][:800]
        if "retweets" in exclude:
            rows = [r for r in rows if not r["retweet_of"]]
        if since_id:
            rows = [r for r in rows if int(r["id"]) > int(since_id)]
        if until_id:
            rows = [r for r in rows if int(r["id"]) < int(until_id)]
        if start:
            rows = [r for r in rows if r["created_at"] >= _parseiso_millis(start)]
        if end:
            rows = [r for r in rows if r["created_at"] < _parseiso_millis(end)]
        if below is not None:
            rows = [r for r in rows if int(r["id"]) < below]
        page, rest = rows[:max_results], rows[max_results:]
        if not page:
            return json_response({"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "result_count": len(page),
            "newest_id": page[0]["id"],
            "oldest_id": page[-1]["id"],
        }
        if rest:
            meta["next_token"] = "7" + _base36(int(page[-1]["id"]))
        return json_response(self._tweets_payload(request, page, meta))

    def _lookup(self, request: Request, auth: _Auth) -> Response:
        tweet_id = request.path_params["id"]
        bad = self._validate_common(request)
        if bad:
            return bad
        if not re.fullmatch(r"\d{1,19}", tweet_id):
            return invalid_request(
                "id", tweet_id, f"The `id` query parameter value [{tweet_id}] is not valid"
            )
        record = self._tweets.get(tweet_id)
        if record is None or record["deleted"]:
            # Real X answers 200 with only an errors array for a missing or deleted tweet.
            return json_response({"errors": [not_found_error("tweet", tweet_id, "id")]})
        payload = self._tweets_payload(request, [record], None)
        payload["data"] = payload["data"][0]
        return json_response(payload)

    def _lookup_many(self, request: Request, auth: _Auth) -> Response:
        raw = request.arg("ids")
        if not raw:
            return invalid_request("ids", [], "The `ids` query parameter can not be empty")
        ids = raw.split(",")
        if len(ids) > 100:
            return invalid_request(
                "ids",
                raw,
                f"The number of values in the `ids` query "
                f"parameter list [{len(ids)}] is not between 1 and 100",
            )
        for tweet_id in ids:
            if not re.fullmatch(r"\d{1,19}", tweet_id):
                return invalid_request(
                    "ids", tweet_id, f"The `ids` query parameter value [{tweet_id}] is not valid"
                )
        bad = self._validate_common(request)
        if bad:
            return bad
        # Partial errors (XD:…/response-codes-and-errors.mdx): found posts in `data`, each
        # missing or deleted id as a resource-not-found entry of the top-level `errors`. An
        # older version of an edited post is found at its own id (XD:…/edit-posts.mdx).
        found: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for tweet_id in ids:
            record = self._tweets.get(tweet_id)
            if record is None or record["deleted"]:
                errors.append(not_found_error("tweet", tweet_id, "ids"))
            else:
                found.append(record)
        payload = self._tweets_payload(request, found, None) if found else {}
        if errors:
            payload["errors"] = errors + payload.get("errors", [])
        return json_response(payload)

    def _create(self, request: Request, auth: _Auth) -> Response:
        author = auth.user
        assert author is not None
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.error_response(400, "Request body must be a JSON object")
        text = body.get("text")
        media = body.get("media")
        media_ids = (media.get("media_ids") if isinstance(media, dict) else None) or []
        if text is None and not media_ids:
            return invalid_request("text", [], "$.text: is missing but it is required")
        if not isinstance(text, str | None):
            return invalid_request("text", text, "$.text: string expected")
        text = unicodedata.normalize("NFC", text or "")
        if weighted_length(text) > MAX_WEIGHTED_LENGTH:
            # tweepy shows "400 Bad Request\nYour Tweet text is too long. ..." (see report)
            return json_response(problem(400, TOO_LONG_DETAIL), 400)
        if text and not text_is_valid(text):
            # twitter-text refuses U+FFFE, U+FEFF and U+FFFF; X's wording for it is not
            # documented, this one is ours.
            return json_response(problem(400, "Your Tweet text contains invalid characters."), 400)
        reply = body.get("reply") or {}
        parent_id = reply.get("in_reply_to_tweet_id")
        if "reply" in body and not parent_id:
            return invalid_request(
                "$.reply", ["{}"], "$.reply.in_reply_to_tweet_id: is missing but it is required"
            )
        quote_id = body.get("quote_tweet_id")
        bad = _check_poll_body(body) or _check_edit_options(body)
        if bad:
            return bad
        if "edit_options" in body:
            return self._create_edit(body, author, text, media_ids)
        if quote_id and not self.quotes_allowed:
            return json_response(
                problem(
                    403,
                    QUOTE_NOT_ENROLLED_DETAIL,
                    "Client Forbidden",
                    PROBLEMS + "client-forbidden",
                    reason="client-not-enrolled",
                    required_enrollment="Enterprise",
                ),
                403,
            )
        parent = self._tweets.get(str(parent_id)) if parent_id else None
        if parent_id and (parent is None or parent["deleted"]):
            return json_response(problem(403, REPLY_DELETED_DETAIL), 403)
        if quote_id:
            quoted = self._tweets.get(str(quote_id))
            if quoted is None or quoted["deleted"]:
                return json_response(problem(403, QUOTE_DELETED_DETAIL), 403)
        if parent is not None and self.reply_restriction and not self._may_reply(author, parent):
            return json_response(problem(403, REPLY_RESTRICTED_DETAIL), 403)
        if "media" in body:
            bad = self._check_media_ids(author, media)
            if bad:
                return bad
        if len(_CASHTAG_RE.findall(text)) > MAX_CASHTAGS:
            return json_response(problem(403, CASHTAGS_DETAIL), 403)
        if text and self._is_duplicate(author.id, text):
            return json_response(problem(403, DUPLICATE_DETAIL), 403)
        record = self._store(
            author,
            text,
            in_reply_to_id=parent_id,
            quote_id=quote_id,
            media_ids=[str(m) for m in media_ids],
            reply_settings=body.get("reply_settings"),
            poll=body.get("poll"),
        )
        return self._created(record)

    def _create_edit(
        self, body: dict[str, Any], author: XUser, text: str, media_ids: list[Any]
    ) -> Response:
        """POST /2/tweets with ``edit_options.previous_post_id`` (XD openapi.json 2.168
        `CreatePostsEditOptions`; the key is ``previous_post_id``, not the GraphQL API's
        ``previous_tweet_id``): a new version with a new id, built from this request's text
        and media (X builds the new post from the request: send the media again to keep it);
        the reply and quote of the previous version are kept and cannot be changed."""
        previous_id = body["edit_options"]["previous_post_id"]
        if not author.premium:
            return json_response(problem(403, EDIT_PREMIUM_DETAIL), 403)
        previous = self._tweets.get(previous_id)
        if previous is None or previous["deleted"]:
            return json_response(problem(403, EDIT_DELETED_DETAIL), 403)
        if "poll" in body:
            return json_response(problem(403, EDIT_POLL_DETAIL), 403)
        refusal = self._edit_refusal(previous, author)
        if refusal:
            return json_response(problem(403, refusal), 403)
        reply = body.get("reply") or {}
        parent_id = reply.get("in_reply_to_tweet_id")
        if parent_id and str(parent_id) != (previous["in_reply_to_tweet_id"] or ""):
            return invalid_request(
                "reply.in_reply_to_tweet_id",
                parent_id,
                "$.reply.in_reply_to_tweet_id: an edit cannot change the post replied to",
            )
        quote_id = body.get("quote_tweet_id")
        if quote_id and str(quote_id) != (previous["quote_of"] or ""):
            return invalid_request(
                "quote_tweet_id", quote_id, "$.quote_tweet_id: an edit cannot change the quote"
            )
        if "media" in body:
            bad = self._check_media_ids(author, body["media"])
            if bad:
                return bad
        record = self._store_edit(previous, author, text, [str(m) for m in media_ids])
        return self._created(record)

    def _created(self, record: dict[str, Any]) -> Response:
        data = {
            "id": record["id"],
            "text": _escape(record["text"]),
            "edit_history_tweet_ids": self._history(record),
        }
        return json_response({"data": data}, 201)

    def _delete(self, request: Request, auth: _Auth) -> Response:
        tweet_id = request.path_params["id"]
        record = self._tweets.get(tweet_id)
        if record is None or record["deleted"]:
            body = not_found_error("tweet", tweet_id, "id")
            body["status"] = 404
            return json_response(body, 404)
        assert auth.user is not None
        if record["author_id"] != auth.user.id:
            return json_response(problem(403, DELETE_FORBIDDEN_DETAIL), 403)
        self._delete_chain(record)  # "Deleting any version deletes the entire chain"
        return json_response({"data": {"deleted": True}})

    def _retweet(self, request: Request, auth: _Auth) -> Response:
        """POST /2/users/:id/retweets ``{"tweet_id"}`` -> ``{"data": {"retweeted": true}}`` as
        the manage-retweets quickstart shows; with ``retweet_reply_id`` also ``"rest_id": <id
        of the new retweet>`` (XD openapi.json 2.168 `RepostPostResponseData`). A client must
        work with both."""
        user = auth.user
        assert user is not None
        if request.path_params["id"] != user.id:
            return json_response(problem(403, RETWEET_OTHER_USER_DETAIL), 403)
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.error_response(400, "Request body must be a JSON object")
        tweet_id = body.get("tweet_id")
        if tweet_id is None:
            return invalid_request("tweet_id", [], "$.tweet_id: is missing but it is required")
        if not isinstance(tweet_id, str):
            return invalid_request(
                "tweet_id",
                str(tweet_id),
                f"$.tweet_id: {_json_type(tweet_id)} found, string expected",
            )
        if not re.fullmatch(r"\d{1,19}", tweet_id):
            return invalid_request(
                "tweet_id", tweet_id, "$.tweet_id: does not match the regex pattern ^[0-9]{1,19}$"
            )
        target = self._tweets.get(tweet_id)
        if target is not None and target["retweet_of"]:
            target = self._tweets.get(target["retweet_of"])  # a retweet of a retweet: original
        if target is None or target["deleted"]:
            return json_response(problem(403, RETWEET_DELETED_DETAIL), 403)
        if self._retweet_by(user.id, target["id"]) is not None:
            return json_response(problem(403, ALREADY_RETWEETED_DETAIL), 403)
        record = self._store(user, "", retweet_of=target["id"])
        data: dict[str, Any] = {"retweeted": True}
        if self.retweet_reply_id:
            data["rest_id"] = record["id"]
        return json_response({"data": data})

    def _unretweet(self, request: Request, auth: _Auth) -> Response:
        """DELETE /2/users/:id/retweets/:source_tweet_id -> ``{"data": {"retweeted": false}}``,
        also when there was no retweet ("The request succeeds with no action", tweepy
        ``Client.unretweet`` docstring)."""
        user = auth.user
        assert user is not None
        if request.path_params["id"] != user.id:
            return json_response(problem(403, RETWEET_OTHER_USER_DETAIL), 403)
        source_id = request.path_params["tweet_id"]
        if not re.fullmatch(r"\d{1,19}", source_id):
            return invalid_request(
                "source_tweet_id",
                source_id,
                f"The `source_tweet_id` query parameter value [{source_id}] is not valid",
            )
        retweet = self._retweet_by(user.id, source_id)
        if retweet is not None:
            retweet["deleted"] = True
        return json_response({"data": {"retweeted": False}})

    # -- control API -----------------------------------------------------------------------
    def _control_create_user(self, request: Request) -> Response:
        body = request.json() or {}
        try:
            user = self.create_user(
                body["username"],
                body.get("name"),
                bool(body.get("protected", False)),
                premium=bool(body.get("premium", False)),
                access_level=str(body.get("access_level", "read-write")),
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(asdict(user), 201)

    def _control_credits(self, request: Request) -> Response:
        """POST /_sandbox/credits ``{"usd": N | null}``: the pay-per-use balance."""
        body = request.json() or {}
        usd = body.get("usd")
        self.set_credits(None if usd is None else float(usd))
        return json_response({"usd": self.credits_usd, "spent_usd": self.spent_usd})

    def _control_create_post(self, request: Request) -> Response:
        body = request.json() or {}
        created_at = body.get("created_at")
        try:
            tweet = self.create_post(
                body["username"],
                body["text"],
                in_reply_to_id=body.get("in_reply_to_id"),
                quote_id=body.get("quote_id"),
                retweet_of=body.get("retweet_of"),
                created_at=_parseiso_millis(created_at) if created_at else None,
                media=[
                    {**item, "data": base64.b64decode(item["data"])}
                    for item in body.get("media") or []
                ],
                poll=body.get("poll"),
                sensitive=bool(body.get("sensitive", False)),
            )
        except (KeyError, ValueError) as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(tweet, 201)

    def _control_edit_post(self, request: Request) -> Response:
        """POST /_sandbox/posts/<id>/edit ``{"text"}``: :meth:`edit_post`; 201 with the new
        version, 404 for an unknown or deleted post, 422 ``{"error": <X's detail>}`` when X
        would refuse the edit."""
        body = request.json() or {}
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return json_response({"error": "text (a string) is required"}, 422)
        try:
            tweet = self.edit_post(request.path_params["id"], text)
        except KeyError:
            return json_response({"error": "no such post"}, 404)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 422)
        return json_response(tweet, 201)

    def _control_uploads(self, request: Request) -> Response:
        rows = [{**row, "path": str(row["path"])} for row in self.uploads()]
        return json_response(rows)

    def _control_posts(self, request: Request) -> Response:
        def flag(name: str) -> bool:
            return (request.arg(name) or "").lower() in ("1", "true", "yes")

        try:
            posts = self.posts(
                request.arg("username") or "",
                flag("include_deleted"),
                include_superseded=flag("include_superseded"),
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 404)
        return json_response(posts)

    def _control_delete_post(self, request: Request) -> Response:
        try:
            self.delete_post(request.path_params["id"])
        except KeyError:
            return json_response({"error": "no such post"}, 404)
        return json_response({"deleted": True})

    def _control_rate_limit(self, request: Request) -> Response:
        body = request.json() or {}
        self.set_rate_limit(
            body["endpoint_key"], int(body["limit"]), float(body.get("window_s", DEFAULT_WINDOW_S))
        )
        return json_response({"endpoint_key": body["endpoint_key"], "limit": body["limit"]})

    # -- state helpers (call with the lock held) --------------------------------------------
    def _user_by_name(self, username: str) -> XUser:
        user_id = self._by_username.get(username.lstrip("@").lower())
        if user_id is None:
            raise ValueError(f"no X user {username!r}")
        return self._users[user_id]

    def _new_tweet_id(self) -> str:
        snowflake = (int(time.time() * 1000) - _TWITTER_EPOCH_MS) << 22
        self._last_tweet_id = max(self._last_tweet_id + 1, snowflake)
        return str(self._last_tweet_id)

    def _may_reply(self, replier: XUser, parent: dict[str, Any]) -> bool:
        """X's self-serve rule (2026-02-23): the parent's author summoned the replier."""
        if parent["author_id"] == replier.id:
            return self.self_replies_allowed
        mentioned = {m["username"].lower() for m in parent["entities"].get("mentions", [])}
        if replier.username.lower() in mentioned:
            return True
        quoted = self._tweets.get(parent["quote_of"] or "")
        return bool(quoted and quoted["author_id"] == replier.id)

    def _is_duplicate(self, author_id: str, text: str) -> bool:
        recent = [
            r
            for r in self._tweets.values()
            if r["author_id"] == author_id
            and not r["deleted"]
            and not r["retweet_of"]
            and self._is_latest(r)
        ]
        recent.sort(key=lambda r: int(r["id"]), reverse=True)
        return any(r["source_text"] == text for r in recent[:200])

    def _history(self, record: dict[str, Any]) -> list[str]:
        """``edit_history_tweet_ids``: every version of the record's chain, oldest first."""
        return list(self._chains[record["chain"]])

    def _is_latest(self, record: dict[str, Any]) -> bool:
        return self._chains[record["chain"]][-1] == record["id"]

    def _edit_refusal(self, previous: dict[str, Any], author: XUser) -> str | None:
        """Why X would refuse to edit ``previous`` (XD:…/edit-posts.mdx), or None."""
        if previous["author_id"] != author.id:
            return EDIT_FORBIDDEN_DETAIL
        if not self._is_latest(previous):
            return EDIT_NOT_LATEST_DETAIL
        chain = self._history(previous)
        original = self._tweets[chain[0]]
        if original["poll"]:
            return EDIT_POLL_DETAIL
        if not original["edit_eligible"]:  # reposts, replies to others
            return EDIT_NOT_ELIGIBLE_DETAIL
        if time.time() >= original["created_at"].timestamp() + self.edit_window_s:
            return EDIT_WINDOW_DETAIL
        if len(chain) - 1 >= MAX_EDITS:
            return EDIT_LIMIT_DETAIL
        return None

    def _store_edit(
        self, previous: dict[str, Any], author: XUser, text: str, media_ids: list[str]
    ) -> dict[str, Any]:
        return self._store(
            author,
            text,
            in_reply_to_id=previous["in_reply_to_tweet_id"],
            quote_id=previous["quote_of"],
            media_ids=media_ids,
            reply_settings=previous["reply_settings"],
            sensitive=previous["possibly_sensitive"],
            edit_of=previous,
        )

    def _delete_chain(self, record: dict[str, Any]) -> None:
        """Delete every version of the record's edit chain, and the retweets of them (a
        retweet disappears with its original)."""
        versions = set(self._history(record))
        for other in self._tweets.values():
            if other["id"] in versions or other["retweet_of"] in versions:
                other["deleted"] = True

    def _retweet_by(self, user_id: str, tweet_id: str) -> dict[str, Any] | None:
        for record in self._tweets.values():
            if (
                record["author_id"] == user_id
                and record["retweet_of"] == tweet_id
                and not record["deleted"]
            ):
                return record
        return None

    def _store(
        self,
        author: XUser,
        text: str,
        *,
        in_reply_to_id: str | None = None,
        quote_id: str | None = None,
        retweet_of: str | None = None,
        created_at: datetime | None = None,
        media_ids: list[str] | None = None,
        reply_settings: str | None = None,
        poll: dict[str, Any] | None = None,
        sensitive: bool = False,
        edit_of: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store a post (``edit_of``: as the next version of that post's edit chain)."""
        text = unicodedata.normalize("NFC", text)
        parent = self._tweets.get(str(in_reply_to_id)) if in_reply_to_id else None
        if in_reply_to_id and parent is None:
            raise ValueError(f"no tweet {in_reply_to_id}")
        original = self._tweets.get(str(retweet_of)) if retweet_of else None
        if retweet_of:
            if original is None:
                raise ValueError(f"no tweet {retweet_of}")
            source = self._users[original["author_id"]]
            text = f"RT @{source.username}: {original['full_text']}"
        created = created_at or datetime.now(UTC)
        stored_poll = None
        if poll is not None:
            options = [str(o) for o in poll["options"]]
            minutes = int(poll["duration_minutes"])
            stored_poll = {
                "id": self._new_tweet_id(),
                "options": options,
                "votes": [int(v) for v in poll.get("votes") or [0] * len(options)],
                "duration_minutes": minutes,
                "end_datetime": created + timedelta(minutes=minutes),
            }
        tweet_id = self._new_tweet_id()
        full_text, full_entities = self._shorten(text)
        long_post = weighted_length(text) > MAX_WEIGHTED_LENGTH
        shown = _truncate(full_text) if long_post else full_text
        referenced = []
        if parent is not None:
            referenced.append({"type": "replied_to", "id": parent["id"]})
        if quote_id:
            referenced.append({"type": "quoted", "id": str(quote_id)})
        if original is not None:
            referenced.append({"type": "retweeted", "id": original["id"]})
        conversation_id = parent["conversation_id"] if parent else tweet_id
        if edit_of is not None:  # a new version stays in the original's conversation
            conversation_id = edit_of["conversation_id"]
        record: dict[str, Any] = {
            "id": tweet_id,
            "author_id": author.id,
            "source_text": text,
            "full_text": full_text,
            "text": shown,
            "entities": full_entities if not long_post else self._entities(shown),
            "note_entities": full_entities if long_post else None,
            "long": long_post,
            "created_at": created,
            "conversation_id": conversation_id,
            "in_reply_to_tweet_id": parent["id"] if parent else None,
            "in_reply_to_user_id": parent["author_id"] if parent else None,
            "quote_of": str(quote_id) if quote_id else None,
            "retweet_of": original["id"] if original else None,
            "referenced": referenced,
            "media_keys": [
                self._media[m]["key"] if m in self._media else f"3_{m}" for m in media_ids or []
            ],
            "reply_settings": reply_settings or "everyone",
            "lang": _lang(text),
            "poll": stored_poll,
            "possibly_sensitive": bool(sensitive),
            # Not editable (XD:…/edit-posts.mdx): polls, reposts, replies to others.
            "edit_eligible": stored_poll is None
            and original is None
            and (parent is None or parent["author_id"] == author.id),
            "chain": edit_of["chain"] if edit_of is not None else tweet_id,
            "deleted": False,
        }
        self._chains.setdefault(record["chain"], []).append(tweet_id)
        if record["media_keys"] and self.media_link_in_text:
            self._add_media_link(record, author)
        self._tweets[tweet_id] = record
        return record

    def _add_media_link(self, record: dict[str, Any], author: XUser) -> None:
        """X ends the text of a post with media with a t.co link to the media, whose
        ``entities.urls`` entry carries the first ``media_key`` (display_url pic.x.com/...)."""
        first = self._media.get(record["media_keys"][0].split("_", 1)[1])
        kind = "video" if first is not None and first["type"] == "video" else "photo"
        tco = f"https://t.co/{_rand(10)}"
        entities = record["entities"] = dict(record["entities"])
        shown = record["text"]
        start = len(shown) + (1 if shown else 0)
        url = {
            "start": start,
            "end": start + len(tco),
            "url": tco,
            "expanded_url": f"https://x.com/{author.username}/status/{record['id']}/{kind}/1",
            "display_url": f"pic.x.com/{tco[-10:]}",
            "media_key": record["media_keys"][0],
        }
        entities["urls"] = [*entities.get("urls", []), url]
        record["text"] = f"{shown} {tco}" if shown else tco
        if not record["long"]:
            record["full_text"] = record["text"]

    def _shorten(self, text: str) -> tuple[str, dict[str, Any]]:
        """Replace each URL by a t.co link, as X does, and return the entities."""
        out, urls, pos, offset = [], [], 0, 0
        for start, end in _url_spans(text):
            original = text[start:end]
            tco = f"https://t.co/{_rand(10)}"
            out.append(text[pos:start])
            new_start = start + offset
            expanded = original if re.match(r"https?://", original, re.I) else f"http://{original}"
            urls.append(
                {
                    "start": new_start,
                    "end": new_start + len(tco),
                    "url": tco,
                    "expanded_url": expanded,
                    "display_url": _display_url(original),
                }
            )
            out.append(tco)
            offset += len(tco) - (end - start)
            pos = end
        out.append(text[pos:])
        shortened = "".join(out)
        entities = self._entities(shortened, urls)
        return shortened, entities

    def _entities(self, text: str, urls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        if urls is None:  # recompute positions of t.co links already in the text
            urls = [
                {
                    "start": m.start(),
                    "end": m.end(),
                    "url": m.group(0),
                    "expanded_url": m.group(0),
                    "display_url": m.group(0)[8:],
                }
                for m in re.finditer(r"https://t\.co/\w{10}", text)
            ]
        mentions = []
        for match in _MENTION_RE.finditer(text):
            mention: dict[str, Any] = {
                "start": match.start(),
                "end": match.end(),
                "username": match.group(1),
            }
            user_id = self._by_username.get(match.group(1).lower())
            if user_id:
                mention["id"] = user_id
            mentions.append(mention)
        in_url = [(u["start"], u["end"]) for u in urls]
        hashtags = [
            {"start": m.start(), "end": m.end(), "tag": m.group(1)}
            for m in _HASHTAG_RE.finditer(text)
            if not any(s <= m.start() < e for s, e in in_url)
        ]
        entities: dict[str, Any] = {}
        for key, value in (("urls", urls), ("mentions", mentions), ("hashtags", hashtags)):
            if value:
                entities[key] = value
        return entities

    # -- rendering ---------------------------------------------------------------------------
    def _render(self, record: dict[str, Any], fields: set[str] | None = None) -> dict[str, Any]:
        """The v2 tweet object; ``fields=None`` renders every field this sandbox knows."""

        def want(name: str) -> bool:
            return fields is None or name in fields

        tweet: dict[str, Any] = {
            "id": record["id"],
            "text": _escape(record["text"]),
            "edit_history_tweet_ids": self._history(record),
        }
        if want("author_id"):
            tweet["author_id"] = record["author_id"]
        if want("created_at"):
            tweet["created_at"] = iso_millis(record["created_at"])
        if want("conversation_id"):
            tweet["conversation_id"] = record["conversation_id"]
        if want("in_reply_to_user_id") and record["in_reply_to_user_id"]:
            tweet["in_reply_to_user_id"] = record["in_reply_to_user_id"]
        if want("referenced_tweets") and record["referenced"]:
            tweet["referenced_tweets"] = [dict(r) for r in record["referenced"]]
        if want("entities") and record["entities"]:
            tweet["entities"] = record["entities"]
        if want("note_tweet") and record["long"]:
            note: dict[str, Any] = {"text": _escape(record["full_text"])}
            if record["note_entities"]:
                note["entities"] = record["note_entities"]
            tweet["note_tweet"] = note
        if want("attachments") and (record["media_keys"] or record["poll"]):
            attachments: dict[str, Any] = {}
            if record["media_keys"]:
                attachments["media_keys"] = list(record["media_keys"])
            if record["poll"]:
                attachments["poll_ids"] = [record["poll"]["id"]]
            tweet["attachments"] = attachments
        if want("edit_controls"):
            tweet["edit_controls"] = self._edit_controls(record)
        if want("possibly_sensitive"):
            tweet["possibly_sensitive"] = record["possibly_sensitive"]
        if want("lang"):
            tweet["lang"] = record["lang"]
        if want("reply_settings"):
            tweet["reply_settings"] = record["reply_settings"]
        if fields is not None and "public_metrics" in fields:
            tweet["public_metrics"] = {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        return tweet

    def _edit_controls(self, record: dict[str, Any]) -> dict[str, Any]:
        """``edit_controls`` (XD:…/edit-posts.mdx): the same for every version of a chain,
        counted from the original post; ``is_edit_eligible`` as at creation (enterprise
        edit-tweets.mdx: "If a Post was edit eligible at the time of creation")."""
        chain = self._history(record)
        original = self._tweets[chain[0]]
        until = original["created_at"].timestamp() + self.edit_window_s
        return {
            "edits_remaining": max(0, MAX_EDITS - (len(chain) - 1)),
            "is_edit_eligible": original["edit_eligible"],
            "editable_until": iso_millis(datetime.fromtimestamp(until, UTC)),
        }

    def _render_poll(self, poll: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        """The v2 poll object: id and options always, the rest per ``poll.fields``."""
        out: dict[str, Any] = {
            "id": poll["id"],
            "options": [
                {"position": n, "label": label, "votes": votes}
                for n, (label, votes) in enumerate(
                    zip(poll["options"], poll["votes"], strict=True), 1
                )
            ],
        }
        if "duration_minutes" in fields:
            out["duration_minutes"] = poll["duration_minutes"]
        if "end_datetime" in fields:
            out["end_datetime"] = iso_millis(poll["end_datetime"])
        if "voting_status" in fields:
            out["voting_status"] = "open" if datetime.now(UTC) < poll["end_datetime"] else "closed"
        return out

    def _render_user(self, user: XUser, fields: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"id": user.id, "name": user.name, "username": user.username}
        if "protected" in fields:
            data["protected"] = user.protected
        if "verified" in fields:
            data["verified"] = False
        if "description" in fields:
            data["description"] = ""
        if "created_at" in fields:
            data["created_at"] = "2020-01-01T00:00:00.000Z"
        return data

    def _tweets_payload(
        self, request: Request, rows: list[dict[str, Any]], meta: dict[str, Any] | None
    ) -> dict[str, Any]:
        """``data`` plus ``includes`` per ``expansions``; an expanded tweet that is gone is
        reported in top-level ``errors`` as X does ("Could not find tweet with
        referenced_tweets.id: [...]")."""
        fields = _fields(request, "tweet.fields")
        user_fields = _fields(request, "user.fields")
        expansions = _fields(request, "expansions")
        payload: dict[str, Any] = {"data": [self._render(r, fields) for r in rows]}
        includes: dict[str, list[dict[str, Any]]] = {}
        user_ids: list[str] = []
        tweet_ids: list[str] = []
        media_keys: list[str] = []
        poll_ids: list[str] = []
        errors: list[dict[str, Any]] = []
        row_ids = {r["id"] for r in rows}

        def add(bucket: list[str], value: str | None) -> None:
            if value and value not in bucket:
                bucket.append(value)

        for r in rows:
            if "author_id" in expansions:
                add(user_ids, r["author_id"])
            if "in_reply_to_user_id" in expansions:
                add(user_ids, r["in_reply_to_user_id"])
            if "entities.mentions.username" in expansions:
                for m in r["entities"].get("mentions", []):
                    add(user_ids, m.get("id"))
            if "attachments.media_keys" in expansions:
                for key in r["media_keys"]:
                    add(media_keys, key)
            if "attachments.poll_ids" in expansions and r["poll"]:
                add(poll_ids, r["poll"]["id"])
            if "edit_history_tweet_ids" in expansions:  # the other versions of the chain
                for version in self._history(r):
                    if version not in row_ids:
                        add(tweet_ids, version)
            ref_expansions = {
                "referenced_tweets.id",
                "referenced_tweets.id.author_id",
                "referenced_tweets.id.attachments.media_keys",
            }
            for ref in r["referenced"] if expansions & ref_expansions else []:
                target = self._tweets.get(ref["id"])
                if target is None or target["deleted"]:
                    error = not_found_error("tweet", ref["id"], "referenced_tweets.id")
                    if error not in errors:
                        errors.append(error)
                    continue
                if "referenced_tweets.id" in expansions:
                    add(tweet_ids, ref["id"])
                if "referenced_tweets.id.author_id" in expansions:
                    add(user_ids, target["author_id"])
                if "referenced_tweets.id.attachments.media_keys" in expansions:
                    for key in target["media_keys"]:
                        add(media_keys, key)
        if user_ids:
            includes["users"] = [
                self._render_user(self._users[u], user_fields) for u in user_ids if u in self._users
            ]
        if tweet_ids:
            includes["tweets"] = [self._render(self._tweets[t], fields) for t in tweet_ids]
        if media_keys:
            media_fields = _fields(request, "media.fields")
            includes["media"] = [
                self._render_media(self._media[self._media_by_key[k]], media_fields)
                for k in media_keys
                if k in self._media_by_key
            ]
        if poll_ids:
            polls = {r["poll"]["id"]: r["poll"] for r in rows if r["poll"]}
            poll_fields = _fields(request, "poll.fields")
            includes["polls"] = [self._render_poll(polls[p], poll_fields) for p in poll_ids]
        if includes:
            payload["includes"] = includes
        if errors:
            payload["errors"] = errors
        if meta is not None:
            payload["meta"] = meta
        return payload

    # -- validation ---------------------------------------------------------------------------
    def _validate_fields(self, request: Request, *specs: tuple[str, list[str]]) -> Response | None:
        for param, allowed in specs:
            for value in _fields(request, param):
                if value not in allowed:
                    return invalid_request(
                        param,
                        value,
                        f"The `{param}` query parameter value [{value}] is not "
                        f"one of [{','.join(allowed)}]",
                    )
        return None

    def _validate_common(self, request: Request) -> Response | None:
        return self._validate_fields(
            request,
            ("tweet.fields", TWEET_FIELDS),
            ("user.fields", USER_FIELDS),
            ("media.fields", MEDIA_FIELDS),
            ("poll.fields", POLL_FIELDS),
            ("expansions", EXPANSIONS),
        )

    def _validate_timeline(self, request: Request) -> Response | None:
        raw = request.arg("max_results")
        if raw is not None and (not raw.isdigit() or not 5 <= int(raw) <= 100):
            return invalid_request(
                "max_results",
                raw,
                f"The `max_results` query parameter value [{raw}] is not between 5 and 100",
            )
        for param in ("since_id", "until_id"):
            value = request.arg(param)
            if value is not None and not re.fullmatch(r"\d{1,19}", value):
                return invalid_request(
                    param, value, f"The `{param}` query parameter value [{value}] is not valid"
                )
        for param in ("start_time", "end_time"):
            value = request.arg(param)
            if value is not None:
                try:
                    _parseiso_millis(value)
                except ValueError:
                    return invalid_request(
                        param,
                        value,
                        f"The `{param}` query parameter value "
                        f"[{value}] is not a valid ISO 8601 date-time",
                    )
        for value in filter(None, (request.arg("exclude") or "").split(",")):
            if value not in ("replies", "retweets"):
                return invalid_request(
                    "exclude",
                    value,
                    f"The `exclude` query parameter value "
                    f"[{value}] is not one of [replies,retweets]",
                )
        token = request.arg("pagination_token")
        if token is not None and not re.fullmatch(r"7[0-9a-z]{1,14}", token):
            return invalid_request(
                "pagination_token",
                token,
                f"The `pagination_token` query parameter value [{token}] is not valid",
            )
        return None


def _fields(request: Request, param: str) -> set[str]:
    return {v.strip() for v in (request.arg(param) or "").split(",") if v.strip()}


def _base36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def _display_url(original: str) -> str:
    shown = re.sub(r"^https?://", "", original, flags=re.I)
    shown = re.sub(r"^www\.", "", shown, flags=re.I)
    return shown if len(shown) <= 26 else shown[:25] + "…"


def _truncate(text: str) -> str:
    """The ``text`` of a long post: its start, within 280 weighted, ending with an ellipsis."""
    out = ""
    for grapheme in regex.findall(r"\X", text):
        if weighted_length(out + grapheme) > MAX_WEIGHTED_LENGTH - 2:
            break
        out += grapheme
    return out.rstrip() + "…"


def _enum_error(parameter: str, value: Any, allowed: list[str]) -> Response:
    return invalid_request(
        parameter,
        value,
        f"$.{parameter}: does not have a value in the enumeration [{', '.join(allowed)}]",
    )


def _json_type(value: Any) -> str:
    """The JSON type name networknt's schema messages use ("string found, integer expected")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _poll_error(poll: Any) -> tuple[str, Any, str] | None:
    """(parameter, value, message) of the first schema error of a POST /2/tweets ``poll``
    (XD openapi.json 2.168 `CreatePostsPoll`; networknt wording as for ``media.media_ids``)."""
    if not isinstance(poll, dict):
        return "poll", str(poll), f"$.poll: {_json_type(poll)} found, object expected"
    for key in poll:
        if key not in ("options", "duration_minutes", "reply_settings"):
            return (
                f"poll.{key}",
                str(poll[key]),
                f"$.poll.{key}: is not defined in the schema and the schema does not allow "
                "additional properties",
            )
    options = poll.get("options")
    if options is None:
        return "poll.options", [], "$.poll.options: is missing but it is required"
    if not isinstance(options, list):
        return (
            "poll.options",
            options,
            f"$.poll.options: {_json_type(options)} found, array expected",
        )
    if not POLL_MIN_OPTIONS <= len(options) <= POLL_MAX_OPTIONS:
        bound = (
            f"minimum of {POLL_MIN_OPTIONS}"
            if len(options) < POLL_MIN_OPTIONS
            else f"maximum of {POLL_MAX_OPTIONS}"
        )
        return (
            "poll.options",
            options,
            f"$.poll.options: there must be a {bound} items in the array",
        )
    for n, option in enumerate(options):
        where = f"$.poll.options[{n}]"
        if not isinstance(option, str):
            return "poll.options", options, f"{where}: {_json_type(option)} found, string expected"
        if len(option) < 1:
            return "poll.options", options, f"{where}: must be at least 1 characters long"
        if len(option) > POLL_OPTION_MAX:
            return (
                "poll.options",
                options,
                f"{where}: may only be {POLL_OPTION_MAX} characters long",
            )
    minutes = poll.get("duration_minutes")
    param = "poll.duration_minutes"
    if minutes is None:
        return param, [], "$.poll.duration_minutes: is missing but it is required"
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        return (
            param,
            minutes,
            f"$.poll.duration_minutes: {_json_type(minutes)} found, integer expected",
        )
    if minutes < POLL_MIN_MINUTES:
        return (
            param,
            minutes,
            f"$.poll.duration_minutes: must have a minimum value of {POLL_MIN_MINUTES}",
        )
    if minutes > POLL_MAX_MINUTES:
        return (
            param,
            minutes,
            f"$.poll.duration_minutes: must have a maximum value of {POLL_MAX_MINUTES}",
        )
    return None


def _check_poll_body(body: dict[str, Any]) -> Response | None:
    """The ``poll`` of a POST /2/tweets body: its schema, then its exclusions ("This is
    mutually exclusive from Media, Quote Tweet Id, and Card URI", XD openapi.json; X's message
    for a violation was not found, this one is plausible)."""
    if "poll" not in body:
        return None
    error = _poll_error(body["poll"])
    if error:
        return invalid_request(*error)
    for other in ("media", "quote_tweet_id", "card_uri"):
        if body.get(other) is not None:
            return invalid_request("poll", other, f"$.poll: is mutually exclusive with $.{other}")
    return None


def _check_edit_options(body: dict[str, Any]) -> Response | None:
    """``edit_options`` (XD openapi.json 2.168 `CreatePostsEditOptions`: required
    ``previous_post_id`` matching ^[0-9]{1,19}$, no other property)."""
    if "edit_options" not in body:
        return None
    options = body["edit_options"]
    param = "edit_options.previous_post_id"
    if not isinstance(options, dict):
        return invalid_request(
            "edit_options",
            str(options),
            f"$.edit_options: {_json_type(options)} found, object expected",
        )
    for key in options:
        if key != "previous_post_id":
            return invalid_request(
                f"edit_options.{key}",
                str(options[key]),
                f"$.edit_options.{key}: is not defined in the schema and the schema does not "
                "allow additional properties",
            )
    previous = options.get("previous_post_id")
    if previous is None:
        return invalid_request(param, [], f"$.{param}: is missing but it is required")
    if not isinstance(previous, str):
        return invalid_request(
            param, str(previous), f"$.{param}: {_json_type(previous)} found, string expected"
        )
    if not re.fullmatch(r"\d{1,19}", previous):
        return invalid_request(
            param, str(previous), f"$.{param}: does not match the regex pattern ^[0-9]{{1,19}}$"
        )
    return None


def _control_poll_check(poll: Any) -> None:
    """A poll made in the app follows the same limits; ValueError otherwise."""
    error = _poll_error(
        {k: v for k, v in poll.items() if k != "votes"} if isinstance(poll, dict) else poll
    )
    if error:
        raise ValueError(error[2])
    votes = poll.get("votes")
    if votes is not None and (
        not isinstance(votes, list)
        or len(votes) != len(poll["options"])
        or not all(isinstance(v, int) and v >= 0 for v in votes)
    ):
        raise ValueError("poll votes must be one count (>= 0) per option")


def _post_category(media_type: str | None) -> str:
    """The Post category X assumes from the content type when none is given
    (XD:x-api/media/quickstart/best-practices.mdx); a subtitle file is `subtitles`. Without
    a type either, X's choice is not documented: the sandbox takes tweet_image."""
    if media_type is None:
        return "tweet_image"
    if media_type.startswith("video/"):
        return "tweet_video"
    if media_type == "image/gif":
        return "tweet_gif"
    if media_type.startswith("image/"):
        return "tweet_image"
    return "subtitles" if media_type.startswith("text/") else media_type


def _media_path_id(media_id: str) -> Response | None:
    """The {id} path parameter of append and finalize: ^[0-9]{1,19}$ (openapi 2.167)."""
    if re.fullmatch(r"[0-9]{1,19}", media_id):
        return None
    return invalid_request(
        "id", media_id, f"The `id` query parameter value [{media_id}] is not valid"
    )
