"""Real time (SPEC §7): Socket.IO handlers in the web process and the sink that emits."""
from __future__ import annotations

from functools import partial

from flask import Flask, current_app, session

from ..extensions import socketio
from ..runtime import add_audience
from .facts import FactPublisher, RelayManager
from .handlers import (
    LOGIN_KEY,
    SessionSockets,
    close_sockets,
    login_key,
    register_handlers,
    token_key,
    user_sessions_key,
)
from .sink import SocketIOSink

SOCKETS = "jobsched.sockets"


def client_manager(app: Flask) -> RelayManager | None:
    """The Socket.IO client manager for this app: through Redis when there is a queue."""
    url = app.config.get("SOCKETIO_MESSAGE_QUEUE", app.config["REDIS_URL"])
    return RelayManager(url, app.config["JOBSCHED_SOCKETIO_CHANNEL"]) if url else None


def init_realtime(app: Flask) -> None:
    """Register the connect handlers and make every process's facts reach this app's
    sockets: its own directly, the others' through the queue (facts.py)."""
    app.extensions[SOCKETS] = SessionSockets()
    # socketio.init_app made a new server for this app: register on it (once per app).
    register_handlers(socketio, _AppSockets())
    sink = SocketIOSink(app, socketio, spawn=socketio.start_background_task)
    add_audience(app, sink)
    manager = socketio.server.manager
    if isinstance(manager, RelayManager):
        manager.deliver = sink.publish
        manager.close = partial(close_sockets, socketio.server, app.extensions[SOCKETS])
        # This process's own facts, for the other web processes.
        add_audience(app, FactPublisher(socketio.server.emit, manager.origin,
                                        spawn=socketio.start_background_task))


class _AppSockets:
    """Delegates to the current app's SessionSockets (the extension object is shared)."""

    def add(self, key: str, sid: str) -> None:
        current_app.extensions[SOCKETS].add(key, sid)

    def discard(self, sid: str) -> None:
        current_app.extensions[SOCKETS].discard(sid)


def end_sockets(*keys: str) -> None:
    """Close the sockets opened under these credentials: this process's at once, every
    other web process's through the message queue (within milliseconds)."""
    close_sockets(socketio.server, current_app.extensions[SOCKETS], keys)
    manager = socketio.server.manager
    if isinstance(manager, RelayManager):
        manager.announce_close(list(keys))


def logout_sockets() -> None:
    """Close the sockets of the login session that is ending (call before logout_user)."""
    if session.get(LOGIN_KEY):
        end_sockets(login_key(session[LOGIN_KEY]))


def end_user_session_sockets(user_id: int) -> None:
    """Close every socket the user opened with a session cookie, on every web process."""
    end_sockets(user_sessions_key(user_id))


def end_token_sockets(token_id: int) -> None:
    """Close every socket opened with this token, on every web process."""
    end_sockets(token_key(token_id))
