"""Socket.IO connection handling: authenticate, join the server-chosen room, track sessions.

A browser authenticates with its session cookie, a script with `auth={"token": ...}`;
anything else is refused. Each socket is remembered under the credentials it was opened
with (its login, its user's sessions, its token), so that ending those credentials over
HTTP can close it: a socket otherwise keeps the session or token it connected with.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from flask import request, session
from flask_login import current_user
from flask_socketio import SocketIO, disconnect, join_room

from ..auth.tokens import live_token
from ..extensions import db
from ..models import User
from .rooms import ADMINS, user_room

LOGIN_KEY = "login_key"  # set in the session at login; names that login's sockets


def login_key(key: str) -> str:
    """The sockets of one login session (one browser's login)."""
    return f"login:{key}"


def user_sessions_key(user_id: int) -> str:
    """The sockets a user opened with any session cookie (not with a token)."""
    return f"sessions:{user_id}"


def token_key(token_id: int) -> str:
    """The sockets opened with one API token."""
    return f"token:{token_id}"


class SessionSockets:
    """Which socket ids were opened under which credentials (keys above), in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sids: dict[str, set[str]] = defaultdict(set)

    def add(self, key: str, sid: str) -> None:
        with self._lock:
            self._sids[key].add(sid)

    def discard(self, sid: str) -> None:
        with self._lock:
            for key in [k for k, sids in self._sids.items() if sid in sids]:
                self._sids[key].discard(sid)
                if not self._sids[key]:
                    del self._sids[key]

    def pop(self, key: str) -> set[str]:
        with self._lock:
            return self._sids.pop(key, set())


def authenticate(auth: object) -> tuple[User, list[str]] | None:
    """The session's user, else the user of a valid `auth={"token": ...}`; with the keys
    that name the credentials used."""
    if current_user.is_authenticated:
        user = current_user._get_current_object()
        keys = [user_sessions_key(user.id)]
        if session.get(LOGIN_KEY):
            keys.append(login_key(session[LOGIN_KEY]))
        return user, keys
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str) and token:
        found = live_token(db.session, token)
        if found is not None:
            token_id, user = found
            return user, [token_key(token_id)]
    return None


def register_handlers(socketio: SocketIO, sockets: SessionSockets,
                      opened: Callable[[], None] = lambda: None) -> None:
    """`opened` is called for every socket admitted, before it joins its room."""
    @socketio.on("connect")
    def on_connect(auth=None):
        found = authenticate(auth)
        db.session.remove()
        if found is None:
            raise ConnectionRefusedError("authentication required")
        opened()
        user, keys = found
        join_room(ADMINS if user.is_admin else user_room(user.id))
        for key in keys:
            sockets.add(key, request.sid)

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        sockets.discard(request.sid)


def close_sockets(server: Any, sockets: SessionSockets, keys: Iterable[str]) -> None:
    """Disconnect this process's sockets opened under any of `keys`."""
    for key in keys:
        for sid in sockets.pop(key):
            server.disconnect(sid, namespace="/", ignore_queue=True)


__all__ = ["SessionSockets", "register_handlers", "close_sockets", "disconnect"]
