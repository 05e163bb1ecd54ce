"""The ``birdbridge`` command line."""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from birdbridge.config_checks import permission_warning
from birdbridge.consoles import console, errors
from birdbridge.errors import (
    AccountRefused,
    BirdbridgeError,
    ConfigError,
    DatabaseUnavailable,
    DatabaseUnusable,
    NetworkError,
)
from birdbridge.models import NetworkName
from birdbridge.redaction import redact, register

# Only what parsing the command line needs is imported here: `birdbridge --help` (and a
# command's --help) must not pay for the config's models, the database, the network clients
# or media (seconds on a Raspberry Pi). Each command imports what it uses;
# tests/unit/test_startup_imports.py keeps it so.
if TYPE_CHECKING:
    from birdbridge.config import Config
    from birdbridge.engine.link import CycleReport
    from birdbridge.store import DeliveryStatus, Store

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Keep an X (Twitter) account and a Mastodon account in step.",
    # A traceback must never print local variables: they hold tokens.
    pretty_exceptions_show_locals=False,
)
# Once a command has set up logging (run, once, check), its errors and warnings go through it:
# with JSON logs every line on stderr is one JSON object, these included.
_log: logging.Logger | None = None


def printable(message: str) -> str:
    """Control characters shown as escapes: a message may carry text from a server or a
    redirect (an OAuth error_description), whose escape sequences would drive the terminal."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in message)


def _error(message: str) -> None:
    """``error: MESSAGE`` on stderr, the message printed as it is (or logged, see _log)."""
    message = printable(message)
    if _log is not None:
        _log.error(message)
        return
    from rich.text import Text

    errors.print(Text.assemble(("error:", "red"), " ", message))


def _warn(message: str) -> None:
    message = printable(message)
    if _log is not None:
        _log.warning(message)
        return
    from rich.text import Text

    errors.print(Text.assemble(("warning:", "yellow"), " ", message))


def _version(value: bool) -> None:
    if value:
        from birdbridge import __version__

        console.print(f"birdbridge {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Keep an X (Twitter) account and a Mastodon account in step."""


ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help=(
            "Config file. Default: the whole config in $BIRDBRIDGE_CONFIG_TOML, else the file "
            "$BIRDBRIDGE_CONFIG names, else ./birdbridge.toml."
        ),
        show_default=False,
    ),
]


def _load(config_path: Path | None, *, secrets: bool = True, logged: bool = False) -> Config:
    """The config, or exit 2 with the error. ``secrets=False``: for commands that only read
    the database (an unresolved credential becomes a placeholder, see load_config).
    ``logged``: set up logging from it, so that what follows (the file's permission warning
    included) is logged in the configured format. A config error comes before any format is
    known: it is printed."""
    from birdbridge.config import load_config

    try:
        config = load_config(config_path, secrets=secrets)
    except ConfigError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    register(config.secrets())  # redacted in logs, in what the store keeps, and in output
    if logged:
        _configure_logging(config)
    source = Path(config.source)
    if source.is_file() and (warning := permission_warning(source)):
        _warn(warning)
    return config


def _configure_logging(settings: Config, *, messages: bool = True) -> None:
    """Logging as the config says. ``messages``: the command's own errors and warnings are
    logged too (run, once); without it (check, explain: reports for a person) only what the
    libraries log is, so stamina's retry lines take the configured format either way."""
    global _log
    from birdbridge.logs import configure_logging

    configure_logging(settings.bridge.log_level, settings.bridge.log_format, settings.secrets())
    _log = logging.getLogger("birdbridge.cli") if messages else None


