"""Fair use in the scheduler core (SPEC §10): a group the claim held back is set aside in the
heap, so the jobs behind it are offered and a node with only held jobs makes no claims;
each slot the group frees lets its next job be offered again."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobsched.scheduler.fairness import HeldBy, Hold
from jobsched.scheduler.ordering import PendingHeap
from jobsched.scheduler.states import JobStatus, Priority
from jobsched.scheduler.store import QueuedJob, Released
from tests.helpers import T0

FLOODER, OTHER = 1, 2


def job(job_id: int, owner: int, priority: Priority = Priority.HIGH,
        key: str | None = None) -> QueuedJob:
    return QueuedJob(job_id, priority, None, None, owner, key)


def flooded_heap() -> PendingHeap:
    return PendingHeap([job(i, FLOODER) for i in range(1, 6)]
                       + [job(9, OTHER, Priority.LOW)])


def test_a_held_owner_is_set_aside_and_the_next_owner_is_offered():
    heap = flooded_heap()
    heap.hold({1: Hold(FLOODER, None, HeldBy.OWNER)})
    assert heap.candidates(T0, 3) == [9]


def test_each_freed_slot_offers_the_groups_next_job_once():
    heap = flooded_heap()
    heap.hold({1: Hold(FLOODER, None, HeldBy.OWNER)})
    heap.candidates(T0, 3)
    heap.release(FLOODER, None)
    assert heap.candidates(T0, 3) == [1, 9]
    heap.hold({1: Hold(FLOODER, None, HeldBy.OWNER)})  # the claim held it again
    assert heap.candidates(T0, 3) == [9]


def test_a_held_key_sets_aside_that_key_only():
    heap = PendingHeap([job(1, FLOODER, key="deploy"), job(2, FLOODER, key="deploy"),
                        job(3, FLOODER, Priority.LOW)])
    heap.hold({1: Hold(FLOODER, "deploy", HeldBy.KEY)})
    assert heap.candidates(T0, 3) == [3]
    heap.release(FLOODER, "deploy")
    assert heap.candidates(T0, 3) == [1, 3]


def test_a_reconcile_offers_every_group_again():
    heap = flooded_heap()
    heap.hold({1: Hold(FLOODER, None, HeldBy.OWNER)})
    heap.candidates(T0, 3)
    heap.replace_all([job(i, FLOODER) for i in range(1, 6)] + [job(9, OTHER, Priority.LOW)])
    assert heap.candidates(T0, 3) == [1, 2, 3]


def test_a_set_aside_job_that_changed_or_left_is_not_offered_stale():
    heap = flooded_heap()
    heap.hold({1: Hold(FLOODER, None, HeldBy.OWNER)})
    heap.candidates(T0, 6)
    heap.discard(1)
    heap.release(FLOODER, None)
    assert heap.candidates(T0, 3) == [2, 9]


class Deferred:
    """A spawn that keeps attempts until the test runs them: jobs stay running meanwhile."""

    def __init__(self) -> None:
        self.waiting: list[Callable[[], Any]] = []

    def __call__(self, run: Callable[..., Any], *args: Any) -> None:
        self.waiting.append(lambda: run(*args))

    def run_first(self) -> None:
        self.waiting.pop(0)()


class CountingClaims:
    def __init__(self, store) -> None:
        self.store, self.calls = store, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.store.claim(*args, **kwargs)


def test_a_node_with_only_held_jobs_makes_no_claims_until_a_slot_frees(store, clock,
                                                                       make_node):
    floods = [store.add(priority="high", owner_id=FLOODER) for _ in range(5)]
    theirs = store.add(priority="low", owner_id=OTHER)
    spawn, counting = Deferred(), CountingClaims(store)
    node = make_node(counting, clock, concurrency=3, limit=3, max_running_per_user=1,
                     spawn_attempt=spawn)
    node.tick()
    running = {j.id for j in store.jobs() if j.status is JobStatus.RUNNING}
    assert running == {floods[0].id, theirs.id}  # the third slot stays free: the cap holds
    calls = counting.calls
    node.tick()
    node.tick()
    assert counting.calls == calls  # nothing to try: no claim, no busy loop
    spawn.run_first()  # the flooder's job finishes: its next one may start
    node.tick()
    assert store.get(floods[1].id).status is JobStatus.RUNNING
    assert store.get(floods[2].id).status is JobStatus.PENDING


def test_a_notified_release_offers_the_group_again(store, clock, make_node):
    floods = [store.add(priority="high", owner_id=FLOODER) for _ in range(2)]
    spawn = Deferred()
    node = make_node(store, clock, concurrency=3, limit=3, max_running_per_user=1,
                     spawn_attempt=spawn)
    node.tick()
    assert store.get(floods[1].id).status is JobStatus.PENDING
    store.max_running[FLOODER] = 2  # an admin raised the cap: the next freed slot tells
    node.notify([Released(FLOODER)])
    node.tick()
    assert store.get(floods[1].id).status is JobStatus.RUNNING


def test_a_freed_slot_wakes_the_node_only_when_a_held_group_may_use_it(store, clock,
                                                                       make_node):
    """Another node's finishes are notified; they cost this node a wake-up only when its
    heap has set jobs aside that the slot may now take."""
    node = make_node(store, clock, max_running_per_user=1, spawn_attempt=Deferred())
    node.tick()
    node._wake.clear()
    node.notify([Released(FLOODER)])
    assert not node._wake.is_set()
    for _ in range(2):
        store.add(priority="high", owner_id=FLOODER)
    node.reconcile()
    node.tick()  # one runs, the other is held and set aside
    node._wake.clear()
    node.notify([Released(OTHER)])
    assert not node._wake.is_set()
    node.notify([Released(FLOODER)])
    assert node._wake.is_set()
