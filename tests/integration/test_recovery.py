"""Crash recovery adopts only what birdbridge sent, and the poll's in-flight guard holds posts
back instead of dropping them (issue 10, item 7). Real sandboxes, real clients, both stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO

from PIL import Image

from birdbridge.store import HELD, DeliveryStatus
from tests.conftest import Rig
from tests.integration.test_engine import toot_texts


def jpeg(colour: str) -> bytes:
    out = BytesIO()
    Image.new("RGB", (40, 30), colour).save(out, "JPEG")
    return out.getvalue()


def photo(colour: str = "red") -> dict[str, object]:
    return {"type": "photo", "data": jpeg(colour)}


def mirror_ids(rig: Rig, network: str) -> set[str]:
    return {m.target_id for m in rig.store.mirrors() if m.target_network == network}


def test_a_photo_only_post_is_never_adopted_from_other_photo_only_posts(rig: Rig) -> None:
    """The publish of a picture-only toot was lost before X committed it. Picture-only
    tweets the user wrote (no text either) are not it: one is older than the attempt, one
    has two pictures, one answers another tweet. The picture goes out, once."""
    engine = rig.engine("mastodon-to-twitter")
    engine.cycle()
    earlier = rig.tweet("", media=[photo()], created_at=datetime.now(UTC) - timedelta(minutes=3))
    rig.toot("", media=[{"type": "image", "data": jpeg("blue")}])
    rig.x.add_fault(kind="drop", method="POST", path=r"^/2/tweets$")
    engine.cycle()
    [delivery] = rig.store.deliveries()
    assert delivery.status == DeliveryStatus.PUBLISHING  # the outcome is unknown
    two = rig.tweet("", media=[photo("green"), photo("white")])
    answer = rig.tweet("", media=[photo("black")], in_reply_to_id=earlier["id"])
    rig.clock.advance(minutes=2)  # the retry is due
    report = engine.cycle()
    assert report.delivered.adopted == 0 and report.delivered.done == 1
    [mirrored] = mirror_ids(rig, "twitter")
    assert mirrored not in {earlier["id"], two["id"], answer["id"]}
    assert len(rig.tweets()) == 4


def test_a_status_written_with_another_app_is_never_adopted(rig: Rig) -> None:
    """Mastodon shows the owner which app wrote each status: the same words typed on the web
    during the lost publish are the user's, not birdbridge's."""
    engine = rig.engine("twitter-to-mastodon")
    engine.cycle()
    rig.tweet("good morning")
    rig.masto.add_fault(kind="drop", method="POST", path=r"^/api/v1/statuses$", times=3)
    engine.cycle()
    typed = rig.toot("good morning")  # the sandbox's web UI: application "Web"
    rig.clock.advance(minutes=2)
    report = engine.cycle()
    assert report.delivered.adopted == 0 and report.delivered.done == 1
    [mirrored] = mirror_ids(rig, "mastodon")
    assert mirrored != typed["id"]
    assert toot_texts(rig) == ["good morning", "good morning"]


def test_the_in_flight_guard_holds_our_post_until_recovery_records_it(rig: Rig) -> None:
    """X committed the mirror but the reply was lost; the next poll of X reads that tweet
    while its delivery is still `publishing` (its retry not due yet). The guard holds it (not
    mirrored back, not dropped); once recovery records it as our mirror, it is skipped."""
    engine = rig.engine("both")
    engine.cycle()
    rig.toot("in flight")
    rig.x.add_fault(kind="drop_after_commit", method="POST", path=r"^/2/tweets$")
    engine.cycle()  # polls Mastodon, then the publish: committed, the reply lost
    engine.cycle()  # the retry is not due yet, so the guard (not recovery) meets the tweet
    [tweet] = rig.tweets()
    outgoing, held = rig.store.deliveries()
    assert outgoing.status == DeliveryStatus.PUBLISHING
    assert (held.source_network, held.source_id) == ("twitter", tweet["id"])
    assert held.phase == HELD and held.status == DeliveryStatus.PENDING
    assert "held" in (held.last_error or "")  # said in `birdbridge status` meanwhile
    assert len(rig.toots()) == 1  # nothing came back
    rig.clock.advance(minutes=2)
    report = engine.cycle()
    assert report.delivered.adopted == 1
    outgoing, held = rig.store.deliveries()
    assert outgoing.status == DeliveryStatus.DONE
    assert held.status == DeliveryStatus.SKIPPED
    assert "published by birdbridge" in (held.last_error or "")
    assert toot_texts(rig) == ["in flight"]


def test_the_in_flight_guard_does_not_swallow_a_native_post_with_the_same_text(
    rig: Rig,
) -> None:
    """While the mirror of a tweet is in flight to Mastodon, the user toots the same words on
    the web. The guard holds that toot; recovery does not adopt it (another app wrote it);
    once the mirror is published, the held toot is treated as the user's own post."""
    engine = rig.engine("both")
    engine.cycle()
    rig.tweet("same words")
    rig.masto.add_fault(kind="drop", method="POST", path=r"^/api/v1/statuses$", times=3)
    engine.cycle()
    typed = rig.toot("same words")
    engine.cycle()  # the poll of Mastodon reads the typed toot while the mirror is in flight
    held = next(d for d in rig.store.deliveries() if d.source_id == typed["id"])
    assert held.phase == HELD and held.status == DeliveryStatus.PENDING
    rig.clock.advance(minutes=2)
    engine.cycle()
    held = next(d for d in rig.store.deliveries() if d.source_id == typed["id"])
    assert held.phase is None
    assert held.status != DeliveryStatus.SKIPPED, held.last_error
    assert "published by birdbridge" not in (held.last_error or "")
    assert typed["id"] not in mirror_ids(rig, "mastodon")
    assert toot_texts(rig) == ["same words", "same words"]
