"""The worker's poll scheduler (worker/scheduler.py) on a clock the test moves: the interval is
kept from the due times (a slow poll does not make its link drift), a poll still running when
the next is due leaves that slot out (counted, never two in a row), no more runs at once than
threads, late starts counted, delivery passes between polls."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest

from birdbridge.worker.scheduler import PollScheduler, Run


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        with self.lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


class Runs:
    """What the scheduler ran: (link, kind, deliver_first, started at), and how many at once."""

    def __init__(self, clock: Clock, takes: Callable[[str], float] = lambda _link: 0.0) -> None:
        self.clock = clock
        self.takes = takes  # how long a run holds its thread (real seconds)
        self.log: list[tuple[str, Run, bool, float]] = []
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, link: str, kind: Run, deliver_first: bool) -> None:
        with self.lock:
            self.log.append((link, kind, deliver_first, self.clock()))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.takes(link))
        with self.lock:
            self.running -= 1

    def starts(self, kind: Run = Run.POLL) -> dict[str, list[float]]:
        found: dict[str, list[float]] = defaultdict(list)
        with self.lock:
            for link, run, _, at in self.log:
                if run is kind:
                    found[link].append(at)
        return found

    def idle(self) -> bool:
        with self.lock:
            return self.running == 0


def settle(scheduler: PollScheduler, runs: Runs, count: Callable[[], int], want: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        scheduler.wake()
        if count() >= want and runs.idle():
            time.sleep(0.05)  # anything more that was due would have started by now
            if count() >= want and runs.idle():
                return
        time.sleep(0.01)
    raise AssertionError(f"{count()} runs, {want} expected: {runs.log}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def running(scheduler: PollScheduler) -> Iterator[PollScheduler]:
    scheduler.start()
    yield scheduler
    scheduler.stop(5)


def walk(scheduler: PollScheduler, runs: Runs, clock: Clock, steps: int, step: float) -> None:
    """Move the clock ``steps`` times by ``step``, letting what is due run after each."""
    for _ in range(steps):
        clock.advance(step)
        settle(scheduler, runs, lambda: 0, 0)


def test_each_link_is_polled_at_its_due_times_not_after_the_last_poll_ended(
    clock: Clock,
) -> None:
    slow = {"a": 0.0, "b": 0.0}
    runs = Runs(clock)

    def slow_run(link: str, kind: Run, deliver_first: bool) -> None:
        runs(link, kind, deliver_first)
        clock.advance(slow[link])  # the poll takes this long on the scheduler's clock

    scheduler = PollScheduler(10, 4, slow_run, clock=clock)
    for _ in running(scheduler):
        scheduler.add("a", 0)
        scheduler.add("b", 5)
        settle(scheduler, runs, lambda: len(runs.log), 1)
        slow["a"] = 3.0  # from now on a poll of "a" takes 3 s
        walk(scheduler, runs, clock, 20, 2.5)
    starts = runs.starts()
    # Due at 0, 10, 20, ...: one poll in each 10 s slot, each within a clock step (and the
    # 3 s the clock moves during a poll) of its due time. Timed from the end of the last
    # poll instead, the polls would drift to 13, 26, 39, ... and leave slots empty.
    slots = [int(t // 10) for t in starts["a"]]
    assert slots == list(range(len(slots))) and len(slots) >= 5, starts["a"]
    assert all(t % 10 <= 3.0 for t in starts["a"]), starts["a"]
    assert [int((t - 5) // 10) for t in starts["b"]] == list(range(len(starts["b"])))


def test_a_poll_still_running_when_the_next_is_due_leaves_that_slot_out(clock: Clock) -> None:
    release = threading.Event()
    runs = Runs(clock)

    def stuck(link: str, kind: Run, deliver_first: bool) -> None:
        runs(link, kind, deliver_first)
        if len(runs.log) == 1:
            release.wait(10)  # the first poll hangs for three intervals

    scheduler = PollScheduler(10, 4, stuck, clock=clock)
    for _ in running(scheduler):
        scheduler.add("a", 0)
        settle(scheduler, runs, lambda: len(runs.log), 1)
        for _ in range(3):
            clock.advance(10)
            scheduler.wake()
            time.sleep(0.1)
        assert len(runs.log) == 1  # never a second run of the link while one is under way
        release.set()
        settle(scheduler, runs, lambda: len(runs.log), 1)  # the stuck poll ended
        clock.advance(10)  # t = 40: the link's next slot
        settle(scheduler, runs, lambda: len(runs.log), 2)
        assert scheduler.lateness().missed == 3  # the slots at 10, 20 and 30
    assert [at for *_, at in runs.log] == [0, 40]  # then on its rhythm again, not twice


def test_no_more_runs_at_once_than_threads_and_the_rest_in_due_order(clock: Clock) -> None:
    runs = Runs(clock, takes=lambda _link: 0.05)
    scheduler = PollScheduler(60, 3, runs, clock=clock)
    for _ in running(scheduler):
        for n in range(12):
            scheduler.add(f"link{n:02}", n * 0.001)  # all due (nearly) at once
        clock.advance(1)
        settle(scheduler, runs, lambda: len(runs.log), 12)
    assert runs.most == 3
    assert [link for link, *_ in runs.log] == [f"link{n:02}" for n in range(12)]


def test_late_polls_are_counted_with_the_worst_delay_and_logged(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    runs = Runs(clock)
    scheduler = PollScheduler(10, 2, runs, clock=clock)
    for _ in running(scheduler):
        scheduler.add("on-time", 0)
        settle(scheduler, runs, lambda: len(runs.log), 1)
        assert scheduler.lateness().late == 0
        scheduler.add("late", 1)
        clock.advance(8)  # starts 7 s after it was due: more than half the interval
        settle(scheduler, runs, lambda: len(runs.log), 2)
        lateness = scheduler.lateness()
    assert (lateness.late, lateness.worst) == (1, pytest.approx(7))
    assert "polls are falling behind" in caplog.text and "poll_threads" in caplog.text


def test_a_link_with_deliveries_due_gets_a_delivery_pass_and_its_next_poll_delivers_first(
    clock: Clock,
) -> None:
    hold = threading.Event()
    runs = Runs(clock)

    def run(link: str, kind: Run, deliver_first: bool) -> None:
        runs(link, kind, deliver_first)
        if link == "b" and len(runs.log) == 4:
            hold.wait(10)  # b's second poll is under way while its deliveries come due

    scheduler = PollScheduler(10, 2, run, clock=clock)
    for _ in running(scheduler):
        scheduler.add("a", 0)
        scheduler.add("b", 0)
        settle(scheduler, runs, lambda: len(runs.log), 2)
        assert [first for _, _, first, _ in runs.log] == [False, False]  # nothing due
        scheduler.deliveries_due({"a", "not-held"})
        settle(scheduler, runs, lambda: len(runs.log), 3)
        assert runs.log[2][:2] == ("a", Run.DELIVER)
        scheduler.remove("a")  # let go: no more runs of it
        clock.advance(10)
        deadline = time.monotonic() + 10
        while len(runs.log) < 4 and time.monotonic() < deadline:
            scheduler.wake()
            time.sleep(0.01)
        scheduler.deliveries_due({"b"})  # b is busy: no pass now, its next poll delivers
        hold.set()
        settle(scheduler, runs, lambda: len(runs.log), 4)  # its poll ended
        clock.advance(10)
        settle(scheduler, runs, lambda: len(runs.log), 5)
    assert [(link, kind, first) for link, kind, first, _ in runs.log[3:]] == [
        ("b", Run.POLL, False),
        ("b", Run.POLL, True),
    ]


def test_seconds_since_poll_per_held_link(clock: Clock) -> None:
    runs = Runs(clock)
    scheduler = PollScheduler(10, 2, runs, clock=clock)
    for _ in running(scheduler):
        scheduler.add("a", 0)
        scheduler.add("b", 100)  # not polled yet: counted from when it was taken
        settle(scheduler, runs, lambda: len(runs.log), 1)
        clock.advance(4)
        ages = scheduler.seconds_since_poll()
    assert ages == {"a": pytest.approx(4), "b": 0.0}
