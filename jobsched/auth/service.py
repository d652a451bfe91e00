"""Account rules shared by the register form and `flask create-user`."""
from __future__ import annotations

import re
from functools import cache

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..database import IMMEDIATE, commit_keeping_loaded
from ..models import User
from ..runtime import cpu_bound
from ..scheduler.limits import MAX_PASSWORD

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
MIN_PASSWORD = 8
DEFAULT_HASH_METHOD = "scrypt"  # werkzeug's default; tests may choose a faster one
# Any constant: the transaction-scoped advisory lock that orders account inserts (PostgreSQL).
ACCOUNTS_LOCK_KEY = 0x6A6F627375737273  # "jobsusrs"


class AccountError(ValueError):
    """Input that cannot make an account; `errors` maps field name to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def username_problem(username: str) -> str | None:
    if not USERNAME_RE.match(username or ""):
        return "Use 3–32 letters, digits, '_', '.' or '-'."
    return None


def password_problem(password: str) -> str | None:
    if len(password or "") < MIN_PASSWORD:
        return f"Use at least {MIN_PASSWORD} characters."
    if len(password) > MAX_PASSWORD:
        return f"Use at most {MAX_PASSWORD:,} characters."
    return None


def find_user(session: Session, username: str) -> User | None:
    """Usernames are unique case-insensitively, so look them up that way."""
    return session.scalar(select(User).where(func.lower(User.username) == username.lower()))


def create_account(
    session: Session, username: str, password: str, email: str | None = None,
    admin: bool | None = None,
) -> User:
    """Create a user; the first account ever is an admin unless `admin` says otherwise."""
    errors = {k: v for k, v in (("username", username_problem(username)),
                                ("password", password_problem(password))) if v}
    user = User(username=username, email=(email or None))
    if not errors:
        # Before any read, and before the lock: hashing is slow on purpose and lets other
        # requests run meanwhile (cpu_bound), and a SQLite transaction that has read cannot
        # write once another one has written.
        hash_password(user, password)
    if not errors.get("username") and find_user(session, username):
        errors["username"] = "That username is taken."
    if errors:
        raise AccountError(errors)
    user.is_admin = bool(admin)
    try:
        _lock_accounts(session)
        if admin is None:
            user.is_admin = session.scalar(select(func.count(User.id))) == 0
        session.add(user)
        session.commit()
    except IntegrityError:  # a concurrent registration took the name first
        session.rollback()
        raise AccountError({"username": "That username is taken."}) from None
    return user


def _lock_accounts(session: Session) -> None:
    """Make "count the accounts, then insert" one step: concurrent first registrations
    would otherwise all count none and all become admins. The lock lasts until the
    insert commits, so the next registration counts it (READ COMMITTED reads anew)."""
    if session.get_bind(User.__mapper__).dialect.name == "sqlite":
        session.commit()  # end the read transaction: the write lock is taken at BEGIN
        session.connection(execution_options=IMMEDIATE)
    else:
        session.execute(select(func.pg_advisory_xact_lock(ACCOUNTS_LOCK_KEY)))


def end_sessions(session: Session, user: User) -> None:
    """Raise the user's session version: every session and remember cookie issued before
    names an old version and stops working (User.get_id)."""
    user.session_version = User.session_version + 1  # in SQL: two at once both count
    session.commit()


def set_password(session: Session, user: User, password: str) -> None:
    """A new password, which also ends every session and remember cookie issued before."""
    hash_password(user, password)
    end_sessions(session, user)


def hash_password(user: User, password: str) -> None:
    """Set the user's password hash; slow on purpose, so off the event loop (cpu_bound)."""
    method = hash_method()  # read here: the app context stays with the request
    cpu_bound(lambda: user.set_password(password, method))


def password_matches(user: User, password: str) -> bool:
    """Whether `password` is the user's; as slow as hashing, so off the event loop too."""
    return cpu_bound(lambda: user.check_password(password))


def hash_method() -> str:
    """The password hash method (config PASSWORD_HASH_METHOD, scrypt by default)."""
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_HASH_METHOD)
    return DEFAULT_HASH_METHOD


@cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-real-password", method)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user with these credentials, or None. An unknown username costs a hash check
    too, so response times do not reveal which usernames exist."""
    user = None if username_problem(username) else find_user(session, username)
    # End the read before the hash, which lets other requests run meanwhile (cpu_bound): on
    # SQLite a transaction that has read cannot write (a new token) once another has written.
    commit_keeping_loaded(session)
    if user is None:
        method = hash_method()
        cpu_bound(lambda: check_password_hash(_dummy_hash(method), password))
        return None
    return user if password_matches(user, password) else None
