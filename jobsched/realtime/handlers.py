"""Socket.IO connection handling: authenticate, join the server-chosen room, track sessions.

A browser authenticates with its session cookie, a script with `auth={"token": ...}`;
anything else is refused. Sockets opened under a login session are remembered so that
logging out over HTTP can close them (a socket otherwise keeps the session it connected with).
"""
from __future__ import annotations

import threading
from collections import defaultdict

from flask import request, session
from flask_login import current_user
from flask_socketio import SocketIO, disconnect, join_room

from ..extensions import db
from ..models import User
from .rooms import ADMINS, user_room

LOGIN_KEY = "login_key"  # set in the session at login; names that login's sockets


class SessionSockets:
    """Which socket ids belong to which login session, in this process."""

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


def authenticate(auth: object) -> User | None:
    """The session's user, else the user of a valid `auth={"token": ...}`."""
    # Imported here: jobsched.auth's views import this package (to close sockets at logout).
    from ..auth.tokens import user_for_token

    if current_user.is_authenticated:
        return current_user._get_current_object()
    token = auth.get("token") if isinstance(auth, dict) else None
    if isinstance(token, str) and token:
        return user_for_token(db.session, token)
    return None


def register_handlers(socketio: SocketIO, sockets: SessionSockets) -> None:
    @socketio.on("connect")
    def on_connect(auth=None):
        user = authenticate(auth)
        db.session.remove()
        if user is None:
            raise ConnectionRefusedError("authentication required")
        join_room(ADMINS if user.is_admin else user_room(user.id))
        if current_user.is_authenticated and session.get(LOGIN_KEY):
            sockets.add(session[LOGIN_KEY], request.sid)

    @socketio.on("disconnect")
    def on_disconnect(reason=None):
        sockets.discard(request.sid)


def close_session_sockets(socketio: SocketIO, sockets: SessionSockets, key: str | None) -> None:
    """Disconnect every socket opened under this login (called at logout)."""
    if not key:
        return
    for sid in sockets.pop(key):
        socketio.server.disconnect(sid, namespace="/")


__all__ = ["SessionSockets", "register_handlers", "close_session_sockets", "disconnect"]
