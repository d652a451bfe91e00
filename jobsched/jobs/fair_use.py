"""Fair use on the way in (SPEC §10): who may ask for high priority, how many pending jobs one
owner may have, and how fast one user may submit.

Each rule is decided here once; the job service, the API and the pages call these. A user's
own limits (users.max_pending, users.may_use_high, set by an admin) win over the
deployment's defaults. The running cap (users.max_running) is the scheduler's claim's.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app
from limits import RateLimitItem, parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import TooManyRequests

from ..extensions import limiter, limiter_storage_lock
from ..models import User
from ..scheduler.limits import DEFAULT_MAX_PENDING_PER_USER
from ..scheduler.states import JobStatus, Priority
from ..storage.counts import owner_jobs
from .errors import Forbidden, QuotaExceeded

# PostgreSQL: the class half of the (class, owner id) transaction-scoped advisory lock that
# serialises one owner's additions to the queue. A two-int4 key, so it never meets the
# bigint-keyed locks of the claim, the counts or the accounts.
PENDING_LOCK_CLASS = 0x6A717561  # "jqua"
ADMINS_ONLY = "admins"  # JOBSCHED_HIGH_PRIORITY's value that reserves high for admins


@dataclass(frozen=True, slots=True)
class FairUse:
    """The deployment's defaults for every user (SPEC §10 JOBSCHED_*)."""

    max_pending: int = DEFAULT_MAX_PENDING_PER_USER
    high_priority: str = "all"
    max_running: int | None = None  # judged by the claim; here for the admin page to show
    submit_rate: str | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FairUse:
        return cls(max_pending=config["JOBSCHED_MAX_PENDING_PER_USER"],
                   high_priority=config["JOBSCHED_HIGH_PRIORITY"],
                   max_running=config.get("JOBSCHED_MAX_RUNNING_PER_USER"),
                   submit_rate=config.get("JOBSCHED_SUBMIT_RATE"))


DEFAULT_RULES = FairUse()  # SPEC §10's defaults, for callers with no app (scripts, tests)


def current_rules() -> FairUse:
    """The current app's fair-use defaults."""
    return FairUse.from_config(current_app.config)


# -- high priority ----------------------------------------------------------------------------


def may_use_high(user: User, rules: FairUse) -> bool:
    """Admins always; otherwise the user's own setting, else the deployment's policy."""
    if user.is_admin:
        return True
    if user.may_use_high is not None:
        return user.may_use_high
    return rules.high_priority != ADMINS_ONLY


def check_priority(user: User, priority: Any, rules: FairUse) -> None:
    """Refuse (403 naming `priority`) a high priority this user may not use."""
    if priority == Priority.HIGH.value and not may_use_high(user, rules):
        raise Forbidden("Only administrators may submit high-priority jobs here.",
                        {"priority": "High priority is for administrators; use medium or low."})


# -- pending quota ----------------------------------------------------------------------------


def reserve_pending(session: Session, owner_id: int, adding: int, rules: FairUse) -> None:
    """Refuse (QuotaExceeded) unless the owner may have `adding` more pending jobs.

    Call inside the write transaction that adds them, before the write. Two such
    transactions for one owner never count at once, so two creates at limit - 1 cannot
    both pass: on SQLite the transaction already holds the database's one write lock
    (BEGIN IMMEDIATE); on PostgreSQL a per-owner advisory lock held until commit orders
    them, and READ COMMITTED lets the count after it see the previous one's jobs. The count
    is the kept totals (storage/counts.py), written in the writers' own transactions: a few
    rows an owner, not a scan of the queue.
    """
    if session.get_bind(User.__mapper__).dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(PENDING_LOCK_CLASS, owner_id)))
    own_limit, pending = session.execute(select(
        select(User.max_pending).where(User.id == owner_id).scalar_subquery(),
        owner_jobs(owner_id, JobStatus.PENDING.value),
    )).one()
    limit = own_limit if own_limit is not None else rules.max_pending
    if pending + adding > limit:
        raise QuotaExceeded(limit)


# -- submission rate --------------------------------------------------------------------------


class SubmitRateExceeded(TooManyRequests):
    """429 with Retry-After: the user submitted JOBSCHED_SUBMIT_RATE's worth already."""

    def __init__(self, rate: str, retry_after: int) -> None:
        super().__init__(f"Too many job submissions: at most {rate} per user. "
                         f"Try again in {retry_after} s.", retry_after=retry_after)
        self.rate = rate


@contextmanager
def submitting(user: User, rules: FairUse, count: int = 1) -> Iterator[None]:
    """Spend `count` of the user's submissions for the block (SubmitRateExceeded when they
    are used up); a block that raises gives them back, so only jobs created count.

    The spend is the storage's atomic increment, tested after it (Flask-Limiter's own
    decorator tests first and counts later, which concurrent requests all pass). Fixed
    windows, whatever RATELIMIT_STRATEGY says, so a refund is an exact decrement.
    """
    if rules.submit_rate is None or not limiter.enabled:
        yield
        return
    item, strategy, key = parse(rules.submit_rate), FixedWindowRateLimiter(limiter.storage), \
        _rate_key(user)
    with limiter_storage_lock():
        allowed = strategy.hit(item, *key, cost=count)
    if not allowed:  # the hit counted anyway: a refused batch must not eat what is left
        _refund(item, key, count)
        raise SubmitRateExceeded(rules.submit_rate, _retry_after(strategy, item, key))
    try:
        yield
    except BaseException:
        _refund(item, key, count)
        raise


def _refund(item: RateLimitItem, key: tuple[str, ...], count: int) -> None:
    with limiter_storage_lock():
        limiter.storage.incr(item.key_for(*key), item.get_expiry(), amount=-count)


def _rate_key(user: User) -> tuple[str, ...]:
    """One count per user id (not per address: scripts share addresses), per deployment."""
    return (current_app.config["JOBSCHED_SOCKETIO_CHANNEL"], "submissions", str(user.id))


def _retry_after(strategy: FixedWindowRateLimiter, item: RateLimitItem,
                 key: tuple[str, ...]) -> int:
    with limiter_storage_lock():
        reset = strategy.get_window_stats(item, *key).reset_time
    return max(1, math.ceil(reset - time.time()))
