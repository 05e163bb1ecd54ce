"""The ``birdbridge`` command line."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.text import Text

from birdbridge.config import Config, load_config
from birdbridge.config_checks import permission_warning
from birdbridge.errors import AccountRefused, BirdbridgeError, ConfigError, NetworkError
from birdbridge.redaction import redact, register
from birdbridge.store import DeliveryStatus, Store
from birdbridge.views import explanation_json, print_explanation, when

if TYPE_CHECKING:
    pass

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Keep an X (Twitter) account and a Mastodon account in step.",
    # A traceback must never print local variables: they hold tokens.
    pretty_exceptions_show_locals=False,
)
# Piped output (cron mail, logs, tests) gets wide lines instead of cut-off table cells.
console = Console(width=None if sys.stdout.isatty() else 240)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 240)


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (default: $BIRDBRIDGE_CONFIG or ./birdbridge.toml).",
        show_default=False,
    ),
]


def _load(config_path: Path | None) -> Config:
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None
    register(config.secrets())  # redacted in logs, in what the store keeps, and in output
    source = Path(config.source)
    if source.is_file() and (warning := permission_warning(source)):
        errors.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    return config


def _configure_logging(settings: Config) -> None:
    from birdbridge.logs import configure_logging

    configure_logging(settings.bridge.log_level, settings.bridge.log_format, settings.secrets())


def _open_store(config: Config) -> Store:
    try:
        return Store.open(config.bridge.database_url)
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the bridge until SIGTERM or Ctrl-C."""
    from birdbridge.daemon import Bridge

    settings = _load(config)
    _configure_logging(settings)
    Bridge(settings, _open_store(settings)).run_forever()


