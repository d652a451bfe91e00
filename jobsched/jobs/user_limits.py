"""One user's own fair-use limits, read and set by an admin (SPEC §10): the API's
/users/{username}/limits and the /admin/users page both come here.

null means "the deployment's default". max_running takes effect at the schedulers' next
claim (and on PostgreSQL every scheduler is told at the commit, so the user's jobs its heap
set aside are offered again at once), max_pending and may_use_high at the user's next
submission.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ..database import IMMEDIATE
from ..models import User
from ..scheduler.limits import MAX_PENDING_PER_USER_RANGE, MAX_RUNNING_PER_USER_RANGE
from ..storage.listener import announce_limits
from .errors import Forbidden, UserNotFound, ValidationFailed
from .fields import int_between

LIMIT_FIELDS = ("max_running", "max_pending", "may_use_high")


def limits_of(user: User) -> dict[str, Any]:
    """The user's own limits as the API shows them (None: the default)."""
    return {name: getattr(user, name) for name in LIMIT_FIELDS}


def get_user_limits(session: Session, admin: User, username: str) -> User:
    """The account whose limits an admin asks for (403 for anyone else, 404 unknown)."""
    _require_admin(admin)
    return _find_account(session, username)


def set_user_limits(
    session: Session, admin: User, username: str, changes: Mapping[str, Any],
) -> User:
    """Set some or all of one user's limits; the fields left out keep their values."""
    _require_admin(admin)
    values = clean_limits(changes)
    session.commit()  # a write transaction of its own (SQLite: BEGIN IMMEDIATE)
    session.connection(execution_options=IMMEDIATE)
    try:
        user = _find_account(session, username)
        if values:
            session.execute(update(User).where(User.id == user.id).values(**values),
                            execution_options={"synchronize_session": False})
        if "max_running" in values:
            announce_limits(session.connection(), user.id)
    except BaseException:
        session.rollback()  # releases SQLite's write lock at once
        raise
    session.commit()  # expires `user`: it reloads with the new values
    return user


def clean_limits(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The limits in `changes`, checked; every bad field named at once (400)."""
    errors = {key: "Unknown field." for key in changes if key not in _CLEANERS}
    cleaned: dict[str, Any] = {}
    for key, value in changes.items():
        if key in _CLEANERS and value is not None:
            try:
                cleaned[key] = _CLEANERS[key](value)
            except ValueError as error:
                errors[key] = f"{error} Or null for the default."
        elif key in _CLEANERS:
            cleaned[key] = None
    if errors:
        raise ValidationFailed(errors, "Invalid limits.")
    return cleaned


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Must be true or false.")
    return value


_CLEANERS: dict[str, Callable[[Any], Any]] = {
    "max_running": int_between(*MAX_RUNNING_PER_USER_RANGE),
    "max_pending": int_between(*MAX_PENDING_PER_USER_RANGE),
    "may_use_high": _boolean,
}


def _require_admin(user: User) -> None:
    if not user.is_admin:
        raise Forbidden("Only administrators may see or change a user's limits.")


def _find_account(session: Session, username: str) -> User:
    """Usernames are unique case-insensitively, so they are looked up that way."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    if user is None:
        raise UserNotFound(username)
    return user
