"""QueueMirror: notified queue states patch the heap without store reads, reconcile races."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from jobsched.scheduler.mirror import QueueMirror
from jobsched.scheduler.states import Priority
from jobsched.scheduler.store import Dequeued, QueuedJob
from tests.helpers import T0
from tests.memory import MemoryStore


class CountingStore:
    """A store that counts its reads and can run a hook in the middle of pending()."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self.during_pending: Callable[[], Any] | None = None

    def pending(self) -> list[QueuedJob]:
        self.calls["pending"] += 1
        jobs = self.store.pending()
        if self.during_pending is not None:
            self.during_pending()  # a patch that lands after the read, before the replace
        return jobs

    def fetch_queued(self, ids) -> list[QueuedJob]:
        self.calls["fetch_queued"] += 1
        return self.store.fetch_queued(ids)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


@pytest.fixture
def store(clock) -> CountingStore:
    return CountingStore(MemoryStore(clock))


@pytest.fixture
def mirror(store, clock) -> QueueMirror:
    mirror = QueueMirror(store, clock)
    mirror.reconcile()
    return mirror


def queued(job_id: int, priority: str = "medium", deadline=None, run_at=None) -> QueuedJob:
    return QueuedJob(job_id, Priority(priority), deadline, run_at)


def test_notified_states_are_upserted_and_dropped_without_reading_the_store(mirror, store,
                                                                            clock):
    assert mirror.apply([queued(1, "low"), queued(2, "low")])
    assert mirror.candidates(clock(), 10) == [1, 2]
    assert mirror.apply([queued(2, "high")])  # an edit re-orders
    assert mirror.candidates(clock(), 10) == [2, 1]
    assert not mirror.apply([Dequeued(2)])  # claimed, cancelled or deleted elsewhere
    assert mirror.candidates(clock(), 10) == [1]
    assert 2 not in mirror
    assert store.calls["fetch_queued"] == 0


def test_a_waiting_job_counts_as_pending_and_waits_for_its_run_at(mirror, clock):
    later = T0 + timedelta(seconds=30)
    assert mirror.apply([queued(7, run_at=later)])
    assert mirror.candidates(clock(), 10) == []
    assert mirror.next_wakeup() == later


def test_dequeuing_a_job_that_is_not_there_is_harmless(mirror):
    assert not mirror.apply([Dequeued(42)])
    assert len(mirror) == 0


def test_a_state_notified_while_reconcile_reads_is_replayed_without_a_read(mirror, store,
                                                                           clock):
    gone = store.store.add(task="echo")  # in the read, then dequeued before the replace
    store.during_pending = lambda: mirror.apply([queued(99, "high"), Dequeued(gone.id)])
    mirror.reconcile()
    assert mirror.candidates(clock(), 10) == [99]
    assert store.calls["fetch_queued"] == 0


def test_the_last_patch_of_a_job_during_reconcile_wins(mirror, store, clock):
    store.during_pending = lambda: mirror.apply(
        [queued(5), Dequeued(6), Dequeued(5), queued(6, "low")])
    mirror.reconcile()
    assert mirror.candidates(clock(), 10) == [6]


def test_a_job_read_while_reconcile_reads_is_read_again(mirror, store, clock):
    job = store.store.add(task="echo")
    store.during_pending = lambda: (mirror.refresh([job.id]), store.store.cancel(job.id))
    mirror.reconcile()  # the read saw it pending; it was cancelled since
    assert job.id not in mirror
    assert store.calls["fetch_queued"] == 2  # the refresh, then its replay


def test_a_job_claimed_here_while_reconcile_reads_stays_out(mirror, store, clock):
    job = store.store.add(task="echo")
    store.during_pending = lambda: mirror.forget([job.id])
    mirror.reconcile()
    assert job.id not in mirror
    assert store.calls["fetch_queued"] == 0
