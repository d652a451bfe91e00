"""Fair use in the claim (SPEC §10): which candidates may start under the per-user cap and
the concurrency keys, as plain Python. The SQL claim (storage/claim.py) says the same rule
in one statement; the in-memory store runs this one; tests hold the two in step.

The rule, for candidates taken in queue order:
1. A keyed job may start when the running jobs of its (owner, key), plus the candidates of
   that (owner, key) before it, stay under its `concurrency_limit`.
2. Of the jobs rule 1 lets through, one may start when its owner's running jobs, plus that
   owner's earlier candidates let through, stay under the owner's cap.
3. The first `room` jobs let through by both start (`room`: what the global limit leaves).

Counting earlier candidates whether or not they start is exact for a single pass in queue
order: a candidate held back for its owner holds back every later one of that owner too.
(Jobs sharing a key are meant to share one limit; where they differ, each job's own limit
applies to the count before it.)
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

Group = tuple[int, str | None]  # (owner, concurrency key); key None: the owner's whole cap


class HeldBy(StrEnum):
    """Why a candidate did not start although a slot was free."""

    KEY = "key"  # its (owner, concurrency key) runs concurrency_limit jobs already
    OWNER = "owner"  # its owner runs as many jobs as the owner's cap allows


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the rule needs of an eligible pending job, given in queue order."""

    id: int
    owner_id: int
    concurrency_key: str | None = None
    concurrency_limit: int = 1


@dataclass(frozen=True, slots=True)
class Hold:
    """A candidate held back: by which group, and why."""

    owner_id: int
    concurrency_key: str | None
    reason: HeldBy

    @property
    def group(self) -> Group:
        """The group whose slots it waits for: (owner, key) or (owner, None)."""
        return (self.owner_id, self.concurrency_key if self.reason is HeldBy.KEY else None)


@dataclass(frozen=True, slots=True)
class Caps:
    """The per-user caps in force: a default (None: no cap) and admins' per-user values."""

    per_user: int | None = None
    by_owner: Mapping[int, int] | None = None

    def of(self, owner_id: int) -> int | None:
        own = self.by_owner.get(owner_id) if self.by_owner else None
        return own if own is not None else self.per_user


def pick(candidates: Iterable[Candidate], running: Iterable[tuple[int, str | None]],
         caps: Caps, room: int) -> tuple[list[int], dict[int, Hold]]:
    """The ids that start (at most `room`, in the given order) and the ones held back by a
    cap. `running` names the (owner, key) of every running job system-wide."""
    running = list(running)
    by_owner = Counter(owner for owner, _ in running)
    by_key = Counter(running)
    key_seen: Counter[tuple[int, str | None]] = Counter()
    owner_seen: Counter[int] = Counter()
    started: list[int] = []
    held: dict[int, Hold] = {}
    for job in candidates:
        if job.concurrency_key is not None:
            group = (job.owner_id, job.concurrency_key)
            key_seen[group] += 1
            if by_key[group] + key_seen[group] > job.concurrency_limit:
                held[job.id] = Hold(job.owner_id, job.concurrency_key, HeldBy.KEY)
                continue
        owner_seen[job.owner_id] += 1
        cap = caps.of(job.owner_id)
        if cap is not None and by_owner[job.owner_id] + owner_seen[job.owner_id] > cap:
            held[job.id] = Hold(job.owner_id, job.concurrency_key, HeldBy.OWNER)
        elif len(started) < room:
            started.append(job.id)
    return started, held
