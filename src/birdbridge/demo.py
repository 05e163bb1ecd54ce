"""``birdbridge demo``: the whole bridge between the two sandbox servers, no accounts needed."""

from __future__ import annotations

import io
import shutil
import socket
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
from PIL import Image, ImageDraw
from rich.console import Console
from rich.text import Text

from birdbridge.config import Config, parse_config
from birdbridge.daemon import Bridge
from birdbridge.login.flow import Interaction
from birdbridge.login.mastodon import sign_in_mastodon
from birdbridge.login.storing import save_sign_in
from birdbridge.login.x import sign_in_x_oauth2
from birdbridge.media.progress import NO_PROGRESS, Progress
from birdbridge.models import dollars
from birdbridge.networks.x_prices import PriceClass
from birdbridge.render.html import html_to_text
from birdbridge.sandbox.common.approve import approve
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox
from birdbridge.secretbox import secret_box
from birdbridge.store import Store

LONG_TOOT = (
    "Mastodon lets me write much longer posts than X does, so this one will not fit in a "
    "single tweet. birdbridge splits it at sentence boundaries into a thread of parts that "
    "each fit X's 280 weighted characters, and every part replies to the one before it. "
    "Links such as https://docs.joinmastodon.org/api/ count as 23 characters on both sides. "
    "Nothing is cut in the middle of a word."
)


