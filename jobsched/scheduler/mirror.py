"""`QueueMirror`: a node's local copy of the pending queue, kept in sync with the store.

Loaded at start, patched from change notifications (never by re-reading the table: a
notification carries the job's queue state), and replaced wholesale by a periodic reconcile
(SPEC §5). Thread-safe: the loop reads it while the sync layer and attempt workers patch it.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from .clock import Clock
from .fairness import Hold
from .ordering import PendingHeap
from .policy import STRICT, QueuePolicy
from .store import Dequeued, JobChange, JobStore, QueuedJob, Released

QueueState = QueuedJob | Dequeued


class QueueMirror:
    """The pending heap plus the store reads that keep it true.

    Times given to and returned by the mirror are the node's clock; the store's clock may
    differ, so every reconcile measures the skew and the mirror translates.
    """

    def __init__(self, store: JobStore, clock: Clock, policy: QueuePolicy = STRICT) -> None:
        self._store, self._clock = store, clock
        self._heap = PendingHeap(policy=policy)
        self._lock = threading.Lock()
        self._reconcile_lock = threading.Lock()
        # Jobs patched while a reconcile reads, with the state they were given (None: read
        # from the store, so read again when replayed).
        self._touched: dict[int, QueueState | None] | None = None
        self.skew = timedelta(0)  # store clock minus node clock

    def __len__(self) -> int:
        with self._lock:
            return len(self._heap)

    def __contains__(self, job_id: object) -> bool:
        with self._lock:
            return job_id in self._heap

    def candidates(self, now: datetime, n: int) -> list[int]:
        """Ids of the first n jobs eligible at `now` (node clock), in queue order."""
        with self._lock:
            return self._heap.candidates(now + self.skew, n)

    def next_wakeup(self) -> datetime | None:
        """When (node clock) the earliest waiting job becomes eligible."""
        with self._lock:
            wakeup = self._heap.next_wakeup()
        return None if wakeup is None else wakeup - self.skew

    def refresh(self, ids: Iterable[int]) -> bool:
        """Re-read these jobs' queue state from the store; True if any is eligible now."""
        ids = set(ids)
        if not ids:
            return False
        jobs = self._store.fetch_queued(ids)
        self._apply(jobs, ids)
        store_now = self._clock() + self.skew
        return any(job.run_at is None or job.run_at <= store_now for job in jobs)

    def apply(self, states: Iterable[QueueState]) -> bool:
        """Put notified queue states in the heap, without reading the store: pending jobs
        are upserted, the others dropped. True if one of them is pending (eligible now, or
        waiting for a run_at the loop must now wake up for)."""
        pending = False
        with self._lock:
            for state in states:
                pending = self._put(state) or pending
                self._note(state.id, state)
        return pending

    def apply_changes(self, changes: Iterable[JobChange]) -> tuple[bool, list[int]]:
        """Take a change feed's batch: queue states into the heap, freed slots credited.
        Returns whether the loop should wake, and the bare ids to re-read (`refresh`)."""
        changes = list(changes)
        released = [c for c in changes if isinstance(c, Released)]
        ids = [c for c in changes if isinstance(c, int)]
        if ids:  # a bare id may be a running job that stopped: whose, we do not know
            released.append(Released(None))
        credited = self.release(released)
        states = [c for c in changes if isinstance(c, QueuedJob | Dequeued)]
        return self.apply(states) or bool(ids) or credited, ids

    def hold(self, held: dict[int, Hold]) -> None:
        """The claim held these jobs back for their groups (fairness.py)."""
        if held:
            with self._lock:
                self._heap.hold(held)

    def release(self, released: Iterable[Released]) -> bool:
        """Jobs stopped running: their groups' set-aside jobs may be offered again. True if
        that offers any (the loop has something new to try)."""
        credited = False
        with self._lock:
            for item in released:
                if item.owner_id is None:
                    credited = self._heap.release_all() or credited
                else:
                    credited = self._heap.release(item.owner_id, item.concurrency_key) or credited
        return credited

    def forget(self, ids: Iterable[int]) -> None:
        """Drop jobs that left the queue (claimed here, deleted)."""
        with self._lock:
            for job_id in ids:
                self._heap.discard(job_id)
                self._note(job_id, Dequeued(job_id))

    def reconcile(self) -> None:
        """Replace the heap with store.pending(), then replay patches that raced the read.

        Without the replay, a job submitted after the read but notified before the
        replace would vanish from the heap until the next reconcile. Notified states are
        replayed as they were given (notifications arrive in commit order, and any later
        change is notified after them); jobs the store was read for are read again.
        """
        with self._reconcile_lock:
            with self._lock:
                self._touched = {}
            try:
                jobs = self._store.pending()
                skew = self._store.now() - self._clock()
            except Exception:
                with self._lock:
                    self._touched = None
                raise
            with self._lock:
                self._heap.replace_all(jobs, self._clock() + skew)
                touched, self._touched = self._touched, None
                for state in touched.values():
                    if state is not None:
                        self._put(state)
            self.skew = skew
            self.refresh(job_id for job_id, state in touched.items() if state is None)

    def _apply(self, jobs: list[QueuedJob], ids: set[int]) -> None:
        """Put what the store said of `ids` in the heap: a job it left out is not pending."""
        with self._lock:
            for job_id in ids - {job.id for job in jobs}:
                self._put(Dequeued(job_id))
            for job in jobs:
                self._put(job)
            for job_id in ids:
                self._note(job_id, None)  # read from the store: read again if replayed

    def _put(self, state: QueueState) -> bool:
        """Upsert a pending job or drop one that is not; True for a pending one."""
        if isinstance(state, QueuedJob):
            self._heap.upsert(state)
            return True
        self._heap.discard(state.id)
        return False

    def _note(self, job_id: int, state: QueueState | None) -> None:
        """Remember a patch made while a reconcile reads (the last one of a job wins)."""
        if self._touched is not None:
            self._touched[job_id] = state
