"""``birdbridge demo``: the whole bridge between the two sandbox servers, no accounts needed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from birdbridge.config import parse_config
from birdbridge.daemon import Bridge
from birdbridge.sandbox.mastodon import MastodonSandbox
from birdbridge.sandbox.x import XSandbox

LONG_TOOT = (
    "Mastodon lets me write much longer posts than X does, so this one will not fit in a "
    "single tweet. birdbridge splits it at sentence boundaries into a thread of parts that "
    "each fit X's 280 weighted characters, and every part replies to the one before it. "
    "Links such as https://docs.joinmastodon.org/api/ count as 23 characters on both sides. "
    "Nothing is cut in the middle of a word."
)


def demo_config(x_url: str, x_user: object, mastodon_url: str, mastodon_token: str,
                database: Path) -> str:
    u = x_user
    return f"""
[bridge]
database_url = "sqlite:///{database}"
poll_interval = 60

[[links]]
name = "alice"
direction = "both"

[links.twitter]
api_base_url = "{x_url}"
consumer_key = "{u.consumer_key}"
consumer_secret = "{u.consumer_secret}"
access_token = "{u.access_token}"
access_token_secret = "{u.access_token_secret}"

[links.mastodon]
api_base_url = "{mastodon_url}"
access_token = "{mastodon_token}"
"""  # type: ignore[attr-defined]


def run_demo(console: Console, extra_posts: int = 0) -> int:
    with (XSandbox() as x, MastodonSandbox() as masto,
          tempfile.TemporaryDirectory(prefix="birdbridge-demo-") as tmp):
        x_alice = x.create_user("alice", "Alice")
        m_alice = masto.create_user("alice", "Alice")
        masto.create_user("bob", "Bob")
        console.print(f"sandbox X at {x.url}, sandbox Mastodon at {masto.url}; "
                      f"database {tmp}/demo.db", highlight=False)
        x.create_post("alice", "An old tweet from before the bridge started.")
        masto.create_post("alice", "An old toot from before the bridge started.")
        text = demo_config(x.url, x_alice, masto.url, m_alice.access_token, Path(tmp) / "demo.db")
        bridge = Bridge(parse_config(text, "<demo>"))

        bridge.run_once()  # first poll: cursors start from now, the old posts stay put
        _write_samples(x, masto, extra_posts)
        for _ in range(3):  # a few cycles: the thread arrives in order and nothing echoes back
            bridge.run_once()

        _show(console, x, masto, bridge)
        ok = _verify(console, x, masto, extra_posts)
        bridge.store.close()
        return 0 if ok else 1


def _write_samples(x: XSandbox, masto: MastodonSandbox, extra: int) -> None:
    x.create_post("alice", "Hello from X! This tweet goes to Mastodon. #birdbridge")
    first = x.create_post("alice", "A thread on X, part 1: threads stay threads.")
    second = x.create_post("alice", "Part 2 replies to part 1.", in_reply_to_id=first["id"])
    x.create_post("alice", "Part 3 closes the thread.", in_reply_to_id=second["id"])
    masto.create_post("alice", "Hello from Mastodon! This toot goes to X.")
    masto.create_post("alice", LONG_TOOT)
    masto.create_post("alice", "Followers only: this never leaves Mastodon.", visibility="private")
    bob_post = masto.create_post("bob", "Bob asks a question.")
    masto.create_post("alice", "@bob a reply to someone else: not mirrored by default.",
                      in_reply_to_id=bob_post["id"])
    for n in range(extra):
        x.create_post("alice", f"Extra tweet number {n + 1}.")
        masto.create_post("alice", f"Extra toot number {n + 1}.")


def _show(console: Console, x: XSandbox, masto: MastodonSandbox, bridge: Bridge) -> None:
    table = Table(title="what birdbridge mirrored")
    for column in ("from", "source post", "to", "mirror post(s)", "text"):
        table.add_column(column, overflow="fold")
    rows = bridge.store.mirrors()
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        grouped.setdefault((row.source_network, row.source_id, row.target_network), []).append(
            row.target_id)
    for (source, source_id, target), targets in grouped.items():
        post = (x.get_post(source_id) if source == "twitter" else masto.get_post(source_id)) or {}
        text = str(post.get("text") or post.get("content") or "")[:60]
        table.add_row(source, source_id, target, " -> ".join(targets), text)
    console.print(table)


def _verify(console: Console, x: XSandbox, masto: MastodonSandbox, extra: int) -> bool:
    """Check the demo's own outcome, so `birdbridge demo` doubles as a smoke test."""
    x_posts = x.posts("alice")
    toots = masto.posts("alice")
    mirrored_to_x = [p for p in x_posts if "Mastodon" in p["text"] or "thread of parts" in p["text"]
                     or "Nothing is cut" in p["text"]]
    expectations = {
        "tweets on X (2 old/new + 3-part thread + 1 toot + split long toot + extras)":
            (len(x_posts), 1 + 1 + 3 + 1 + _parts_on_x() + 2 * extra),
        "toots on Mastodon (old + 1 + long + private + reply + 4 from X + extras)":
            (len(toots), 1 + 1 + 1 + 1 + 1 + 4 + 2 * extra),
    }
    ok = True
    for label, (got, want) in expectations.items():
        mark = "[green]ok[/green]" if got == want else "[red]MISMATCH[/red]"
        ok &= got == want
        console.print(f"{mark} {label}: {got} (expected {want})", highlight=False)
    private_leaked = any("Followers only" in p["text"] for p in x_posts)
    reply_leaked = any("someone else" in p["text"] for p in x_posts)
    console.print(f"{'[red]LEAK[/red]' if private_leaked else '[green]ok[/green]'} followers-only "
                  "toot stayed on Mastodon")
    console.print(f"{'[red]LEAK[/red]' if reply_leaked else '[green]ok[/green]'} reply to "
                  "another account was not mirrored")
    del mirrored_to_x
    return ok and not private_leaked and not reply_leaked


def _parts_on_x() -> int:
    from birdbridge.render.length import x_weighted_length
    from birdbridge.render.split import split_text

    return len(split_text(LONG_TOOT, 280, x_weighted_length))
