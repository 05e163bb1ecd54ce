"""The link's policy over real HTTP: deletions, edits, reposts, quotes, polls and filters,
between the two sandbox servers with the real client libraries."""

from __future__ import annotations

from mastodon import Mastodon

from birdbridge.render.entities import WORD_JOINER
from tests.conftest import Rig

RECHECK = 1000  # seconds: past the default recheck_interval (900)


def mastodon_client(rig: Rig) -> Mastodon:
    return Mastodon(access_token=rig.m_user.access_token, api_base_url=rig.masto.url)


def started(rig: Rig, direction: str = "both", **kwargs: object):  # type: ignore[no-untyped-def]
    engine = rig.engine(direction, **kwargs)
    engine.cycle()  # the first poll only sets the cursors
    return engine


def test_a_deleted_toot_deletes_every_part_of_its_mirror(rig: Rig) -> None:
    engine = started(rig)
    long_text = " ".join(f"word{i}" for i in range(60))  # two tweets
    toot = rig.toot(long_text)
    engine.cycle()
    assert len(rig.tweets()) == 2
    rig.masto.delete_post(str(toot["id"]))
    engine.cycle()  # not due yet: the re-check runs every recheck_interval
    assert len(rig.tweets()) == 2
    rig.clock.advance(seconds=RECHECK)
    engine.cycle()
    assert rig.tweets() == []
    mirrors = rig.store.mirrors("alice")
    assert len(mirrors) == 2 and all(m.deleted_at is not None for m in mirrors)


def test_a_deleted_tweet_deletes_its_mirror_when_the_one_way_link_asks(rig: Rig) -> None:
    kept = started(rig, "twitter-to-mastodon", name="kept")
    tweet = rig.tweet("first")
    kept.cycle()
    assert [t["content"] for t in rig.toots()] == ["<p>first</p>"]
    rig.x.delete_post(tweet["id"])
    rig.clock.advance(seconds=RECHECK)
    kept.cycle()
    assert len(rig.toots()) == 1  # one-way links keep mirrors by default (an archive)

    deleting = started(rig, "twitter-to-mastodon", name="deleting", policy={"deletes": True})
    second = rig.tweet("second")
    deleting.cycle()
    assert len(rig.toots()) == 2
    rig.x.delete_post(second["id"])
    rig.clock.advance(seconds=RECHECK)
    deleting.cycle()
    assert [t["content"] for t in rig.toots()] == ["<p>first</p>"]


def test_an_edited_toot_without_x_premium_leaves_the_mirror_and_says_so(rig: Rig) -> None:
    engine = started(rig, "mastodon-to-twitter")
    toot = rig.toot("tpyo")
    engine.cycle()
    mastodon_client(rig).status_update(toot["id"], status="typo")
    rig.clock.advance(seconds=RECHECK)
    report = engine.cycle()
    assert [t["text"] for t in rig.tweets()] == ["tpyo"]
    assert any("stays as it was" in f for f in report.delivered.fallbacks)


def test_edits_repost_replaces_the_mirror_when_x_refuses_the_edit(rig: Rig) -> None:
    engine = started(rig, "mastodon-to-twitter", policy={"edits": "repost"})
    toot = rig.toot("tpyo")
    engine.cycle()
    [old] = rig.tweets()
    mastodon_client(rig).status_update(toot["id"], status="typo")
    rig.clock.advance(seconds=RECHECK)
    engine.cycle()
    [new] = rig.tweets()
    assert new["text"] == "typo" and new["id"] != old["id"]
    # The mirror map follows: the old tweet is recorded as deleted, the new one is live.
    live = rig.store.mirror_parts("alice", "mastodon", str(toot["id"]), "twitter")
    assert [m.target_id for m in live] == [new["id"]]


def test_edits_repost_interrupted_after_the_deletion_still_posts_the_new_version(
    rig: Rig,
) -> None:
    """The mirror is deleted, then posting the new version meets a 503: the new version is
    owed, and the next attempt posts it (once), never "nothing to edit"."""
    engine = started(rig, "mastodon-to-twitter", policy={"edits": "repost"})
    toot = rig.toot("tpyo")
    engine.cycle()
    mastodon_client(rig).status_update(toot["id"], status="typo")
    # the first POST /2/tweets is the edit X refuses (no Premium); the second, the new version
    rig.x.add_fault(kind="status", status=503, method="POST", path=r"^/2/tweets$", skip=1, times=1)
    rig.clock.advance(seconds=RECHECK)
    engine.cycle()
    assert rig.tweets() == []  # the old one is gone, the new one not there yet
    rig.clock.advance(minutes=10)
    report = engine.cycle()
    assert [t["text"] for t in rig.tweets()] == ["typo"]
    assert report.delivered.skipped == 0
    edit = [d for d in rig.store.deliveries() if d.kind == "edit"]
    assert [d.status for d in edit] == ["done"]


