"""Fair use in the claim (SPEC §10): which candidates may start under the per-user cap and
the concurrency keys, as plain Python. The SQL claim (storage/claim.py) says the same rule
in one statement; the in-memory store runs this one; tests hold the two in step.

The rule, for candidates taken in queue order (what a single pass that starts jobs one by
one would do):
1. A job is held back for its *owner* when the owner's running jobs, plus the owner's
   earlier candidates that its key let through, reach the owner's cap.
2. Else it is held back for its *key* when the running jobs of its (owner, key), plus the
   earlier candidates of that (owner, key), exceed its `concurrency_limit`.
3. Else it starts, while there is room (what the global limit leaves). The first job that
   may start but finds no room ends the pass: what follows is neither started nor judged.

Counting earlier candidates whether or not they start is what one pass would count: a job
held for its owner holds back every later job of that owner too, and one held for its key
every later job of that key. (Jobs sharing a key are meant to share one limit; where they
differ, each job's own limit applies to the count before it.)
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
    let_through: Counter[int] = Counter()  # earlier candidates of an owner its key let by
    started: list[int] = []
    held: dict[int, Hold] = {}
    for job in candidates:
        owner, key = job.owner_id, job.concurrency_key
        if key is not None:
            key_seen[(owner, key)] += 1  # this one included
        key_ok = key is None or (
            by_key[(owner, key)] + key_seen[(owner, key)] <= job.concurrency_limit)
        cap = caps.of(owner)
        owner_full = cap is not None and by_owner[owner] + let_through[owner] >= cap
        let_through[owner] += key_ok
        if owner_full or not key_ok:
            held[job.id] = Hold(owner, key, HeldBy.OWNER if owner_full else HeldBy.KEY)
        elif len(started) < room:
            started.append(job.id)
        else:
            break
    return started, held

