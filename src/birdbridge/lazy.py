"""Importing a library without one of its optional parts, to keep an idle daemon small."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def imported_without(module: str) -> Iterator[None]:
    """Within the block, importing ``module`` raises ImportError (as if it were not
    installed), unless it is imported already; afterwards it imports as usual. For libraries
    that import an optional part in ``try: ... except ImportError`` and carry on without it."""
    if module in sys.modules:
        yield
        return
    sys.modules[module] = None  # type: ignore[assignment]  # importing it raises ImportError
    try:
        yield
    finally:
        if sys.modules.get(module, 0) is None:
            del sys.modules[module]
