"""SocketIOSink: turns job facts into SPEC §7 events (`job_updates`, `job_deleted`, `stats`).

The only module that emits to browsers: each web process has one, fed with the facts of
its own writes and, through the relay, those of every other process (facts.py), and it emits to
this process's own sockets only (`ignore_queue`): every web process sends its own clients
their events, paced by its own coalescer.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from ..extensions import db
from ..jobs.queries import job_stats
from ..jobs.serialize import job_to_json
from ..models import Job, User
from ..scheduler.events import Event
from ..scheduler.policy import queue_policy
from .coalescer import Batch, Coalescer
from .relay import StartOnce
from .rooms import ADMINS, user_room

log = logging.getLogger(__name__)


class SocketIOSink:
    """EventSink that batches facts and sends them from one background loop."""

    def __init__(
        self, app: Flask, emitter: Any, spawn: Callable[[Callable[[], None]], Any],
        clock: Callable[[], float] = time.monotonic,
        listeners: Callable[[], set[int]] = set,
    ) -> None:
        self.app = app
        self.emitter = emitter
        # The non-admin users with a socket in this process: they hear a change of the
        # system-wide running count (SPEC §6 `running_all`) even when no job of theirs moved.
        self._listeners = listeners
        self._running_all: int | None = None  # as the last stats sent said
        self._user_stats: dict[int, dict[str, Any]] = {}  # the last stats each user got
        self.coalescer = Coalescer()
        self._clock = clock
        self._start = StartOnce(spawn, self._run)
        self._wake = threading.Event()

    def publish(self, event: Event) -> None:
        self.coalescer.add(event, self._clock())
        self._start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            delay = self.coalescer.due_in(self._clock())
            if delay is None or delay > 0:
                # Woken by every new fact: it may be due sooner than what waits (stats due
                # in a second must not hold back a change due in 50 ms).
                self._wake.wait(delay)
                self._wake.clear()
            else:
                self._send_due()

    def _send_due(self) -> None:
        batch = self.coalescer.take(self._clock())
        self.flush(batch)
        self.coalescer.sent(batch, self._clock())

    def flush(self, batch: Batch) -> None:
        """Send one batch; a failure is logged and the loop goes on (events are hints)."""
        if not batch:
            return
        try:
            with self.app.app_context():
                self._send_updates(batch.changed)
                self._send_deleted(batch.deleted)
                self._send_stats(batch.stats_owners)
                db.session.remove()
        except Exception:
            log.exception("could not send real-time events")

    def _send_updates(self, changed: dict[int, int]) -> None:
        if not changed:
            return
        jobs = db.session.scalars(select(Job).where(Job.id.in_(list(changed)))).all()
        policy = queue_policy(self.app.config)
        self._to_owners_and_admins("job_updates", "jobs",
                                   [(job_to_json(job, policy=policy), job.owner_id)
                                    for job in jobs])

    def _send_deleted(self, deleted: dict[int, int]) -> None:
        if deleted:
            self._to_owners_and_admins("job_deleted", "ids", list(deleted.items()))

    def _to_owners_and_admins(self, event: str, key: str, owned: list[tuple[Any, int]]) -> None:
        """Each owner's room gets its own items; the admins' room gets them all. When one
        owner has them all (the usual batch), one emit reaches both rooms, so the payload is
        encoded and relayed once."""
        per_owner: dict[int, list[Any]] = defaultdict(list)
        for item, owner_id in owned:
            per_owner[owner_id].append(item)
        if len(per_owner) == 1:
            [(owner_id, items)] = per_owner.items()
            self._emit(event, {key: items}, [user_room(owner_id), ADMINS])
            return
        for owner_id, items in per_owner.items():
            self._emit(event, {key: items}, user_room(owner_id))
        self._emit(event, {key: [item for item, _ in owned]}, ADMINS)

    def _send_stats(self, owners: set[int]) -> None:
        """Stats to the owners whose jobs changed and to the admins; when the slots in use
        changed, also to every other user listening here, from the stats they last got
        with the new `running_all` (their own counts did not move: no query per user)."""
        if not owners:
            return
        limit = self.app.config["JOBSCHED_MAX_CONCURRENT_JOBS"]
        everyone = job_stats(db.session, None, limit)
        running_all = everyone["running_all"]
        listeners: set[int] = set()
        if running_all != self._running_all:
            self._running_all = running_all
            listeners = self._listeners()
            self._user_stats = {k: v for k, v in self._user_stats.items() if k in listeners}
        for user in db.session.scalars(select(User).where(User.id.in_(owners))):
            if not user.is_admin:
                self._user_stats[user.id] = job_stats(db.session, user, limit)
                self._emit("stats", self._user_stats[user.id], user_room(user.id))
        for user_id in listeners - owners:
            stats = self._listener_stats(user_id, running_all, limit)
            if stats is not None:
                self._emit("stats", stats, user_room(user_id))
        self._emit("stats", everyone, ADMINS)

    def _listener_stats(self, user_id: int, running_all: int, limit: int
                        ) -> dict[str, Any] | None:
        """A listener's last stats with the slots in use now (read once if never sent);
        None for a user who is gone."""
        last = self._user_stats.get(user_id)
        if last is None:
            user = db.session.get(User, user_id)
            if user is None:
                return None
            last = job_stats(db.session, user, limit)
        self._user_stats[user_id] = {**last, "running_all": max(running_all, last["running"])}
        return self._user_stats[user_id]

    def _emit(self, event: str, data: Any, to: str | list[str]) -> None:
        # Every web process hears every fact, so each sends to its own sockets only.
        self.emitter.emit(event, data, to=to, ignore_queue=True)
