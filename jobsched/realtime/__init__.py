"""Real time (SPEC §7): Socket.IO handlers in the web process and the sink that emits."""
from __future__ import annotations

from flask import Flask, current_app, session

from ..extensions import socketio
from ..runtime import add_audience
from .facts import FactPublisher, RelayManager
from .handlers import LOGIN_KEY, SessionSockets, close_session_sockets, register_handlers
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
        # This process's own facts, for the other web processes.
        add_audience(app, FactPublisher(socketio.server.emit, manager.origin,
                                        spawn=socketio.start_background_task))


class _AppSockets:
    """Delegates to the current app's SessionSockets (the extension object is shared)."""

    def add(self, key: str, sid: str) -> None:
        current_app.extensions[SOCKETS].add(key, sid)

    def discard(self, sid: str) -> None:
        current_app.extensions[SOCKETS].discard(sid)


def logout_sockets() -> None:
    """Close the sockets of the login session that is ending (call before logout_user)."""
    close_session_sockets(socketio, current_app.extensions[SOCKETS], session.get(LOGIN_KEY))
