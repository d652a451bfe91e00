"""Queue order (SPEC §5, and §10's queue policy) and the in-memory heap of pending jobs
each scheduler keeps.

The heap decides what to *try*; the store's atomic claim decides who *gets* it, so a stale
entry here costs one failed claim, never a double run.
"""
from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import UTC, datetime

from .clock import as_utc, from_micros, to_micros
from .fairness import Group, Hold
from .policy import STRICT, QueuePolicy, Tier, eligible_since
from .states import PRIORITY_RANK
from .store import QueuedJob

__all__ = ["NO_DEADLINE", "PendingHeap", "from_micros", "queue_key", "to_micros"]

NO_DEADLINE = datetime.max.replace(tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The second key of an entry is its deadline in microseconds, offset by its tier: a late
# job's (feasible_first) after every feasible one's, and one shared int for "no deadline",
# after both. Any datetime's microseconds (year 9999 is about 2**58) stay below the offsets;
# the shared int means a job without a deadline costs nothing for it.
_LATE_US = 1 << 60
_NO_DEADLINE_US = 1 << 62
# Compact when the heaps hold more than twice the live entries (plus slack for tiny heaps).
_COMPACT_SLACK = 64

# Entries are plain tuples, the smallest thing heapq can order:
#   ready:   (rank, deadline_key, id, group)            ordered exactly as queue_key
#   waiting: (run_at_us, rank, deadline_key, id, group) ordered by when it becomes eligible
# `group` is the job's fair-use group, (owner, concurrency key), one tuple shared by all the
# group's jobs (None when unknown); ids are unique, so it never takes part in the order.
GroupOf = tuple[int, str | None] | None
ReadyEntry = tuple[int, int, int, GroupOf]
WaitingEntry = tuple[int, int, int, int, GroupOf]
# What the queue policy places a job by, in microseconds: (rank, deadline or None, expected
# run time, eligible since or None). Kept per job only under a policy that changes over time.
Basis = tuple[int, int | None, int, int | None]


def queue_key(
    job: QueuedJob, policy: QueuePolicy = STRICT, now: datetime | None = None,
) -> tuple[int, int, datetime, int]:
    """The order at `now`: class (its priority, or the one aging gave it), tier (policy.py),
    earliest deadline (none last), then id, so the order is total. `now` is needed only by
    a policy whose order changes over time.

    `priority` may be a Priority or its string: the enum is a str, so both hash alike.
    """
    deadline = as_utc(job.deadline)
    since = eligible_since(as_utc(job.queued_at), as_utc(job.run_at))
    place = policy.place(PRIORITY_RANK[job.priority], deadline, job.expected_seconds, since,
                         now or _EPOCH)
    return (place.rank, place.tier, deadline or NO_DEADLINE, job.id)


def _basis(job: QueuedJob) -> Basis:
    since = eligible_since(as_utc(job.queued_at), as_utc(job.run_at))
    return (PRIORITY_RANK[job.priority],
            None if job.deadline is None else to_micros(job.deadline),
            round((job.expected_seconds or 0) * 1_000_000),
            None if since is None else to_micros(since))


def _deadline_key(tier: int, deadline_us: int | None) -> int:
    if deadline_us is None:
        return _NO_DEADLINE_US
    return deadline_us + _LATE_US if tier == Tier.LATE else deadline_us


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

    Under a queue policy whose order changes over time (aging, feasible_first), the heap
    keeps each job and a heap of *timers*, the instants at which a ready job's place
    changes; candidates() re-keys the jobs whose instant has come before it reads the order.
    """

    def __init__(self, jobs: Iterable[QueuedJob] = (), policy: QueuePolicy = STRICT) -> None:
        self._policy = policy
        self._bases: dict[int, Basis] = {}  # only when the policy changes over time
        self._timers: list[tuple[int, int]] = []  # (instant_us, job id)
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
        self._bases.pop(job_id, None)
        if self._entries.pop(job_id, None) is not None:
            self._maybe_compact()

    def replace_all(self, jobs: Iterable[QueuedJob], now: datetime | None = None) -> None:
        """Resync to exactly this set of pending jobs (load at start, periodic reconcile),
        placed as of `now` (the store's time, if known). Every group is unblocked: the next
        claims find out afresh what the caps hold."""
        if now is not None:
            self._horizon_us = max(self._horizon_us, to_micros(now))
        self._groups.clear()
        self._bases.clear()
        self._timers.clear()
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
        """Its waiting entry while its run_at is ahead, else its ready entry as of the
        latest `now` seen (under a policy that changes over time, a timer is set for when
        that changes)."""
        group = self._group_of(job)
        if not self._policy.changes_over_time:  # SPEC §5's order: the short way
            deadline = _NO_DEADLINE_US if job.deadline is None else to_micros(job.deadline)
            ready: ReadyEntry = (PRIORITY_RANK[job.priority], deadline, job.id, group)
        else:
            basis = self._bases[job.id] = _basis(job)
            ready, changes_at = self._placed(job.id, basis, group, self._horizon_us)
            self._set_timer(job.id, changes_at)
        if job.run_at is not None:
            run_at = to_micros(job.run_at)
            if run_at > self._horizon_us:
                return (run_at, *ready)  # placed again when it becomes eligible
        return ready

    def _placed(
        self, job_id: int, basis: Basis, group: GroupOf, now_us: int,
    ) -> tuple[ReadyEntry, int | None]:
        """The ready entry of a job with this basis at `now_us`, and when it changes."""
        rank, tier, changes_at = self._policy.place_us(*basis, now_us)
        return (rank, _deadline_key(tier, basis[1]), job_id, group), changes_at

    def _set_timer(self, job_id: int, changes_at_us: int | None) -> None:
        if changes_at_us is not None:
            heapq.heappush(self._timers, (changes_at_us, job_id))

    def _group_of(self, job: QueuedJob) -> GroupOf:
        """The job's (owner, key), as the one tuple all of the group's entries share."""
        if job.owner_id is None:
            return None
        group = (job.owner_id, job.concurrency_key)
        return self._groups.setdefault(group, group)

    def _promote(self, now_us: int) -> None:
        """Move every waiting job whose run_at has come into the ready heap, and re-key
        every ready job whose place has changed by `now_us` (its timer has come)."""
        self._horizon_us = max(self._horizon_us, now_us)
        while self._waiting and self._waiting[0][0] <= now_us:
            entry = heapq.heappop(self._waiting)
            if self._entries.get(entry[3]) is entry:
                basis = self._bases.get(entry[3])
                ready = entry[1:]
                if basis is not None:  # placed as of now, which may differ from its run_at
                    ready, changes_at = self._placed(entry[3], basis, entry[4], now_us)
                    self._set_timer(entry[3], changes_at)
                self._entries[entry[3]] = ready
                heapq.heappush(self._ready, ready)
        while self._timers and self._timers[0][0] <= now_us:
            self._re_key(heapq.heappop(self._timers)[1], now_us)

    def _re_key(self, job_id: int, now_us: int) -> None:
        """A job's timer has come: place it anew, if it is still a ready job."""
        basis, current = self._bases.get(job_id), self._entries.get(job_id)
        if basis is None or current is None or len(current) != 4:
            return  # gone, or waiting: its promotion places it
        entry, changes_at = self._placed(job_id, basis, current[3], now_us)
        if entry == current:
            return  # a timer an older entry of the job left: its own one is still set
        self._entries[job_id] = entry
        heapq.heappush(self._ready, entry)
        self._set_timer(job_id, changes_at)

    def _maybe_compact(self) -> None:
        held = len(self._ready) + len(self._waiting) + sum(map(len, self._parked.values()))
        if len(self._timers) > 2 * len(self._entries) + _COMPACT_SLACK:
            self._timers = [t for t in self._timers if t[1] in self._entries]
            heapq.heapify(self._timers)
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
