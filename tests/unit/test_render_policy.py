"""How each policy key shapes the rendered post (render/compose.py and friends)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from birdbridge.config import PerTarget, PolicyConfig
from birdbridge.models import Hashtag, Mention, NetworkName, Poll, Post
from birdbridge.render.capabilities import MASTODON_CAPABILITIES, X_CAPABILITIES
from birdbridge.render.compose import Lookups, Target, compose
from birdbridge.render.cw import split_cw_line
from birdbridge.render.entities import MASTODON_MENTIONS, WORD_JOINER, X_MENTIONS, defuse_mentions
from birdbridge.render.length import mastodon_length, x_weighted_length
from birdbridge.render.polls import PollLimits, fit_poll, poll_as_text

X = Target(NetworkName.TWITTER, 280, x_weighted_length, capabilities=X_CAPABILITIES)
MASTODON = Target(
    NetworkName.MASTODON,
    500,
    mastodon_length,
    polls=PollLimits(2, 4, 50, 300, 2629746, True),
    quotes=True,
    capabilities=MASTODON_CAPABILITIES,
)


def post(text: str, network: NetworkName = NetworkName.TWITTER, **kwargs: object) -> Post:
    values: dict = {
        "network": network,
        "id": "100",
        "author_id": "me",
        "text": text,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        "url": "https://x.com/me/status/100",
    }
    values.update(kwargs)
    return Post(**values)


def x_mention(text: str, name: str) -> Mention:
    start = text.index("@" + name)
    return Mention(start, start + len(name) + 1, name, None, f"https://x.com/{name}")


def test_an_x_mention_reaches_mastodon_readable_but_pinging_nobody() -> None:
    text = "thanks @carol!"
    rendered = compose(post(text, mentions=(x_mention(text, "carol"),)), MASTODON)
    assert rendered.parts == [f"thanks @{WORD_JOINER}carol!"]


def test_mentions_link_style_gives_the_profile_url() -> None:
    text = "thanks @carol!"
    rendered = compose(
        post(text, mentions=(x_mention(text, "carol"),)), MASTODON, PolicyConfig(mentions="link")
    )
    assert rendered.parts == ["thanks https://x.com/carol!"]


def test_a_mastodon_mention_reaches_x_as_the_full_address() -> None:
    text = "hi @bob@other.example and @dave@example.social"
    mentions = tuple(
        Mention(text.index(h), text.index(h) + len(h), h[1:].split("@")[0], h.split("@")[2], "u")
        for h in ("@bob@other.example", "@dave@example.social")
    )
    rendered = compose(post(text, NetworkName.MASTODON, mentions=mentions), X)
    assert rendered.parts == [text]


def test_text_that_merely_looks_like_a_mention_is_defused_for_the_target() -> None:
    # Not an entity (the source did not resolve it), yet X would link "@dave" to an X account.
    assert defuse_mentions("ask @dave", X_MENTIONS) == f"ask @{WORD_JOINER}dave"
    assert defuse_mentions("mail me: a@b.example", X_MENTIONS) == "mail me: a@b.example"
    assert defuse_mentions("@bob@other.example", X_MENTIONS) == "@bob@other.example"
    assert defuse_mentions("hi @dave", MASTODON_MENTIONS) == f"hi @{WORD_JOINER}dave"


def test_a_mismatched_entity_is_ignored_not_guessed() -> None:
    bogus = Mention(0, 4, "zed", None, "https://x.com/zed")  # the text there is "abcd"
    rendered = compose(post("abcd efg", mentions=(bogus,)), MASTODON)
    assert rendered.parts == ["abcd efg"]


def test_include_tags_remove_the_control_tag() -> None:
    text = "Big news #xp today"
    tag = Hashtag(text.index("#xp"), text.index("#xp") + 3, "xp")
    rendered = compose(post(text, hashtags=(tag,)), MASTODON, PolicyConfig(include_tags=["XP"]))
    assert rendered.parts == ["Big news today"]


def test_a_mastodon_content_warning_becomes_a_first_line_on_x() -> None:
    source = post("the text", NetworkName.MASTODON, spoiler_text="spiders")
    assert compose(source, X).parts == ["CW: spiders\n\nthe text"]
    custom = compose(source, X, PolicyConfig(cw_format="⚠️ {cw}"))
    assert custom.parts == ["⚠️ spiders\n\nthe text"]


@pytest.mark.parametrize(
    "first_line", ["CW: spiders", "TW: spiders", "cn: spiders", "CW - spiders", "CW\uff1aspiders"]
)
def test_an_x_cw_line_becomes_mastodon_spoiler_text(first_line: str) -> None:
    rendered = compose(post(f"{first_line}\nthe text"), MASTODON)
    assert (rendered.spoiler_text, rendered.parts) == ("spiders", ["the text"])


def test_a_cw_line_alone_is_just_text() -> None:
    assert split_cw_line("CW: spiders") == ("", "CW: spiders")
    assert split_cw_line("CWs are great\nyes") == ("", "CWs are great\nyes")


def test_a_poll_that_fits_is_native_and_one_that_does_not_is_text() -> None:
    fits = post("Tea or coffee?", poll=Poll(("Tea", "Coffee"), 86400))
    rendered = compose(fits, MASTODON)
    assert rendered.poll == Poll(("Tea", "Coffee"), 86400) and rendered.fallbacks == []
    multiple = post("Pick any", NetworkName.MASTODON, poll=Poll(("a", "b"), 3600, multiple=True))
    as_text = compose(multiple, X)
    assert as_text.poll is None
    assert as_text.parts == ["Pick any\n\nPoll (several choices):\n○ a\n○ b"]
    assert [kind for kind, _ in as_text.fallbacks] == ["poll_text"]


def test_poll_durations_are_clamped_and_long_options_refused() -> None:
    x_limits = PollLimits(2, 4, 25, 300, 604800, False)
    assert fit_poll(Poll(("a", "b"), 60), x_limits) == Poll(("a", "b"), 300)
    assert fit_poll(Poll(("a", "b"), 10**8), x_limits) == Poll(("a", "b"), 604800)
    assert fit_poll(Poll(("a" * 26, "b"), 3600), x_limits) is None
    assert fit_poll(Poll(tuple("abcde"), 3600), x_limits) is None
    assert poll_as_text(Poll(("a", "b"), 1)) == "Poll:\n○ a\n○ b"


def test_truncate_cuts_at_a_word_with_an_optional_link_back() -> None:
    words = " ".join(f"word{i}" for i in range(100))
    [cut] = compose(post(words), X, PolicyConfig(long_posts="truncate")).parts
    assert cut.endswith("…") and x_weighted_length(cut) <= 280
    assert cut[:-1].split(" ")[-1] in words.split(" ")  # ends on a whole word
    [linked] = compose(post(words), X, PolicyConfig(long_posts="truncate", link_back=True)).parts
    assert linked.endswith("… https://x.com/me/status/100") and x_weighted_length(linked) <= 280


def test_numbering_prefix_and_suffix() -> None:
    words = " ".join(f"word{i}" for i in range(100))
    policy = PolicyConfig(
        numbering=True,
        prefix=PerTarget(twitter="[M] "),
        suffix=PerTarget(twitter=" #bridged"),
    )
    parts = compose(post(words, NetworkName.MASTODON), X, policy).parts
    assert len(parts) == 3
    assert parts[0].startswith("[M] word0 ") and parts[0].endswith(" 1/3")
    assert parts[2].endswith(" 3/3 #bridged")
    assert all(x_weighted_length(p) <= 280 for p in parts)


def test_prefix_and_suffix_are_per_target() -> None:
    policy = PolicyConfig(prefix=PerTarget(mastodon="🐦 "), suffix=PerTarget(twitter=" 🐘"))
    assert compose(post("hi"), MASTODON, policy).parts == ["🐦 hi"]
    assert compose(post("hi", NetworkName.MASTODON), X, policy).parts == ["hi 🐘"]


def test_a_quote_of_a_mirrored_post_is_native_where_the_target_can() -> None:
    text = "so true https://x.com/me/status/42"
    source = post(text, quoted_id="42")
    native = compose(source, MASTODON, lookups=Lookups("m42", "https://m.example/@me/m42"))
    assert (native.parts, native.quote_id) == (["so true"], "m42")
    old = Target(
        NetworkName.MASTODON, 500, mastodon_length, quotes=False, capabilities=MASTODON_CAPABILITIES
    )
    linked = compose(source, old, lookups=Lookups("m42", "https://m.example/@me/m42"))
    assert (linked.parts, linked.quote_id) == (["so true\n\nhttps://m.example/@me/m42"], None)


def test_a_mastodon_quote_reaches_x_as_text_plus_link_when_chosen() -> None:
    quoted = post("original", NetworkName.MASTODON, id="7", url="https://m.example/@amy/7")
    source = post("look", NetworkName.MASTODON, quoted_id="7", quoted=quoted)
    rendered = compose(source, X, PolicyConfig(quotes="link"))
    assert rendered.parts == ["look\n\nhttps://m.example/@amy/7"] and rendered.quote_id is None


def test_a_mastodon_quote_reaches_x_without_a_url_by_default() -> None:
    """A URL makes an X post cost $0.20 instead of $0.015: birdbridge adds none by itself."""
    quoted = post("original", NetworkName.MASTODON, id="7", url="https://m.example/@amy/7")
    source = post(
        "look https://m.example/@amy/7", NetworkName.MASTODON, quoted_id="7", quoted=quoted
    )
    rendered = compose(source, X)
    assert rendered.parts == ["look"] and rendered.quote_id is None
    assert [kind for kind, _ in rendered.fallbacks] == ["quote_text"]
    towards_mastodon = compose(
        post("look", NetworkName.TWITTER, quoted_id="7", quoted=quoted), MASTODON
    )
    assert towards_mastodon.parts == ["look\n\nhttps://m.example/@amy/7"]


def test_reposts_as_link_or_text() -> None:
    text = "hello @dan"
    original = post(
        text,
        id="5",
        author_handle="@amy",
        url="https://x.com/amy/status/5",
        mentions=(x_mention(text, "dan"),),
    )
    repost = post("RT @amy: hello @dan", is_repost=True, reposted=original)
    assert compose(repost, MASTODON, PolicyConfig(reposts="link")).parts == [
        "https://x.com/amy/status/5"
    ]
    assert compose(repost, MASTODON, PolicyConfig(reposts="text")).parts == [
        f"RT @{WORD_JOINER}amy: hello @{WORD_JOINER}dan"
    ]


def test_links_to_profiles_keep_their_at_sign() -> None:
    url = "https://mastodon.example/@alice/109"
    assert defuse_mentions(f"see {url} @dave", X_MENTIONS) == (f"see {url} @{WORD_JOINER}dave")
    assert defuse_mentions(url, MASTODON_MENTIONS) == url


def test_a_reply_to_someone_else_carries_a_link_to_what_it_answers() -> None:
    reply = post(
        "I agree",
        in_reply_to_id="5",
        in_reply_to_author_id="amy",
        in_reply_to_url="https://x.com/i/web/status/5",
    )
    assert compose(reply, MASTODON).parts == ["In reply to https://x.com/i/web/status/5\n\nI agree"]
    own = post("more", in_reply_to_id="5", in_reply_to_author_id="me", in_reply_to_url="u")
    assert compose(own, MASTODON).parts == ["more"]  # a thread part needs no such line


def test_characters_x_refuses_never_reach_it() -> None:
    from birdbridge.render.length import x_is_valid

    source = post("a\ufffeb\uffffc\ufeffd", NetworkName.MASTODON)
    [part] = compose(source, X).parts
    assert part == "abcd" and x_is_valid(part)


def test_rendering_reads_the_targets_capabilities_not_its_name() -> None:
    """What a target can carry comes from its adapter's capabilities: a network named X that
    had content warnings would keep them, one named Mastodon that limited cashtags would get
    them limited. Without capabilities a target has its network's usual ones."""
    assert X.can == Target(NetworkName.TWITTER, 280, x_weighted_length).can == X_CAPABILITIES
    assert Target(NetworkName.MASTODON, 500, mastodon_length).can == MASTODON_CAPABILITIES
    warned = post("the text", NetworkName.MASTODON, spoiler_text="spiders")
    with_cw = replace(X, capabilities=replace(X_CAPABILITIES, content_warnings=True))
    rendered = compose(warned, with_cw)
    assert (rendered.parts, rendered.spoiler_text) == (["the text"], "spiders")
    one_cashtag = replace(MASTODON, capabilities=replace(MASTODON_CAPABILITIES, max_cashtags=1))
    rendered = compose(post("$AAPL and $MSFT"), one_cashtag)
    assert rendered.parts == [f"$AAPL and ${WORD_JOINER}MSFT"]
    assert rendered.fallbacks == [
        ("cashtags", "Mastodon takes one cashtag per post: $MSFT left as text")
    ]
    assert compose(post("$AAPL and $MSFT"), MASTODON).parts == ["$AAPL and $MSFT"]
    on_x = compose(post("$AAPL and $MSFT", NetworkName.MASTODON), X)
    assert on_x.parts == [f"$AAPL and ${WORD_JOINER}MSFT"]
