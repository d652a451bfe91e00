"""The `stats` event's `running_all` (issue 16): every user hears the slots in use
system-wide change, even when none of their own jobs moved; never whose jobs they are."""
from __future__ import annotations

from typing import Any

from flask import Flask

from jobsched.extensions import db, socketio
from jobsched.models import Job
from jobsched.realtime import sink as sink_module
from jobsched.realtime import users_with_sockets
from jobsched.realtime.coalescer import Batch
from jobsched.realtime.rooms import ADMINS, user_room, users_in
from jobsched.realtime.sink import SocketIOSink
from tests.api.conftest import make_running, quick_user
from tests.conftest import make_token
from tests.realtime.test_sink import RecordingEmitter


def add_job(app: Flask, owner_id: int) -> int:
    with app.app_context():
        job = Job(name="job", task="sleep", args={"seconds": 1}, owner_id=owner_id)
        db.session.add(job)
        db.session.commit()
        return job.id


def stats_by_room(sink: SocketIOSink) -> dict[Any, dict[str, Any]]:
    return {str(to): data for event, data, to in sink.emitter.emits if event == "stats"}


def test_others_jobs_starting_reach_every_listening_user(app):
    root, alice, bob = (quick_user(app, name, admin=name == "root")
                        for name in ("root", "alice", "bob"))
    sink = SocketIOSink(app, RecordingEmitter(), spawn=lambda run: None, clock=lambda: 100.0,
                        listeners=lambda: {bob})
    make_running(app, add_job(app, alice))
    sink.flush(Batch(stats_owners={alice}))
    stats = stats_by_room(sink)
    assert set(stats) == {user_room(alice), user_room(bob), ADMINS}
    assert (stats[user_room(bob)]["running"], stats[user_room(bob)]["running_all"]) == (0, 1)
    assert stats[user_room(bob)]["total"] == 0  # Alice's job is counted, never shown
    assert (stats[user_room(alice)]["running"], stats[user_room(alice)]["running_all"]) == (1, 1)
    assert stats[ADMINS]["running_all"] == stats[ADMINS]["running"] == 1

    # Alice's pending job changes nothing system-wide: only she (and the admins) hear it.
    sink.emitter.emits.clear()
    add_job(app, alice)
    sink.flush(Batch(stats_owners={alice}))
    assert set(stats_by_room(sink)) == {user_room(alice), ADMINS}


def test_only_users_rooms_name_listeners():
    assert users_in([None, "admins", "user:7", "sid-abc", "user:12"]) == {7, 12}


def test_the_listeners_are_the_users_with_a_socket_here(app):
    """python-socketio's rooms of this process: a user's socket puts them among the
    listeners, an admin's does not (admins get every stats event already)."""
    bob, _ = quick_user(app, "bob"), quick_user(app, "root", admin=True)
    clients = [socketio.test_client(app, auth={"token": make_token(app, name)})
               for name in ("bob", "root")]
    assert all(client.is_connected() for client in clients)
    assert users_with_sockets(socketio.server) == {bob}
    for client in clients:
        client.disconnect()
    assert users_with_sockets(socketio.server) == set()


def test_a_change_of_the_slots_in_use_costs_no_query_per_listener(app, monkeypatch):
    """Listeners whose own jobs did not move get their last stats with the new
    `running_all`: the per-user stats are read for the owners whose jobs changed only."""
    alice, bob, carol = (quick_user(app, name) for name in ("alice", "bob", "carol"))
    sink = SocketIOSink(app, RecordingEmitter(), spawn=lambda run: None, clock=lambda: 100.0,
                        listeners=lambda: {bob, carol})
    first = add_job(app, alice)
    make_running(app, first)
    sink.flush(Batch(stats_owners={alice}))  # bob and carol read once: nothing sent yet
    asked: list[Any] = []
    real = sink_module.job_stats
    monkeypatch.setattr(sink_module, "job_stats",
                        lambda session, user, limit: asked.append(user) or real(
                            session, user, limit))
    sink.emitter.emits.clear()
    make_running(app, add_job(app, alice))
    sink.flush(Batch(stats_owners={alice}))
    stats = stats_by_room(sink)
    assert [None if u is None else u.username for u in asked] == [None, "alice"]
    assert stats[user_room(bob)]["running_all"] == stats[user_room(carol)]["running_all"] == 2
    assert stats[user_room(bob)]["running"] == 0 and stats[user_room(bob)]["total"] == 0