def _open_store(config: Config, create: bool = True) -> Store:
    """The store, or an error naming where the database URL came from: exit 2 when the URL is
    wrong, 1 when its server cannot be reached now."""
    from birdbridge.store import Store

    try:
        # The poll threads, the periodic jobs and /metrics may each hold one at once.
        connections = config.bridge.poll_threads + 3
        return Store.open(config.bridge.database_url, create=create, connections=connections)
    except DatabaseUnusable as exc:
        # The URL may hold a password: the registered secrets are redacted.
        _error(redact(f"{config.database_url_origin}: {exc.problem}"))
        raise typer.Exit(2) from None
    except DatabaseUnavailable as exc:
        # The server is down or not up yet: exit 1, which a supervisor restarts.
        _error(redact(f"{config.database_url_origin}: {exc.problem}"))
        raise typer.Exit(1) from None
    except ConfigError as exc:
        _error(redact(str(exc)))
        raise typer.Exit(2) from None


# Set to "wait" (the image does) so that `run` waits for SIGTERM after a configuration
# problem instead of exiting 2: Docker's restart policies cannot spare one exit code, so
# `restart: unless-stopped` would otherwise start a broken config again every minute, and
# `on-failure:N` would not bring a healthy bridge back after a reboot.
ON_CONFIG_ERROR = "BIRDBRIDGE_ON_CONFIG_ERROR"


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the bridge until SIGTERM or Ctrl-C. Exit 2 on a configuration problem (or, with
    BIRDBRIDGE_ON_CONFIG_ERROR=wait, as in the image: say it once, then wait for SIGTERM)."""
    from birdbridge.daemon import Bridge

    try:
        settings = _load(config, logged=True)
        store = _open_store(settings)
        bridge = Bridge(settings, store)
        try:
            bridge.require_runnable()  # links without a sign-in wait; none at all is an error
        except ConfigError as exc:
            _error(str(exc))
            raise typer.Exit(2) from None
    except typer.Exit as exc:
        if exc.exit_code == 2 and os.environ.get(ON_CONFIG_ERROR, "").lower() == "wait":
            _wait_for_stop()
        raise
    bridge.run_forever()


def _wait_for_stop() -> None:
    """Block until SIGTERM or SIGINT: the container stays up (and unhealthy: its health check
    cannot load the config either) with the error said once, instead of restarting in a loop."""
    import signal
    import threading

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    _error(
        f"not starting: fix the configuration, then restart birdbridge ({ON_CONFIG_ERROR}="
        "wait: waiting for SIGTERM instead of exiting, so the container does not restart in "
        "a loop)"
    )
    stop.wait()


@app.command()
def once(config: ConfigOption = None) -> None:
    """Poll and deliver every link once, then exit (for cron).

    Exit codes: 0 fine (a rate limit included: it passes by itself); 1 something needs the
    operator, one line per reason on stderr: a delivery failed for good in this run, a side
    paused for refused credentials, a missing permission or scope, X credits or X's usage
    cap, a network failing; 2 a configuration problem (the config file, the database URL).
    """
    from birdbridge.daemon import Bridge
    from birdbridge.progress import media_bars
    from birdbridge.views import pause_words, when

    settings = _load(config, logged=True)
    with media_bars(console) as progress:  # bars on a terminal only
        bridge = Bridge(settings, _open_store(settings), progress=progress)
        reports = bridge.run_once()
    problems: list[str] = []
    for report in reports:
        if report.held_by is not None:  # a running worker has it: nothing to do here
            console.print(
                f"link {report.link}: skipped: the worker {report.held_by} (a `birdbridge "
                "run`) is running it",
                highlight=False,
                markup=False,
            )
            continue
        d = report.delivered
        polled = (
            ", ".join(f"{NetworkName(n).label}: {p.seen} new" for n, p in report.polls.items())
            or "no poll"
        )
        console.print(
            f"link {report.link}: {polled}; mirrored {d.done}, retrying {d.retried}, "
            f"failed {d.failed}, fallbacks {len(d.fallbacks)}",
            highlight=False,
        )
        for fallback in d.fallbacks:
            console.print(f"  fallback: {fallback}")
        for wait in report.waits:  # passes by itself: said, but exit 0
            console.print(f"  waiting for a rate limit: {redact(wait)}")
        for network, state in bridge.store.pauses(report.link).items():
            if state.paused_kind not in operator_pauses():  # a rate limit: said, but exit 0
                console.print(
                    f"  {NetworkName(network).label} paused ({pause_words(state.paused_kind)}) "
                    f"until {when(state.paused_until)} UTC: it resumes by itself"
                )
        problems += _needs_operator(bridge.store, report)
    for problem in problems:
        _error(problem)  # logged (one JSON object with JSON logs), like everything on stderr
    for reason in bridge.waiting.values():  # a link without a sign-in: configuration
        _error(reason)
    bridge.store.close()
    raise typer.Exit(2 if bridge.waiting else 1 if problems else 0)


def operator_pauses() -> set[str]:
    """Pauses that end only when the operator acts (credentials, permissions, credits) or
    after a long wait (X's monthly usage cap). A rate-limit pause ends by itself."""
    from birdbridge.engine.pauses import REFUSAL_KINDS

    return {*REFUSAL_KINDS, "usage_cap"}


def _needs_operator(store: Store, report: CycleReport) -> list[str]:
    """One line per reason this run of one link needs the operator (``once`` exits 1).

    A failed delivery counts in the run it failed in, not in every later run: the exit code
    says what this run met, `status` keeps the list (and cron mails each failure once). A
    pause counts in every run while it lasts: the run could not do that side's work."""
    from birdbridge.views import pause_words, when

    lines = []
    said = {redact(reason) for reason in report.paused.values()}
    for network, state in store.pauses(report.link).items():
        reason = state.paused_reason or ""
        said.add(reason)  # the store keeps it redacted already
        if state.paused_kind in operator_pauses():
            lines.append(
                f"link {report.link}: {NetworkName(network).label} paused "
                f"({pause_words(state.paused_kind)}) until {when(state.paused_until)} UTC: "
                f"{reason}"
            )
    # Errors that are not a pause's reason: a network that could not be reached or answered
    # with a server error (every pause is said above, or waits by itself).
    lines += [
        f"link {report.link}: {redact(error)}"
        for error in report.errors
        if redact(error) not in said
    ]
    if failed := report.delivered.failed:
        lines.append(
            f"link {report.link}: {failed} deliver{'y' if failed == 1 else 'ies'} failed for "
            "good: `birdbridge status` says why; `birdbridge retry ID` or `birdbridge skip ID`"
        )
    return lines


@app.command()
def check(config: ConfigOption = None) -> None:
    """Validate the config and every link's credentials; show each target's limits.

    Exit codes: 0 every account answers and may do what the bridge needs; 1 something needs
    the operator, one line per reason on stderr (credentials refused, a missing permission or
    scope, X credits, a network that cannot be reached); 2 a configuration problem.
    """
    from birdbridge.credentials import origin_of
    from birdbridge.engine.budget import settle_x_spend
    from birdbridge.networks.factory import build_adapters
    from birdbridge.networks.signins import SignIns
    from birdbridge.networks.x_prices import PriceTable
    from birdbridge.views import check_cost_lines, pause_words, when

    settings = _load(config)
    prices = PriceTable.with_overrides(settings.bridge.x_prices)
    _configure_logging(settings, messages=False)
    store = _open_store(settings)
    console.print(
        f"config {settings.source}: OK ({len(settings.links)} link(s)); database OK",
        highlight=False,
    )
    problems = unsigned = 0
    signins = SignIns(store, settings.bridge.database_url)
    from rich.text import Text

    for link in settings.links:
        console.print(Text.assemble("link ", (link.name, "bold"), f" ({link.direction.value})"))
        try:
            adapters = build_adapters(link, settings.bridge.request_timeout, signins)
        except ConfigError as exc:  # no sign-in, or a key that does not open it
            unsigned += 1
            errors.print(redact(f"  {exc}"), style="red", markup=False, highlight=False)
            continue
        for side, state in store.pauses(link.name).items():
            console.print(
                f"  {NetworkName(side).label} paused ({pause_words(state.paused_kind)}) until "
                f"{when(state.paused_until)} UTC: {redact(state.paused_reason or '')}"
            )
        for network, adapter in adapters.items():
            origin = origin_of(
                link, network.value, store.credential_summary(link.name, network.value)
            )
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
            console.print(f"    credentials: {origin.describe()}", highlight=False, markup=False)
            for fact in verified.facts:
                console.print(f"    ok: {fact}", highlight=False, markup=False)
            for problem in verified.problems:
                problems += 1
                errors.print(f"    problem: {problem}", style="red", markup=False, highlight=False)
        settle_x_spend(store, link.name, adapters, prices)  # check's own calls are billed too
        billing = getattr(adapters[NetworkName.TWITTER], "billing", None)
        for line in check_cost_lines(
            link,
            prices,
            owned=bool(getattr(billing, "owned", False)),
            spent=store.x_month_micros(link.name, datetime.now(UTC)),
            poll_interval=settings.bridge.poll_interval,
            slowest_poll=settings.bridge.slowest_poll,
        ):
            console.print(f"  {line}", highlight=False, markup=False)
    store.close()
    raise typer.Exit(2 if unsigned else 1 if problems else 0)


@app.command()
def status(
    link: Annotated[str | None, typer.Argument(help="Only this link.")] = None,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", help="Also the last post seen per side, and every delivery."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (its shape is described above).")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Each link's sides (running, paused and why, waiting for the first poll),
    the deliveries not mirrored yet or failed, and the fallbacks of the last 7 days;
    first, the `birdbridge run` workers and whether their polls keep up.

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
          next_try_at, api_calls_24h {calls, rate_limited},
          credentials (null, or {source ("config", "sign-in"), kind,
            handle, expires_at}, or {source: null, problem}),
          x_spend (X only, else null: this UTC month's {month_usd,
            budget_usd (null: none), projected_usd, by_class {CLASS:
            {calls, billed, usd}}})
      workers[] (`birdbridge run` processes alive on this database): id,
        host, pid, started_at, seen_at, links (held), polls_late_last_minute,
        worst_delay_seconds, poll_interval
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

    settings = _load(config, secrets=False)
    store = _open_store(settings, create=False)
    try:
        known = {s.link for s in store.summaries()} | {ln.name for ln in settings.links}
        if link is not None and link not in known:
            _error(f"no link named {link!r} (links: {', '.join(sorted(known))})")
            raise typer.Exit(1)
        view = read_status(
            store,
            settings.links,
            datetime.now(UTC),
            max_attempts=settings.bridge.max_attempts,
            only=link,
            lease_seconds=settings.bridge.lease_seconds,
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
        str | None,
        typer.Option("--network", help="x (or twitter) or mastodon: the network of a bare id."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show what the bridge does with one post, and why, without posting anything."""
    import json

    from birdbridge.engine import explain as explaining
    from birdbridge.engine.budget import settle_x_spend
    from birdbridge.networks.factory import build_adapters
    from birdbridge.networks.signins import SignIns
    from birdbridge.networks.x_prices import PriceTable
    from birdbridge.views import explanation_json, print_explanation

    chosen_network = _network_option(network) if network is not None else None
    settings = _load(config)
    _configure_logging(settings, messages=False)
    try:
        ref = explaining.parse_ref(post)
        if chosen_network is not None:
            ref = explaining.PostRef(chosen_network, ref.id, ref.host)
        chosen = explaining.pick_link(settings, ref, link)
    except (ConfigError, ValueError) as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    store = _open_store(settings)
    try:
        adapters = build_adapters(
            chosen, settings.bridge.request_timeout, SignIns(store, settings.bridge.database_url)
        )
    except ConfigError as exc:
        _error(redact(str(exc)))
        raise typer.Exit(2) from None
    prices = PriceTable.with_overrides(settings.bridge.x_prices)
    try:
        result = explaining.explain(store, chosen, adapters, ref, datetime.now(UTC), prices)
    except ConfigError as exc:
        _error(str(exc))
        raise typer.Exit(2) from None
    except NetworkError as exc:
        _error(redact(f"could not read the post: {exc}"))
        raise typer.Exit(1) from None
    finally:
        settle_x_spend(store, chosen.name, adapters, prices)  # explain's own reads are billed
        store.close()
    if as_json:
        print(json.dumps(explanation_json(result), ensure_ascii=False, indent=2))
        return
    print_explanation(console, result)


# What --network accepts, case-insensitively: X is also called twitter in the config.
_NETWORK_NAMES = {
    "x": NetworkName.TWITTER,
    "twitter": NetworkName.TWITTER,
    "mastodon": NetworkName.MASTODON,
}


def _network_option(value: str) -> NetworkName:
    try:
        return _NETWORK_NAMES[value.strip().lower()]
    except KeyError:
        _error(f"--network: {value!r} is not a network; use x (or twitter) or mastodon")
        raise typer.Exit(2) from None


@app.command()
def resume(
    link: Annotated[str | None, typer.Argument(help="Link name (default: every link).")] = None,
    config: ConfigOption = None,
) -> None:
    """Lift pauses (after a rate limit, X's usage cap or refused credentials) at once."""
    settings = _load(config, secrets=False)
    if link is not None:
        settings.link(link)  # a clear error for a name that is not in the config
    store = _open_store(settings, create=False)
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
    """Put a failed (or skipped) delivery back in the queue. Exit 1 when there is no such
    delivery or it is not failed or skipped."""
    from birdbridge.store import DeliveryStatus

    if delivery_id is None and not all_failed:
        _error("give a delivery id (see `birdbridge status`) or --failed")
        raise typer.Exit(2)
    store = _open_store(_load(config, secrets=False), create=False)
    if all_failed:
        ids = [d.id for d in store.deliveries(statuses=[DeliveryStatus.FAILED]) if d.id]
    else:
        assert delivery_id is not None  # checked above
        _require_delivery(store, delivery_id, "retry")
        ids = [delivery_id]
    requeued = [i for i in ids if store.requeue(i)]
    console.print(f"requeued {len(requeued)} deliver{'y' if len(requeued) == 1 else 'ies'}")
    store.close()


@app.command()
def skip(
    delivery_id: Annotated[int, typer.Argument(help="Delivery id (see status).")],
    config: ConfigOption = None,
) -> None:
    """Give up on a delivery: it will not be published. Exit 1 when there is no such delivery
    or it was published already."""
    store = _open_store(_load(config, secrets=False), create=False)
    _require_delivery(store, delivery_id, "skip")
    store.mark_skipped(delivery_id, "skipped by `birdbridge skip`")
    console.print(f"delivery {delivery_id} skipped")
    store.close()


def _acts_on(command: str) -> tuple[set[DeliveryStatus], str]:
    """What ``command`` can act on, and what it says of a delivery in another state."""
    from birdbridge.store import DeliveryStatus

    if command == "retry":
        return {DeliveryStatus.FAILED, DeliveryStatus.SKIPPED}, "only a failed or skipped one"
    statuses = {
        DeliveryStatus.PENDING,
        DeliveryStatus.PUBLISHING,
        DeliveryStatus.FAILED,
        DeliveryStatus.SKIPPED,
    }
    return statuses, "only one not yet published"


def _require_delivery(store: Store, delivery_id: int, command: str) -> None:
    """Exit 1, with the same words for ``retry`` and ``skip``, unless the delivery exists
    and ``command`` can act on it."""
    statuses, which = _acts_on(command)
    row = store.delivery(delivery_id)
    if row is None:
        problem = f"no delivery {delivery_id}"
    elif row.status not in statuses:
        problem = f"delivery {delivery_id} is {row.status}: {command} acts on {which}"
    else:
        return
    store.close()
    _error(f"{problem} (`birdbridge status` lists the open and failed ones with their ids)")
    raise typer.Exit(1)


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


# login, logout and init live in their own module; importing it registers them on `app`.
import birdbridge.cli_accounts  # noqa: E402, F401


def main() -> None:
    try:
        app()
    except BirdbridgeError as exc:  # anything we raise on purpose: a message, not a traceback
        _error(str(exc))
        sys.exit(1)


if __name__ == "__main__":
    main()
