"""The command line's two consoles (stdout, stderr), made at their first use: rich is a few
megabytes that `birdbridge run`, which speaks through its log, never needs."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console


class _LazyConsole:
    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    # Special methods are looked up on the type, not through __getattr__: rich's live
    # displays (the progress bars) enter and leave their console.
    def __enter__(self) -> Console:
        return self.made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self.made().__exit__(*exc)


def lazy_console(**options: Any) -> Console:
    """A ``rich.console.Console(**options)``, made when first used."""
    return cast("Console", _LazyConsole(**options))


def real(console: Console) -> Console:
    """The Console itself, for rich objects that are given one (a Progress checks what it
    is given)."""
    return console.made() if isinstance(console, _LazyConsole) else console


# Piped output (cron mail, logs, tests) gets wide lines instead of cut-off table cells.
# Strings are printed as they are: what comes from the config, the database or an API may hold
# "[links.mastodon]", "[/]" or ":id:", which Rich would read as markup or an emoji. Styles are
# given with rich.text.Text (or a style= argument) instead.
console = lazy_console(
    width=None if sys.stdout.isatty() else 240, markup=False, emoji=False, highlight=False
)
errors = lazy_console(
    stderr=True,
    width=None if sys.stderr.isatty() else 240,
    markup=False,
    emoji=False,
    highlight=False,
    # Piped (cron mail, logs): a message is one line, never broken inside a path or URL. On a
    # terminal: wrapped at words to its width.
    soft_wrap=not sys.stderr.isatty(),
)