def test_a_boost_of_someone_else_follows_the_reposts_key(rig: Rig) -> None:
    bob = rig.masto.create_user("bob", "Bob")
    original = rig.masto.create_post(bob.username, "worth reading")
    skipping = started(rig, "mastodon-to-twitter", name="skip")
    rig.toot("", reblog_of=str(original["id"]))
    skipping.cycle()
    assert rig.tweets() == []
    texting = started(rig, "mastodon-to-twitter", name="text", policy={"reposts": "text"})
    second = rig.masto.create_post(bob.username, "worth reading")
    rig.toot("", reblog_of=str(second["id"]))
    texting.cycle()
    [tweet] = rig.tweets()
    assert tweet["text"] == f"RT @bob@{rig.masto.domain}: worth reading"


def test_a_quote_of_ones_own_mirrored_tweet_links_to_the_mirror(rig: Rig) -> None:
    engine = started(rig, "twitter-to-mastodon")
    first = rig.tweet("original thought")
    engine.cycle()
    [mirror] = rig.toots()
    rig.tweet(f"still true https://x.com/alice/status/{first['id']}", quote_id=first["id"])
    engine.cycle()
    quote = next(t for t in rig.toots() if t["id"] != mirror["id"])
    # The Mastodon sandbox is 4.3 by default (no native quotes): text plus the mirror's URL.
    assert mirror["url"] in quote["content"] and "x.com" not in quote["content"]


def test_include_and_exclude_tags(rig: Rig) -> None:
    engine = started(
        rig, "mastodon-to-twitter", policy={"include_tags": ["xp"], "exclude_tags": ["noxp"]}
    )
    rig.toot("to both networks #xp")
    rig.toot("only here")
    rig.toot("never #xp #noxp")
    report = engine.cycle()
    assert [t["text"] for t in rig.tweets()] == ["to both networks"]
    reasons = [reason for _, reason in report.polls["mastodon"].skipped]
    assert any("include_tags" in r for r in reasons) and any("exclude_tags" in r for r in reasons)


def test_the_hourly_cap_skips_the_excess_and_says_why(rig: Rig) -> None:
    engine = started(rig, "mastodon-to-twitter", policy={"max_per_hour": 2})
    for i in range(4):
        rig.toot(f"post {i}")
    report = engine.cycle()
    assert sorted(t["text"] for t in rig.tweets()) == ["post 0", "post 1"]
    assert sum("max_per_hour" in r for _, r in report.polls["mastodon"].skipped) == 2


def test_mentions_link_policy_over_the_wire(rig: Rig) -> None:
    rig.x.create_user("carol")
    engine = started(rig, "twitter-to-mastodon", policy={"mentions": "link"})
    rig.tweet("thanks @carol")
    engine.cycle()
    [toot] = rig.toots()
    assert "https://x.com/carol" in toot["content"] and WORD_JOINER not in toot["content"]
    assert toot["mentions"] == []


def premium_rig(rig: Rig) -> Rig:
    """The same servers and store, with an X Premium account (X edits need it)."""
    return Rig(
        x=rig.x,
        masto=rig.masto,
        x_user=rig.x.create_user("pat", "Pat", premium=True),
        m_user=rig.m_user,
        store=rig.store,
        database_url=rig.database_url,
        clock=rig.clock,
    )


def test_an_edited_toot_edits_its_x_mirror_for_x_premium(rig: Rig) -> None:
    pat = premium_rig(rig)
    engine = started(pat, "mastodon-to-twitter")
    toot = pat.toot("tpyo")
    engine.cycle()
    [old] = pat.tweets()
    mastodon_client(pat).status_update(toot["id"], status="typo")
    pat.clock.advance(seconds=RECHECK)
    engine.cycle()
    [new] = pat.tweets()  # X shows the newest version only, at a new id
    assert new["text"] == "typo" and new["id"] != old["id"]
    assert new["edit_history_tweet_ids"] == [old["id"], new["id"]]
    [part] = pat.store.mirror_parts("alice", "mastodon", str(toot["id"]), "twitter")
    assert part.target_id == new["id"]
    engine.cycle()  # our own new version is not mirrored back, nor taken for a user's edit
    assert [t["content"] for t in pat.toots()] == ["<p>typo</p>"]


