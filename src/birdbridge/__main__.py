"""``python -m birdbridge`` is the same as the ``birdbridge`` command."""

from birdbridge.cli import main

main()
