"""Real time (SPEC §7): Socket.IO handlers in the web process and the sink that emits."""
from __future__ import annotations

import logging
from functools import partial

import redis
import socketio as socketio_server
from flask import Flask, current_app, session

from ..extensions import socketio
from ..runtime import add_audience
from .facts import CLOSE, FACTS, FactPublisher, close_handler, facts_handler
from .handlers import (
    LOGIN_KEY,
    SessionSockets,
    close_sockets,
    login_key,
    register_handlers,
    token_key,
    user_sessions_key,
)
from .relay import (
    FIRST_SUBSCRIBE_WAIT,
    RelayListener,
    RelayPublisher,
    StartOnce,
    relay_channel,
)
from .rooms import users_in
from .sink import SocketIOSink

log = logging.getLogger(__name__)

SOCKETS = "jobsched.sockets"
RELAY = "jobsched.relay"  # this process's RelayPublisher, when there is Redis
LISTEN = "jobsched.relay_listen"  # starts this process's RelayListener (at the first socket)


def message_queue_url(app: Flask) -> str | None:
    """The Redis the relay runs on (SOCKETIO_MESSAGE_QUEUE: None turns it off), if any.
    Socket.IO itself needs no queue: every emit and disconnect is to this process's own
    sockets, and the relay carries what other processes must hear."""
    return app.config.get("SOCKETIO_MESSAGE_QUEUE", app.config["REDIS_URL"])


def init_realtime(app: Flask) -> None:
    """Register the connect handlers and make every process's facts reach this app's
    sockets: its own directly, the others' through the relay (facts.py, relay.py)."""
    app.extensions[SOCKETS] = SessionSockets()
    # socketio.init_app made a new server for this app: register on it (once per app).
    register_handlers(socketio, _AppSockets(), opened=_listen_to_relay)
    sink = SocketIOSink(app, socketio, spawn=socketio.start_background_task,
                        listeners=partial(users_with_sockets, socketio.server))
    add_audience(app, sink)
    url = message_queue_url(app)
    if url:
        channel = relay_channel(app.config["JOBSCHED_SOCKETIO_CHANNEL"])
        publisher = app.extensions[RELAY] = RelayPublisher(url, channel)
        # This process's own facts, for the other web processes.
        add_audience(app, FactPublisher(publisher.send, spawn=socketio.start_background_task))
        close = partial(close_sockets, socketio.server, app.extensions[SOCKETS])
        listener = RelayListener(url, channel, publisher.origin, {
            FACTS: facts_handler(sink.publish), CLOSE: close_handler(close)})
        app.extensions[LISTEN] = (StartOnce(socketio.start_background_task, listener.run),
                                  listener.ready)


def users_with_sockets(server: socketio_server.Server) -> set[int]:
    """The non-admin users with a socket in this process (the rooms are this process's)."""
    return users_in(list(server.manager.rooms.get("/", {})))


def _listen_to_relay() -> None:
    """Start listening at the first socket (a process without sockets needs no facts), and
    let that socket wait until it will hear everything that happens after it connected."""
    if LISTEN in current_app.extensions:
        start, ready = current_app.extensions[LISTEN]
        if start():
            ready.wait(FIRST_SUBSCRIBE_WAIT)


class _AppSockets:
    """Delegates to the current app's SessionSockets (the extension object is shared)."""

    def add(self, key: str, sid: str) -> None:
        current_app.extensions[SOCKETS].add(key, sid)

    def discard(self, sid: str) -> None:
        current_app.extensions[SOCKETS].discard(sid)


def end_sockets(*keys: str) -> None:
    """Close the sockets opened under these credentials: this process's at once, every
    other web process's through the relay (within milliseconds)."""
    close_sockets(socketio.server, current_app.extensions[SOCKETS], keys)
    publisher = current_app.extensions.get(RELAY)
    if publisher is not None:
        try:
            publisher.send(CLOSE, {"keys": list(keys)})
        except redis.RedisError as error:  # the credentials are dead anyway: see below
            log.warning("could not ask the other web processes to close sockets (%s); "
                        "theirs stay open until they disconnect", error)


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