def demo_config(
    x_url: str, client_id: str, redirect_uri: str, mastodon_url: str, database: Path
) -> str:
    """The demo's config: like one `birdbridge init` writes, no tokens in it (the demo signs
    both accounts in, as `birdbridge login` does)."""
    return f"""
[bridge]
database_url = "sqlite:///{database}"
poll_interval = 60

[[links]]
name = "alice"
direction = "both"

[links.twitter]
api_base_url = "{x_url}"
client_id = "{client_id}"
redirect_uri = "{redirect_uri}"

[links.mastodon]
api_base_url = "{mastodon_url}"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _approve_in_browser(url: str) -> None:
    """What a person does in the browser: press "Authorize", and the browser follows the
    redirect back to the waiting `login`."""
    answer = approve(url)
    if answer.location is not None:
        httpx.get(answer.location, timeout=10)


def _sign_in(console: Console, x: XSandbox, masto: MastodonSandbox, config: Config) -> Store:
    """Both sign-ins, approved by the demo itself; the store they are kept in."""
    link = config.links[0]
    store = Store.open(config.bridge.database_url)
    box = secret_box(config.bridge.database_url, create=True)
    interaction = Interaction(
        show_url=lambda url: None, ask=lambda prompt: "", approve=_approve_in_browser, timeout=30
    )
    signed_x = sign_in_x_oauth2(
        link.twitter, client_id=x.client_id, client_secret=x.client_secret, interaction=interaction
    )
    save_sign_in(store, box, link.name, signed_x)
    signed_m = sign_in_mastodon(link.mastodon.api_base_url, target=True, interaction=interaction)
    save_sign_in(store, box, link.name, signed_m)
    console.print(
        f"signed in (as `birdbridge login` does, approved by the demo): X {signed_x.handle} with "
        f"OAuth 2.0 + PKCE, Mastodon {signed_m.handle}; tokens stored encrypted in the database",
        highlight=False,
        markup=False,
    )
    return store


def run_demo(
    console: Console,
    extra_posts: int = 0,
    *,
    keep: bool = False,
    progress: Progress = NO_PROGRESS,
) -> int:
    """The demo; 0 when its own checks pass. With ``keep`` its database and config stay
    in a folder it names, else they are deleted with it."""
    folder = Path(tempfile.mkdtemp(prefix="birdbridge-demo-"))
    try:
        return _run(console, folder, extra_posts, keep, progress)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def _run(console: Console, folder: Path, extra_posts: int, keep: bool, progress: Progress) -> int:
    with XSandbox() as x, MastodonSandbox() as masto:
        x.create_user("alice", "Alice")
        masto.create_user("alice", "Alice")
        masto.create_user("bob", "Bob")
        database = folder / "demo.db"
        console.print(
            f"sandbox X at {x.url}, sandbox Mastodon at {masto.url}; database: "
            + ("kept (see the end)" if keep else "a temporary file, deleted at the end"),
            highlight=False,
            markup=False,
        )
        x.create_post("alice", "An old tweet from before the bridge started.")
        masto.create_post("alice", "An old toot from before the bridge started.")
        redirect_uri = f"http://127.0.0.1:{_free_port()}/callback"
        x.register_redirect_uri(redirect_uri)
        text = demo_config(x.url, x.client_id, redirect_uri, masto.url, database)
        config = parse_config(text, "<demo>")
        store = _sign_in(console, x, masto, config)
        bridge = Bridge(config, store=store, progress=progress)

        bridge.run_once()  # first poll: cursors start from now, the old posts stay put
        _write_samples(x, masto, extra_posts)
        skipped: list[tuple[str, str, str]] = []
        for _ in range(3):  # a few cycles: the thread arrives in order and nothing echoes back
            for report in bridge.run_once():
                for network, poll in report.polls.items():
                    skipped.extend((network, post_id, reason) for post_id, reason in poll.skipped)

        _show(console, x, masto, bridge)
        _show_skipped(console, x, masto, skipped)
        _show_bill(console, bridge.store)
        ok = _verify(console, x, masto, extra_posts)
        bridge.store.close()
    if keep:
        _tell_kept(console, folder, text)
    return 0 if ok else 1


def _tell_kept(console: Console, folder: Path, config_text: str) -> None:
    """Where the kept database is, and a config to look at it with: `status` reads only the
    database (the sandbox servers, and so `once` or `check`, are gone with the demo)."""
    config = folder / "birdbridge.toml"
    config.write_text(config_text, encoding="utf-8")
    config.chmod(0o600)  # it holds the sandbox's tokens: never mind, but no warning either
    console.print(f"database kept: {folder / 'demo.db'}", highlight=False, markup=False)
    console.print(
        f"look at it: birdbridge status -c {config}   (or: sqlite3 {folder / 'demo.db'})",
        highlight=False,
        markup=False,
    )


def _write_samples(x: XSandbox, masto: MastodonSandbox, extra: int) -> None:
    x.create_post("alice", "Hello from X! This tweet goes to Mastodon. #birdbridge")
    first = x.create_post("alice", "A thread on X, part 1: threads stay threads.")
    second = x.create_post("alice", "Part 2 replies to part 1.", in_reply_to_id=first["id"])
    x.create_post("alice", "Part 3 closes the thread.", in_reply_to_id=second["id"])
    x.create_post(
        "alice",
        "A picture from X travels with its alt text.",
        media=[{"type": "photo", "data": _sunrise(), "alt_text": SUNRISE_ALT}],
    )
    masto.create_post("alice", "Hello from Mastodon! This toot goes to X.")
    masto.create_post(
        "alice",
        "Two pictures from Mastodon.",
        media=[
            {"type": "image", "data": _sunrise("PNG"), "description": "A sunrise, as a PNG"},
            {"type": "image", "data": _sunrise("WEBP"), "description": "The same, as WebP"},
        ],
    )
    masto.create_post("alice", LONG_TOOT)
    masto.create_post("alice", "Followers only: this never leaves Mastodon.", visibility="private")
    bob_post = masto.create_post("bob", "Bob asks a question.")
    masto.create_post(
        "alice",
        "@bob a reply to someone else: not mirrored by default.",
        in_reply_to_id=bob_post["id"],
    )
    for n in range(extra):
        x.create_post("alice", f"Extra tweet number {n + 1}.")
        masto.create_post("alice", f"Extra toot number {n + 1}.")


SUNRISE_ALT = "A sunrise drawn in three stripes: dark blue sky, orange sun, green field"


def _sunrise(fmt: str = "JPEG") -> bytes:
    """A small picture made on the spot (Pillow): no file to ship."""
    image = Image.new("RGB", (240, 160), "midnightblue")
    draw = ImageDraw.Draw(image)
    draw.ellipse((90, 50, 150, 110), fill="orange")
    draw.rectangle((0, 110, 240, 160), fill="forestgreen")
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def _media_of(x: XSandbox, masto: MastodonSandbox, network: str, post_id: str) -> list[str]:
    """What a post carries, as "type: alt text" lines."""
    if network == "twitter":
        keys = ((x.get_post(post_id) or {}).get("attachments") or {}).get("media_keys") or []
        items = [x.media(key) or {} for key in keys]
        return [f"{m.get('type')}: {m.get('alt_text') or '(no alt text)'}" for m in items]
    attachments = (masto.get_post(post_id) or {}).get("media_attachments") or []
    return [f"{a['type']}: {a.get('description') or '(no alt text)'}" for a in attachments]


def _text_of(x: XSandbox, masto: MastodonSandbox, network: str, post_id: str) -> str:
    if network == "twitter":
        return str((x.get_post(post_id) or {}).get("text", ""))
    return html_to_text(str((masto.get_post(post_id) or {}).get("content", "")))


LABELS = {"twitter": "X", "mastodon": "Mastodon"}


def _show(console: Console, x: XSandbox, masto: MastodonSandbox, bridge: Bridge) -> None:
    """Each source post and the text of its mirror, part by part: a post too long for the
    target shows how it was split."""
    console.print(Text("what birdbridge mirrored", style="bold"))
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for row in bridge.store.mirrors():
        key = (row.source_network, row.source_id, row.target_network)
        grouped.setdefault(key, []).append(row.target_id)
    for (source, source_id, target), targets in grouped.items():
        parent = _parent_of(x, masto, source, source_id)
        thread = f" (reply to {parent})" if parent else ""
        split = f", a thread of {len(targets)} parts" if len(targets) > 1 else ""
        heading = f"{LABELS[source]} {source_id}{thread} -> {LABELS[target]} "
        console.print(Text(heading + ", ".join(targets) + split, style="bold"), soft_wrap=True)
        _line(console, LABELS[source], _text_of(x, masto, source, source_id))
        for number, target_id in enumerate(targets, start=1):
            part = f" {number}/{len(targets)}" if len(targets) > 1 else ""
            _line(console, LABELS[target] + part, _text_of(x, masto, target, target_id))
            for media in _media_of(x, masto, target, target_id):
                console.print(Text.assemble("    + ", media), soft_wrap=True)


def _show_bill(console: Console, store: Store) -> None:
    """What this run would have cost on the real X, by price class (X's rates of 2026)."""
    lines = store.x_spend(datetime.now(UTC).date().replace(day=1)).get("alice", {})
    total = sum(line.micros for line in lines.values())
    console.print(Text(f"what it would cost on X: {dollars(total)}", style="bold"))
    for name, line in sorted(lines.items(), key=lambda item: -item[1].micros):
        label = PriceClass(name).label
        console.print(f"  {dollars(line.micros):>7}  {line.units} {label}", highlight=False)


def _line(console: Console, label: str, text: str) -> None:
    # Text from the networks is shown as it is (never read as markup), one line each (soft
    # wrap: a piped output keeps each part on one line, a terminal wraps it).
    flat = " ".join(text.split())
    console.print(Text.assemble("  ", (f"{label}:", "dim"), " ", flat), soft_wrap=True)


def _parent_of(x: XSandbox, masto: MastodonSandbox, network: str, post_id: str) -> str | None:
    if network == "twitter":
        refs = (x.get_post(post_id) or {}).get("referenced_tweets") or []
        return next((str(r["id"]) for r in refs if r.get("type") == "replied_to"), None)
    parent = (masto.get_post(post_id) or {}).get("in_reply_to_id")
    return str(parent) if parent else None


def _show_skipped(
    console: Console, x: XSandbox, masto: MastodonSandbox, skipped: list[tuple[str, str, str]]
) -> None:
    console.print(Text("not mirrored, and why", style="bold"))
    echoes = 0
    for network, post_id, reason in skipped:
        if reason.startswith("published by birdbridge"):
            echoes += 1  # our own mirrors, seen when polling the other side
            continue
        text = _text_of(x, masto, network, post_id)[:50]
        console.print(Text(f"  {LABELS[network]} {post_id} {text!r}: {reason}"), soft_wrap=True)
    console.print(
        f"  {echoes} posts recognised as birdbridge's own mirrors: not sent back (no echo)",
        highlight=False,
    )


def _verify(console: Console, x: XSandbox, masto: MastodonSandbox, extra: int) -> bool:
    """Check the demo's own outcome, so `birdbridge demo` doubles as a smoke test."""
    x_posts = x.posts("alice")
    toots = masto.posts("alice")
    parts = _parts_on_x()
    expectations = {
        "tweets on X: 1 old, 1 single, a 3-part thread, 1 picture, 2 toots, the long toot "
        f"as {parts} parts" + (f", {extra} extra tweets and toots" if extra else ""): (
            len(x_posts),
            1 + 1 + 3 + 1 + 2 + parts + 2 * extra,
        ),
        "toots on Mastodon: 1 old, 1 single, 1 with pictures, the long one, the private one, "
        "the reply, 5 from X" + (f", {extra} extra toots and tweets" if extra else ""): (
            len(toots),
            1 + 1 + 1 + 1 + 1 + 1 + 5 + 2 * extra,
        ),
        "alt text of the X picture on its Mastodon mirror": (
            sum(
                SUNRISE_ALT in line
                for t in toots
                for line in _media_of(x, masto, "mastodon", str(t["id"]))
            ),
            1,
        ),
        "pictures of the toot on its X mirror, with their alt text": (
            sum(
                "A sunrise, as a PNG" in line or "The same, as WebP" in line
                for t in x_posts
                for line in _media_of(x, masto, "twitter", str(t["id"]))
            ),
            2,
        ),
    }
    ok = True
    for label, (got, want) in expectations.items():
        ok &= got == want
        console.print(_mark(got == want, "MISMATCH"), f"{label}: {got} (expected {want})")
    private_leaked = any("Followers only" in p["text"] for p in x_posts)
    reply_leaked = any("someone else" in p["text"] for p in x_posts)
    console.print(_mark(not private_leaked, "LEAK"), "followers-only toot stayed on Mastodon")
    console.print(_mark(not reply_leaked, "LEAK"), "reply to another account was not mirrored")
    return ok and not private_leaked and not reply_leaked


def _mark(good: bool, bad_word: str) -> Text:
    """ "ok" in green, or ``bad_word`` in red: styled as Text, the console reads no markup."""
    return Text("ok", style="green") if good else Text(bad_word, style="red")


def _parts_on_x() -> int:
    from birdbridge.render.length import x_weighted_length
    from birdbridge.render.split import split_text

    return len(split_text(LONG_TOOT, 280, x_weighted_length))
