"""Starting and ending logins and tokens, together with the sockets opened under them
(a socket keeps the session or token it connected with, so each end closes them too)."""
from __future__ import annotations

import secrets

from flask import current_app, request, session
from flask_login import login_user, logout_user
from flask_login.config import COOKIE_NAME

from ..extensions import db
from ..models import User
from ..realtime import end_token_sockets, end_user_session_sockets, logout_sockets
from ..realtime.handlers import LOGIN_KEY
from .service import end_sessions, set_password
from .tokens import revoke_token


def start_login(user: User, remember: bool = False) -> None:
    """Log `user` in on this browser (with a remember cookie when asked)."""
    login_user(user, remember=remember)
    # Names this login's Socket.IO connections, so logging out can close exactly those.
    session[LOGIN_KEY] = secrets.token_urlsafe(16)


def end_login() -> None:
    """Log this browser out, closing the sockets it opened under this login."""
    logout_sockets()
    logout_user()


def end_every_login(user: User) -> None:
    """End every session and remember cookie of `user`, on every device, this one included,
    and close their sockets. API tokens stay: they are revoked one by one."""
    end_sessions(db.session, user)
    end_user_session_sockets(user.id)
    logout_user()


def change_password(user: User, password: str) -> None:
    """Set a new password and end every other login of `user`; this browser stays logged
    in (with a new remember cookie if it had one)."""
    cookie_name = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)
    had_remember_cookie = cookie_name in request.cookies
    set_password(db.session, user, password)
    end_user_session_sockets(user.id)
    start_login(user, remember=had_remember_cookie)


def revoke(user: User, token_id: int) -> bool:
    """Revoke one of `user`'s live tokens and close the sockets opened with it; False when
    it is not theirs or already revoked."""
    if not revoke_token(db.session, user, token_id):
        return False
    end_token_sockets(token_id)
    return True

