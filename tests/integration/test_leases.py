"""Link leases and the workers' shares (store/leases.py, worker/holdings.py), on SQLite and
PostgreSQL: a link is held by one worker at a time, shares even out as workers come and go,
a worker that stops lets go at once, a dead one's links are taken over when its leases run out
(at once when it ran on this machine), and the idle polls' batch is written."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from birdbridge.store import Store, utcnow
from birdbridge.store.leases import PollMark
from birdbridge.worker.holdings import HOST, Holdings, WorkerStats, dead_here, new_worker_id

LINKS = [f"link{n:02}" for n in range(10)]


def idle(_link: str) -> bool:
    return True


def worker(store: Store, lease: float = 30, links: list[str] = LINKS) -> Holdings:
    holdings = Holdings(store, new_worker_id(), links, lease, interval=60)
    store.ensure_leases(links)
    return holdings


def test_a_link_is_held_by_one_worker_and_a_lease_runs_out(store: Store) -> None:
    now = utcnow()
    later = now + timedelta(seconds=30)
    assert store.take_leases("w1", ["a", "b"], until=later, now=now) == ["a", "b"]
    assert store.take_leases("w2", ["a", "b", "c"], until=later, now=now) == ["c"]
    assert store.lease_holders(now) == {"a": "w1", "b": "w1", "c": "w2"}
    # w1 renews b only (a is released); w2 takes a at once, and b once w1's lease ran out
    store.release_leases("w1", ["a"])
    assert store.take_leases("w2", ["a", "b"], until=later, now=now) == ["a"]
    assert store.take_leases("w2", ["b"], until=later, now=later + timedelta(seconds=1)) == ["b"]
    assert store.renew_leases("w1", later) == set()  # w1 holds nothing any more
    assert store.renew_leases("w2", later) == {"a", "b", "c"}


def test_taking_at_the_same_moment_never_gives_a_link_to_two_workers(store: Store) -> None:
    links = [f"l{n:03}" for n in range(200)]
    store.ensure_leases(links)
    now = utcnow()
    until = now + timedelta(seconds=30)
    taken: dict[str, list[str]] = {}
    start = threading.Barrier(4)

    def take(name: str) -> None:
        start.wait()
        got: list[str] = []
        for _ in range(10):
            got += store.take_leases(name, links, until=until, now=now, limit=7, create=False)
        taken[name] = got

    threads = [threading.Thread(target=take, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    everything = [link for got in taken.values() for link in set(got)]
    assert len(everything) == len(set(everything))  # no link held by two workers
    holders = store.lease_holders(now)
    assert {link: name for name, got in taken.items() for link in got} == holders


def test_shares_even_out_as_workers_come_and_go(store: Store) -> None:
    one = worker(store)
    tick = one.tick(WorkerStats(), idle)
    assert sorted(tick.taken) == LINKS  # alone: every link
    two, three = worker(store), worker(store)
    for _ in range(3):  # a few ticks each: each lets go of its excess, the others take it
        for holdings in (one, two, three):
            holdings.tick(WorkerStats(), idle)
    held = [h.held for h in (one, two, three)]
    assert all(1 <= len(links) <= 4 for links in held), held  # at most ceil(10 / 3) each
    assert sum(map(len, held)) == 10 and set().union(*held) == set(LINKS)  # each link once
    assert len(store.workers()) == 3
    three.release_all()  # a clean stop: its links are free at once, it is gone from the list
    assert len(store.workers()) == 2 and not three.held
    for _ in range(2):
        for holdings in (one, two):
            holdings.tick(WorkerStats(), idle)
    assert sorted(len(h.held) for h in (one, two)) == [5, 5]
    assert set(store.lease_holders(utcnow()).values()) == {one.worker_id, two.worker_id}


def test_a_link_under_way_is_not_let_go(store: Store) -> None:
    one = worker(store)
    one.tick(WorkerStats(), idle)
    two = worker(store)
    two.tick(WorkerStats(), idle)
    one.tick(WorkerStats(), lambda link: link == "link09")  # only link09 is idle
    assert one.held == set(LINKS) - {"link09"}  # busy links are kept until they are idle


def test_a_dead_workers_links_are_taken_over_when_its_leases_run_out(store: Store) -> None:
    dead = Holdings(store, "elsewhere:1234:abcdef", LINKS, 3, interval=60)  # another machine
    store.ensure_leases(LINKS)
    dead.tick(WorkerStats(), idle)
    assert len(dead.held) == 10
    alive = worker(store, lease=3)
    assert alive.tick(WorkerStats(), idle).taken == []  # its leases still run
    assert not alive.holds("link00")
    # Its leases run out (the lease's end passes), and its row is older than a lease: it no
    # longer counts as a live worker either.
    store.renew_leases(dead.worker_id, utcnow() - timedelta(seconds=1))
    (row,) = [w for w in store.workers() if w.id == dead.worker_id]
    store.beat(replace(row, seen_at=utcnow() - timedelta(seconds=4)))
    tick = alive.tick(WorkerStats(), idle)
    assert sorted(tick.taken) == LINKS and alive.holds("link00")


def test_a_dead_worker_of_this_machine_is_taken_over_at_once(store: Store) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    pid = int(gone.stdout)  # a process that has ended
    dead_id = f"{HOST}:{pid}:abcdef"
    assert dead_here([dead_id, f"{HOST}:1:abcdef", "elsewhere:99:abcdef"], "me") == {dead_id}
    dead = Holdings(store, dead_id, LINKS, 600, interval=60)
    store.ensure_leases(LINKS)
    dead.tick(WorkerStats(), idle)
    alive = worker(store, lease=600)
    tick = alive.tick(WorkerStats(), idle)  # its leases run for 10 more minutes, but it is gone
    assert sorted(tick.taken) == LINKS
    assert [w.id for w in store.workers()] == [alive.worker_id]


def test_once_takes_every_free_link_but_not_one_a_live_worker_holds(store: Store) -> None:
    daemon = worker(store, links=LINKS[:3])
    daemon.tick(WorkerStats(), idle)
    cron = Holdings(store, new_worker_id(), LINKS, 60)
    assert sorted(cron.take_all()) == LINKS[3:]
    assert cron.holder("link00") == daemon.worker_id
    cron.release_all()
    assert set(store.lease_holders(utcnow()).values()) == {daemon.worker_id}


def test_a_worker_that_cannot_renew_stops_running_its_links(store: Store) -> None:
    one = worker(store, lease=3)
    one.tick(WorkerStats(), idle)
    assert one.holds("link00")
    one._valid_until = time.monotonic() - 1  # its last renewal is too old
    assert not one.holds("link00")


def test_the_idle_polls_batch(store: Store) -> None:
    now = utcnow()
    store.record_poll("a", "mastodon", account_id="1", cursor="5", now=now)
    later = now + timedelta(seconds=60)
    hour = later.replace(minute=0, second=0, microsecond=0)
    store.write_batch(
        [PollMark("a", "mastodon", later), PollMark("a", "twitter", later)],
        [("a", "mastodon", hour, 3, 1), ("a", "twitter", hour, 2, 0)],
    )
    store.write_batch([PollMark("a", "mastodon", now)], [("a", "mastodon", hour, 1, 0)])
    state = store.link_state("a", "mastodon")
    assert state is not None and state.last_poll_at == later  # never moved back
    assert store.link_state("a", "twitter") is None  # a side never recorded is not made up
    assert store.last_polls(["a", "b"]) == {"a": later}
    calls = store.api_calls_since(hour)
    assert calls[("a", "mastodon")] == (4, 1) and calls[("a", "twitter")] == (2, 0)


@pytest.mark.parametrize("status", ["pending", "publishing"])
def test_links_with_due_deliveries_in_one_query(store: Store, status: str) -> None:
    from birdbridge.store import NewDelivery

    now = utcnow()
    new = NewDelivery(
        source_network="twitter", source_id="1", target_network="mastodon", payload="{}"
    )
    store.record_poll("a", "twitter", account_id="1", cursor="1", deliveries=[new], now=now)
    store.record_poll("b", "twitter", account_id="1", cursor="1", now=now)
    assert store.links_with_due_deliveries(now) == {"a"}
    (delivery,) = store.deliveries(statuses=["pending"])
    if status == "publishing":  # a worker died mid-publish: its claim runs out
        assert store.lease(delivery.id, "w", seconds=60, now=now)
        store.mark_publishing(delivery.id, 0, "text", now=now)
    later = now + timedelta(hours=2)
    assert store.links_with_due_deliveries(later) == {"a"}
