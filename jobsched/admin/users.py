"""Reading the users for the admin page: their limits and how many of their jobs wait or run."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import User
from ..scheduler.states import JobStatus
from ..storage.counts import jobs_by_owner

COUNTED = (JobStatus.PENDING.value, JobStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class UserView:
    """A user as the page shows it."""

    user: User
    pending: int
    running: int


def live_counts(session: Session) -> dict[int, dict[str, int]]:
    """Pending and running jobs per owner, from the counts the triggers keep: one GROUP BY
    over a few rows per owner, however many jobs there are."""
    rows = session.execute(jobs_by_owner(COUNTED))
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for owner_id, status, jobs in rows:
        counts[owner_id][status] = int(jobs)
    return counts


def user_views(session: Session) -> list[UserView]:
    """Every user by name, with their pending and running jobs."""
    counts = live_counts(session)
    users = session.scalars(select(User).order_by(func.lower(User.username))).all()
    return [UserView(u, counts[u.id].get(JobStatus.PENDING.value, 0),
                     counts[u.id].get(JobStatus.RUNNING.value, 0)) for u in users]
