"""Who is calling the API: a Bearer token, or a browser's session cookie.

A token in the Authorization header decides alone (a bad one is a 401 even with a session).
A session-authenticated change must carry the page's CSRF token in `X-CSRFToken`: the app's
CSRFProtect leaves the API to itself, since token calls have no CSRF token and need none (a
cross-site page cannot set an Authorization header).
"""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from werkzeug.exceptions import Unauthorized
from wtforms import ValidationError

from ..auth import bearer_token
from ..auth.tokens import user_for_token
from ..extensions import db
from ..models import User

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")


def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
    """Resource decorator: authenticate the request (401 otherwise) before the view runs."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.api_user = authenticate()
        return view(*args, **kwargs)

    return wrapper


def caller() -> User:
    """The user this request authenticated as (inside an `authenticated` resource)."""
    return g.api_user


def authenticate() -> User:
    """The token's user, or the session's user (with a valid CSRF token on changes)."""
    token = bearer_token()
    if token is not None:
        user = user_for_token(db.session, token)
        if user is None:
            raise Unauthorized("The token is invalid or revoked.")
        return user
    if current_user.is_authenticated:
        if request.method not in SAFE_METHODS:
            check_csrf_header()
        return current_user._get_current_object()
    raise Unauthorized("Authentication required: log in, or send "
                       "'Authorization: Bearer <token>'.")


def check_csrf_header() -> None:
    """Require the session's CSRF token in a header (CSRFError: 400)."""
    names = current_app.config.get("WTF_CSRF_HEADERS") or DEFAULT_CSRF_HEADERS
    sent = next((request.headers[n] for n in names if request.headers.get(n)), None)
    try:
        validate_csrf(sent)
    except ValidationError as error:
        raise CSRFError(f"{error} Send the page's CSRF token in the X-CSRFToken header.") \
            from None
