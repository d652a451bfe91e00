"""Queue order (SPEC §5) and the in-memory heap of pending jobs each scheduler keeps.

The heap decides what to *try*; the store's atomic claim decides who *gets* it, so a stale
entry here costs one failed claim, never a double run.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .clock import as_utc
from .fairness import Group, Hold
from .states import PRIORITY_RANK
from .store import QueuedJob

NO_DEADLINE = datetime.max.replace(tzinfo=UTC)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# One shared int for "no deadline": larger than any datetime's microseconds (year 9999 is
# about 2**58), and shared by every entry, so a job without a deadline costs nothing for it.
_NO_DEADLINE_US = 1 << 62
# Compact when the heaps hold more than twice the live entries (plus slack for tiny heaps).
_COMPACT_SLACK = 64

# Entries are plain tuples, the smallest thing heapq can order:
#   ready:   (rank, deadline_us, id, group)            ordered exactly as queue_key
#   waiting: (run_at_us, rank, deadline_us, id, group) ordered by when it becomes eligible
# `group` is the job's fair-use group, (owner, concurrency key), one tuple shared by all the
# group's jobs (None when unknown); ids are unique, so it never takes part in the order.
GroupOf = tuple[int, str | None] | None
ReadyEntry = tuple[int, int, int, GroupOf]
WaitingEntry = tuple[int, int, int, int, GroupOf]


def queue_key(job: QueuedJob) -> tuple[int, datetime, int]:
    """SPEC §5 order: priority, earliest deadline (none last), then id, so the order is total.

    `priority` may be a Priority or its string: the enum is a str, so both hash alike.
    """
    return (PRIORITY_RANK[job.priority], as_utc(job.deadline) or NO_DEADLINE, job.id)


def to_micros(value: datetime) -> int:
    """Exact microseconds since the epoch: an int orders like the datetime and is smaller."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> datetime:
    """The aware UTC datetime for microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


def _ready_entry(job: QueuedJob, group: GroupOf) -> ReadyEntry:
    deadline = _NO_DEADLINE_US if job.deadline is None else to_micros(job.deadline)
    return (PRIORITY_RANK[job.priority], deadline, job.id, group)


class PendingHeap:
    """Pending jobs in queue order, with lazy invalidation.

    `_entries` maps a job id to its one current entry; a heap entry that is not that very
    object (identity, not equality) is stale and dropped when it reaches the top. Jobs
    waiting for their run_at sit in a second heap keyed by run_at, so they never block
    eligible jobs queued behind them. Not thread-safe: the node guards it with a lock.

    Fair use (SPEC §10): when the claim holds a job back for its group (an owner at its cap,
    an owner's concurrency key at its limit), the group is *blocked*: its ready entries are
    set aside in a heap of the group's own as candidates() meets them, so the jobs behind
    it are offered instead and a scheduler whose every candidate is held sleeps. Each slot
    the group frees (`release`) lets its first set-aside job be offered again (a *credit*),
    until the claim holds the group again; a reconcile starts afresh.
    """

    def __init__(self, jobs: Iterable[QueuedJob] = ()) -> None:
        self._entries: dict[int, ReadyEntry | WaitingEntry] = {}
        self._ready: list[ReadyEntry] = []
        self._waiting: list[WaitingEntry] = []
        self._groups: dict[tuple[int, str | None], GroupOf] = {}  # one tuple per group
        self._blocked: dict[Group, int] = {}  # blocked group -> its credit
        self._parked: dict[Group, list[ReadyEntry]] = {}
        # The latest `now` seen by candidates(): a run_at at or before it is already due.
        self._horizon_us = -1
        self.replace_all(jobs)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    def upsert(self, job: QueuedJob) -> None:
        """Add a new pending job or re-key a changed one; its older entries become stale."""
        entry = self._entry_for(job)
        if self._entries.get(job.id) == entry:
            return  # unchanged: keep the entry already in place, push nothing
        self._entries[job.id] = entry
        if len(entry) == 4:
            heapq.heappush(self._ready, entry)
        else:
            heapq.heappush(self._waiting, entry)
        self._maybe_compact()

    def discard(self, job_id: int) -> None:
        """Forget a job (claimed, cancelled, deleted); its heap entries are now stale."""
        if self._entries.pop(job_id, None) is not None:
            self._maybe_compact()

    def replace_all(self, jobs: Iterable[QueuedJob]) -> None:
        """Resync to exactly this set of pending jobs (load at start, periodic reconcile).
        Every group is unblocked: the next claims find out afresh what the caps hold."""
        self._groups.clear()
        self._entries = {job.id: self._entry_for(job) for job in jobs}
        self._blocked.clear()
        self._rebuild()

    def candidates(self, now: datetime, n: int) -> list[int]:
        """Ids of the first `n` eligible jobs (run_at None or <= now), in queue order,
        leaving out blocked groups' jobs (but for their credit)."""
        self._promote(to_micros(now))
        found: list[ReadyEntry] = []
        while self._ready and len(found) < n:
            entry = heapq.heappop(self._ready)
            if self._entries.get(entry[2]) is not entry:
                continue  # stale entries are simply dropped here
            group = self._blocking(entry[3])
            if group is None:
                found.append(entry)
            else:
                heapq.heappush(self._parked.setdefault(group, []), entry)
        for entry in found:  # peeking, not taking: the claim decides what leaves the heap
            heapq.heappush(self._ready, entry)
        for group, credit in list(self._blocked.items()):
            if credit > 0:
                found.extend(self._peek_parked(group, credit))
        found.sort()
        return [entry[2] for entry in found[:n]]

    def hold(self, held: dict[int, Hold]) -> None:
        """The claim held these jobs back: block their groups (no credit left)."""
        for hold in held.values():
            self._blocked[hold.group] = 0

    def release(self, owner_id: int, concurrency_key: str | None) -> bool:
        """A job of this owner (with this key) stopped running: one more of the owner's
        set-aside jobs, and of the key's, may be offered again. True if any was set aside."""
        credited = False
        for group in {(owner_id, concurrency_key), (owner_id, None)}:
            if group in self._blocked:
                self._blocked[group] += 1
                credited = True
        return credited

    def release_all(self) -> bool:
        """Some job stopped running, whose owner is not known: credit every group."""
        for group in self._blocked:
            self._blocked[group] += 1
        return bool(self._blocked)

    def _blocking(self, job_group: GroupOf) -> Group | None:
        """The blocked group a job of `job_group` belongs to, if any (its key's first)."""
        if not self._blocked or job_group is None:
            return None
        owner, key = job_group
        for group in ((owner, key), (owner, None)):
            if group in self._blocked:
                return group
        return None

    def _peek_parked(self, group: Group, n: int) -> list[ReadyEntry]:
        """The first `n` live set-aside entries of a group, left in place; a group with none
        left is unblocked."""
        parked = self._parked.get(group, [])
        found: list[ReadyEntry] = []
        while parked and len(found) < n:
            entry = heapq.heappop(parked)
            if self._entries.get(entry[2]) is entry:
                found.append(entry)
        for entry in found:
            heapq.heappush(parked, entry)
        if not parked:
            self._parked.pop(group, None)
            self._blocked.pop(group, None)
        return found

    def next_wakeup(self) -> datetime | None:
        """Earliest run_at among jobs not yet eligible (None when no job waits)."""
        while self._waiting:
            entry = self._waiting[0]
            if self._entries.get(entry[3]) is entry:
                return from_micros(entry[0])
            heapq.heappop(self._waiting)
        return None

    def _entry_for(self, job: QueuedJob) -> ReadyEntry | WaitingEntry:
        ready = _ready_entry(job, self._group_of(job))
        if job.run_at is None:
            return ready
        run_at = to_micros(job.run_at)
        if run_at <= self._horizon_us:
            return ready
        return (run_at, *ready)

    def _group_of(self, job: QueuedJob) -> GroupOf:
        """The job's (owner, key), as the one tuple all of the group's entries share."""
        if job.owner_id is None:
            return None
        group = (job.owner_id, job.concurrency_key)
        return self._groups.setdefault(group, group)

    def _promote(self, now_us: int) -> None:
        """Move every waiting job whose run_at has come into the ready heap."""
        self._horizon_us = max(self._horizon_us, now_us)
        while self._waiting and self._waiting[0][0] <= now_us:
            entry = heapq.heappop(self._waiting)
            if self._entries.get(entry[3]) is entry:
                ready = entry[1:]
                self._entries[entry[3]] = ready
                heapq.heappush(self._ready, ready)

    def _maybe_compact(self) -> None:
        held = len(self._ready) + len(self._waiting) + sum(map(len, self._parked.values()))
        if held > 2 * len(self._entries) + _COMPACT_SLACK:
            self._rebuild()

    def _rebuild(self) -> None:
        """Rebuild both heaps from the live entries only: O(n), amortised by _maybe_compact.
        Set-aside entries go back to the ready heap; candidates() sets them aside again."""
        self._parked.clear()
        self._ready = [e for e in self._entries.values() if len(e) == 4]  # type: ignore[misc]
        self._waiting = [e for e in self._entries.values() if len(e) == 5]  # type: ignore[misc]
        heapq.heapify(self._ready)
        heapq.heapify(self._waiting)