def test_an_edited_tweet_edits_its_mastodon_mirror_in_place(rig: Rig) -> None:
    engine = started(rig, "twitter-to-mastodon")
    tweet = rig.tweet("first versoin")
    engine.cycle()
    [toot] = rig.toots()
    rig.x.edit_post(tweet["id"], "first version")
    engine.cycle()
    [edited] = rig.toots()
    assert edited["id"] == toot["id"] and edited["content"] == "<p>first version</p>"
    assert edited["edited_at"] is not None


def test_a_boost_of_ones_own_mirrored_toot_is_a_native_retweet(rig: Rig) -> None:
    engine = started(rig, "both")
    toot = rig.toot("worth boosting")
    engine.cycle()
    [mirror] = rig.tweets()
    rig.toot("", reblog_of=str(toot["id"]))
    engine.cycle()
    retweets = [t for t in rig.tweets() if t["id"] != mirror["id"]]
    assert len(retweets) == 1
    assert retweets[0]["referenced_tweets"] == [{"type": "retweeted", "id": mirror["id"]}]
    engine.cycle()  # the retweet is ours: not boosted back on Mastodon
    assert len([t for t in rig.toots() if t.get("reblog")]) == 1


def test_a_retweet_of_ones_own_mirrored_tweet_is_a_native_boost(rig: Rig) -> None:
    engine = started(rig, "twitter-to-mastodon")
    tweet = rig.tweet("worth retweeting")
    engine.cycle()
    [mirror] = rig.toots()
    rig.tweet("", retweet_of=tweet["id"])
    engine.cycle()
    boosts = [t for t in rig.toots() if t.get("reblog")]
    assert [b["reblog"]["id"] for b in boosts] == [mirror["id"]]


def test_a_quote_of_ones_own_tweet_is_a_native_quote_on_mastodon_4_5(rig: Rig) -> None:
    rig.masto.set_version("4.5.0")
    engine = started(rig, "twitter-to-mastodon")
    first = rig.tweet("original thought")
    engine.cycle()
    [mirror] = rig.toots()
    rig.tweet(f"still true https://x.com/alice/status/{first['id']}", quote_id=first["id"])
    engine.cycle()
    quote = next(t for t in rig.toots() if t["id"] != mirror["id"])
    assert quote["quote"]["quoted_status"]["id"] == mirror["id"]
    assert "x.com" not in quote["content"] and "still true" in quote["content"]


def test_polls_map_natively_or_fall_back_to_text(rig: Rig) -> None:
    engine = started(rig, "both")
    rig.tweet("Tea or coffee?", poll={"options": ["Tea", "Coffee"], "duration_minutes": 60})
    rig.toot("Pick any", poll={"options": ["a", "b"], "expires_in": 3600, "multiple": True})
    report = engine.cycle()
    toot = next(t for t in rig.toots() if "Tea or coffee" in t["content"])
    assert [o["title"] for o in toot["poll"]["options"]] == ["Tea", "Coffee"]
    tweet = next(t for t in rig.tweets() if t["text"].startswith("Pick any"))
    assert tweet["text"] == "Pick any\n\nPoll (several choices):\n○ a\n○ b"
    assert any("poll" in f for f in report.delivered.fallbacks)


def test_an_edited_tweet_with_a_picture_keeps_the_picture_on_mastodon(rig: Rig) -> None:
    from tests.integration.test_media import picture

    engine = started(rig, "twitter-to-mastodon")
    tweet = rig.tweet("a red sqaure", media=[{"type": "photo", "data": picture("PNG")}])
    engine.cycle()
    [before] = rig.toots()
    assert len(before["media_attachments"]) == 1
    rig.x.edit_post(tweet["id"], "a red square")
    engine.cycle()
    [after] = rig.toots()
    assert after["content"] == "<p>a red square</p>"
    assert [m["id"] for m in after["media_attachments"]] == [
        m["id"] for m in before["media_attachments"]
    ]


def test_deleting_a_post_that_was_never_mirrored_touches_nothing(rig: Rig) -> None:
    policy = {"deletes": True, "exclude_tags": ["noxp"]}
    engine = started(rig, "twitter-to-mastodon", policy=policy)
    skipped = rig.tweet("not this #noxp")
    rig.tweet("this one")
    engine.cycle()
    assert [t["content"] for t in rig.toots()] == ["<p>this one</p>"]
    rig.x.delete_post(skipped["id"])
    rig.clock.advance(seconds=RECHECK)
    report = engine.cycle()
    assert [t["content"] for t in rig.toots()] == ["<p>this one</p>"]
    assert report.rechecks["twitter"].ran and report.rechecks["twitter"].deleted == []
