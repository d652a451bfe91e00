"""Account rules shared by the register form and `flask create-user`."""
from __future__ import annotations

import re
from functools import cache

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..database import commit_keeping_loaded
from ..models import User
from ..runtime import cpu_bound
from ..scheduler.limits import MAX_PASSWORD

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")
MIN_PASSWORD = 8
DEFAULT_HASH_METHOD = "scrypt"  # werkzeug's default; tests may choose a faster one


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
        # Before any read: hashing lets other requests run meanwhile (cpu_bound), and a
        # SQLite transaction that has read cannot write once another one has written.
        user.set_password(password, hash_method())
    if not errors.get("username") and find_user(session, username):
        errors["username"] = "That username is taken."
    if errors:
        raise AccountError(errors)
    if admin is None:
        admin = session.scalar(select(func.count(User.id))) == 0
    user.is_admin = admin
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # a concurrent registration took the name first
        session.rollback()
        raise AccountError({"username": "That username is taken."}) from None
    return user


def hash_method() -> str:
    """The password hash method (config PASSWORD_HASH_METHOD, scrypt by default)."""
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD", DEFAULT_HASH_METHOD)
    return DEFAULT_HASH_METHOD


@cache
def _dummy_hash(method: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not-a-real-password", method)


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The user with these credentials, or None. An unknown username costs a hash check
    too, so response times do not reveal which usernames exist."""
    from werkzeug.security import check_password_hash

    user = None if username_problem(username) else find_user(session, username)
    # End the read before the hash, which lets other requests run meanwhile (cpu_bound): on
    # SQLite a transaction that has read cannot write (a new token) once another has written.
    commit_keeping_loaded(session)
    if user is None:
        method = hash_method()
        cpu_bound(lambda: check_password_hash(_dummy_hash(method), password))
        return None
    return user if user.check_password(password) else None
