"""Telling a wall-clock jump from ordinary time passing (injected clocks, no sleeping)."""

from __future__ import annotations

from birdbridge.clockwatch import ClockWatch


class Clocks:
    def __init__(self) -> None:
        self.wall_now = 1_000_000.0
        self.mono_now = 500.0

    def wall(self) -> float:
        return self.wall_now

    def mono(self) -> float:
        return self.mono_now

    def elapse(self, seconds: float) -> None:
        self.wall_now += seconds
        self.mono_now += seconds


def test_ordinary_time_is_no_jump() -> None:
    clocks = Clocks()
    watch = ClockWatch(clocks.wall, clocks.mono)
    clocks.elapse(3600)
    assert watch.tick() == 0.0


def test_a_backward_step_and_a_suspend_are_seen() -> None:
    clocks = Clocks()
    watch = ClockWatch(clocks.wall, clocks.mono)
    clocks.elapse(1)
    clocks.wall_now -= 3600  # set back an hour
    assert watch.tick() == -3600
    clocks.wall_now += 7200  # eight hours of suspend: only the wall clock moves
    assert watch.tick() == 7200
    clocks.elapse(1)
    clocks.wall_now += 5  # small NTP slews are not jumps
    assert watch.tick() == 0.0
