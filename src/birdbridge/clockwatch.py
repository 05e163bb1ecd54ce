"""Noticing wall-clock jumps (NTP steps, a laptop waking from suspend).

APScheduler 3 schedules on the wall clock, so after the clock jumps back by an hour an
interval job would wait an extra hour, and the outbox's retry times would all lie in the
future. Comparing the wall clock with the monotonic clock between two ticks shows both: during a
suspend the wall clock advances and the monotonic one does not; a step moves only the wall
clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

JUMP_THRESHOLD = 30.0  # seconds of disagreement that count as a jump


class ClockWatch:
    def __init__(
        self, wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.wall = wall
        self.monotonic = monotonic
        self._last = (wall(), monotonic())

    def tick(self) -> float:
        """Seconds the wall clock moved beyond (or short of) real elapsed time since the last
        tick: positive after a suspend or a forward step, negative after a backward step;
        0.0 when within the threshold."""
        wall, mono = self.wall(), self.monotonic()
        last_wall, last_mono = self._last
        self._last = (wall, mono)
        drift = (wall - last_wall) - (mono - last_mono)
        return drift if abs(drift) >= JUMP_THRESHOLD else 0.0
