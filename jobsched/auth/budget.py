"""The failed-login budget (SPEC §3, §14): 10 failures a minute per username and address,
one budget for the login form, `POST /jobs/api/auth/token` and the current-password check
on /account.

An attempt spends from the budget *before* its password is checked, with the storage's
atomic increment deciding: 200 concurrent guesses get at most 10 password checks, whatever
their timing. (Flask-Limiter's `deduct_when` tests the limit before a request and records
the hit after it, so concurrent failures all passed the test.) A correct password gives its
unit back, so a user who types it right never uses up their own budget; while the budget is
spent, even the right password waits for the window to end, or guessing could go on.

The counts live in the rate limiter's storage: memory in one process, Redis (shared by
every web node) when REDIS_URL is set.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TypeVar

from flask import current_app, request
from werkzeug.exceptions import TooManyRequests

from ..extensions import limiter, limiter_storage_lock

FAILURES = 10
WINDOW_SECONDS = 60
MESSAGE = "Too many failed logins for this username. Wait a minute, then try again."

T = TypeVar("T")


class BudgetSpent(TooManyRequests):
    """429 with Retry-After: this username has no attempts left from this address."""

    description = MESSAGE


def budget_key(username: str, address: str | None) -> str:
    """One budget per username (any case) and client address, per deployment."""
    channel = current_app.config["JOBSCHED_SOCKETIO_CHANNEL"]  # the deployment's prefix
    return f"{channel}:login-failures:{username.strip().lower()}|{address or '-'}"


def checked(username: str, check: Callable[[], T | None]) -> T | None:
    """Spend one attempt of `username`'s budget, then run the password `check`; a result
    that is not None (the password was right) refunds the attempt. BudgetSpent when none
    is left (the check is not run)."""
    if not limiter.enabled:
        return check()
    storage = limiter.storage
    key = budget_key(username, request.remote_addr)
    with limiter_storage_lock():
        if storage.incr(key, WINDOW_SECONDS) > FAILURES:
            raise BudgetSpent(retry_after=_seconds_left(storage.get_expiry(key)))
    result = check()
    if result is not None:
        # A refund racing the window's end can leave the next window one attempt richer;
        # harmless, and an atomic increment the storages all have.
        with limiter_storage_lock():
            storage.incr(key, WINDOW_SECONDS, amount=-1)
    return result


def _seconds_left(expiry: float) -> int:
    return max(1, math.ceil(expiry - time.time()))