@app.command()
def once(config: ConfigOption = None) -> None:
    """Poll and deliver every link once, then exit (for cron). Exit 1 if a link failed."""
    from birdbridge.daemon import Bridge
    from birdbridge.progress import media_bars

    settings = _load(config)
    _configure_logging(settings)
    with media_bars(console) as progress:  # bars on a terminal only
        bridge = Bridge(settings, _open_store(settings), progress=progress)
        reports = bridge.run_once()
    failed = False
    for report in reports:
        d = report.delivered
        polled = ", ".join(f"{n}: {p.seen} new" for n, p in report.polls.items()) or "no poll"
        console.print(
            f"link {report.link}: {polled}; mirrored {d.done}, retrying {d.retried}, "
            f"failed {d.failed}, fallbacks {len(d.fallbacks)}",
            highlight=False,
        )
        for fallback in d.fallbacks:
            console.print(f"  fallback: {fallback}", highlight=False, markup=False)
        for error in report.errors:
            failed = True
            # what an API answered is printed as it is, never read as markup
            errors.print(Text.assemble((f"link {report.link}:", "red"), " ", error))
    bridge.store.close()
    raise typer.Exit(1 if failed else 0)


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and every link's credentials; show each target's limits."""
    from birdbridge.networks.factory import build_adapters

    settings = _load(config)
    store = _open_store(settings)
    console.print(
        f"config {settings.source}: OK ({len(settings.links)} link(s)); database OK",
        highlight=False,
    )
    problems = 0
    for link in settings.links:
        adapters = build_adapters(link, settings.bridge.request_timeout)
        console.print(f"link [bold]{link.name}[/bold] ({link.direction.value})")
        for side, state in store.pauses(link.name).items():
            console.print(
                f"  paused {side} ({state.paused_kind}) until "
                f"{when(state.paused_until)} UTC: {redact(state.paused_reason or '')}",
                highlight=False,
            )
        for network, adapter in adapters.items():
            try:
                account = adapter.account()
                limits = adapter.limits()
                verified = adapter.verify()
            except NetworkError as exc:
                problems += 1
                fix = f". {exc.fix}" if isinstance(exc, AccountRefused) and exc.fix else ""
                errors.print(
                    redact(f"  {network.label}: {exc}{fix}"),
                    style="red",
                    markup=False,
                    highlight=False,
                )
                continue
            lock = " (protected: its posts are never mirrored)" if account.protected else ""
            console.print(
                f"  {network.label}: {account.handle} id {account.id}{lock}; "
                f"max {limits.max_characters} characters per post",
                highlight=False,
                markup=False,
            )
            for fact in verified.facts:
                console.print(f"    ok: {fact}", highlight=False, markup=False)
            for problem in verified.problems:
                problems += 1
                errors.print(f"    problem: {problem}", style="red", markup=False, highlight=False)
    store.close()
    raise typer.Exit(1 if problems else 0)


@app.command()
def status(
    link: Annotated[str | None, typer.Argument(help="Only this link.")] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also the last post seen per side, and every delivery."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (shape below).")] = False,
    config: ConfigOption = None,
) -> None:
    """Each link's sides (running, paused and why, waiting for the first poll),
    the deliveries not mirrored yet or failed, and the fallbacks of the last 7 days.

    \b
    --json prints one object; times are ISO-8601 UTC ("2025-03-04T14:05:00Z"):
      generated_at
      links[]: name, direction, in_config (false: only in the database),
        sides[] (one per network): network ("twitter" or "mastodon"),
          read (the link polls it), state ("running", "paused",
          "waiting_for_first_poll"), last_poll_at, last_post_seen (the
          newest post id read), last_error, last_error_at,
          pause (null or {kind, until, reason}),
          counts {mirrored, waiting, failed, skipped} (posts from this side),
          next_try_at, api_calls_24h {calls, rate_limited}
      queue[] (open and failed deliveries, oldest first): id, link,
        kind ("post", "edit", "delete"), from, source_id, to,
        state ("pending", "held", "publishing", "waiting_to_retry",
        "failed"), state_text, attempts, max_attempts, next_attempt_at,
        last_error, updated_at
      fallbacks[] (last 7 days): as in queue, state also "done" or
        "skipped", and notes[] (one line per fallback taken)
    Absent values are null.
    """
    import json

    from birdbridge.views import read_status, status_json, status_renderables

    settings = _load(config)
    store = _open_store(settings)
    try:
        known = {s.link for s in store.summaries()} | {ln.name for ln in settings.links}
        if link is not None and link not in known:
            errors.print(
                Text(f"no link named {link!r} (links: {', '.join(sorted(known))})"),
                highlight=False,
            )
            raise typer.Exit(1)
        view = read_status(
            store,
            settings.links,
            datetime.now(UTC),
            max_attempts=settings.bridge.max_attempts,
            only=link,
        )
    finally:
        store.close()
    if as_json:
        # plain print: never through Rich, whose wrapping or markup would change the text
        print(json.dumps(status_json(view), ensure_ascii=False, indent=2))
        return
    for renderable in status_renderables(view, verbose=verbose):
        console.print(renderable)


@app.command()
def explain(
    post: Annotated[str, typer.Argument(help="The post's URL (X or Mastodon), or its id.")],
    link: Annotated[str | None, typer.Option("--link", help="Link name.")] = None,
    network: Annotated[
        str | None, typer.Option("--network", help="twitter or mastodon (for a bare id).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show what the bridge does with one post, and why, without posting anything."""
    import json

    from birdbridge.engine import explain as explaining
    from birdbridge.models import NetworkName
    from birdbridge.networks.factory import build_adapters

    settings = _load(config)
    try:
        ref = explaining.parse_ref(post)
        if network is not None:
            ref = explaining.PostRef(NetworkName(network), ref.id, ref.host)
        chosen = explaining.pick_link(settings, ref, link)
    except (ConfigError, ValueError) as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    store = _open_store(settings)
    adapters = build_adapters(chosen, settings.bridge.request_timeout)
    try:
        result = explaining.explain(store, chosen, adapters, ref, datetime.now(UTC))
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except NetworkError as exc:
        errors.print(f"[red]error:[/red] could not read the post: {exc}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        store.close()
    if as_json:
        print(json.dumps(explanation_json(result), ensure_ascii=False, indent=2))
        return
    print_explanation(console, result)


@app.command()
def resume(
    link: Annotated[str | None, typer.Argument(help="Link name (default: every link).")] = None,
    config: ConfigOption = None,
) -> None:
    """Lift pauses (after a rate limit, X's usage cap or refused credentials) at once."""
    settings = _load(config)
    if link is not None:
        settings.link(link)  # a clear error for a name that is not in the config
    store = _open_store(settings)
    lifted = store.resume(link)
    console.print(
        f"lifted {lifted} pause{'' if lifted == 1 else 's'}" + (f" of link {link}" if link else "")
    )
    store.close()


@app.command()
def retry(
    delivery_id: Annotated[int | None, typer.Argument(help="Delivery id (see status).")] = None,
    all_failed: Annotated[bool, typer.Option("--failed", help="Retry every failed one.")] = False,
    config: ConfigOption = None,
) -> None:
    """Put a failed (or skipped) delivery back in the queue."""
    store = _open_store(_load(config))
    if all_failed:
        ids = [d.id for d in store.deliveries(statuses=[DeliveryStatus.FAILED]) if d.id]
    elif delivery_id is not None:
        ids = [delivery_id]
    else:
        errors.print("give a delivery id or --failed")
        raise typer.Exit(2)
    requeued = [i for i in ids if store.requeue(i)]
    console.print(f"requeued {len(requeued)} deliver{'y' if len(requeued) == 1 else 'ies'}")
    store.close()
    raise typer.Exit(0 if requeued or all_failed else 1)


@app.command()
def skip(
    delivery_id: Annotated[int, typer.Argument(help="Delivery id (see status).")],
    config: ConfigOption = None,
) -> None:
    """Give up on a delivery: it will not be published."""
    store = _open_store(_load(config))
    row = store.delivery(delivery_id)
    if row is None or row.status == DeliveryStatus.DONE:
        errors.print(f"no open or failed delivery {delivery_id}")
        raise typer.Exit(1)
    store.mark_skipped(delivery_id, "skipped by `birdbridge skip`")
    console.print(f"delivery {delivery_id} skipped")
    store.close()


@app.command()
def demo(
    posts: Annotated[int, typer.Option(help="Extra sample posts on each side.")] = 0,
    keep: Annotated[
        bool,
        typer.Option(
            "--keep", help="Keep the demo's database (and its config) and print where they are."
        ),
    ] = False,
) -> None:
    """Run the whole bridge between the two sandbox servers: no accounts needed."""
    from birdbridge.demo import run_demo
    from birdbridge.progress import media_bars

    with media_bars(console) as progress:
        raise typer.Exit(run_demo(console, extra_posts=posts, keep=keep, progress=progress))


def main() -> None:
    try:
        app()
    except BirdbridgeError as exc:  # anything we raise on purpose: a message, not a traceback
        errors.print(f"error: {exc}", highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
