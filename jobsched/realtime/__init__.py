"""Real time (SPEC §7): Socket.IO handlers in the web process and the sink that emits."""
from __future__ import annotations

from flask import Flask, current_app, session

from ..extensions import socketio
from ..runtime import add_audience
from .coalescer import FLUSH_INTERVAL, STATS_INTERVAL
from .handlers import LOGIN_KEY, SessionSockets, close_session_sockets, register_handlers
from .pace import paces
from .sink import SocketIOSink

SOCKETS = "jobsched.sockets"


def init_realtime(app: Flask) -> None:
    """Register the connect handlers and make the app's facts reach its sockets."""
    app.extensions[SOCKETS] = SessionSockets()
    # socketio.init_app made a new server for this app: register on it (once per app).
    register_handlers(socketio, _AppSockets())
    queue = app.config.get("SOCKETIO_MESSAGE_QUEUE", app.config["REDIS_URL"])
    sink = SocketIOSink(
        app, socketio, spawn=socketio.start_background_task, sleep=socketio.sleep,
        paces=paces(queue, FLUSH_INTERVAL, STATS_INTERVAL, sleep=socketio.sleep,
                     prefix=app.config["JOBSCHED_SOCKETIO_CHANNEL"]),
    )
    add_audience(app, sink)


class _AppSockets:
    """Delegates to the current app's SessionSockets (the extension object is shared)."""

    def add(self, key: str, sid: str) -> None:
        current_app.extensions[SOCKETS].add(key, sid)

    def discard(self, sid: str) -> None:
        current_app.extensions[SOCKETS].discard(sid)


def logout_sockets() -> None:
    """Close the sockets of the login session that is ending (call before logout_user)."""
    close_session_sockets(socketio, current_app.extensions[SOCKETS], session.get(LOGIN_KEY))
