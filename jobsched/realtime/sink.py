"""SocketIOSink: turns job facts into SPEC §7 events (`job_updates`, `job_deleted`, `stats`).

The only module that emits. In the web process it emits with the app's SocketIO; a separate
`flask run-scheduler` process passes a write-only `SocketIO(message_queue=REDIS_URL)`, so its
events reach browsers through Redis.
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
from ..models import Job, User
from ..scheduler.events import Event
from .coalescer import Batch, Coalescer
from .pace import OwnPace, Pace
from .rooms import ADMINS, user_room

log = logging.getLogger(__name__)


class SocketIOSink:
    """EventSink that batches facts and sends them from one background loop."""

    def __init__(
        self, app: Flask, emitter: Any, spawn: Callable[[Callable[[], None]], Any],
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        paces: tuple[Pace, Pace] | None = None,
    ) -> None:
        self.app = app
        self.emitter = emitter
        self.coalescer = Coalescer()
        # Turns shared with the other processes that emit to the same rooms (pace.py).
        self._updates_pace, self._stats_pace = paces or (OwnPace(), OwnPace())
        self._spawn, self._sleep, self._clock = spawn, sleep, clock
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._started = False

    def publish(self, event: Event) -> None:
        self.coalescer.add(event)
        self._ensure_started()
        self._wake.set()

    def _ensure_started(self) -> None:
        with self._lock:
            if not self._started:
                self._started = True
                self._spawn(self._run)

    def _run(self) -> None:
        while True:
            delay = self.coalescer.due_in(self._clock())
            if delay is None:
                self._wake.wait()
                self._wake.clear()
            elif delay > 0:
                self._sleep(delay)
            else:
                self._send_due()

    def _send_due(self) -> None:
        """Take this process's turn, send what is due, and mark when it went out."""
        self._updates_pace.wait_turn()
        batch = self.coalescer.take(self._clock())
        if batch.stats_owners and not self._stats_pace.try_turn():
            # Another process sent stats just now, and stats are read whole from the
            # database: these owners get theirs at the next turn instead.
            self.coalescer.defer_stats(batch.stats_owners, self._clock())
            batch.stats_owners = set()
        self.flush(batch)
        self.coalescer.sent(batch, self._clock())
        self._updates_pace.done()
        if batch.stats_owners:
            self._stats_pace.done()

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
        from ..jobs.serialize import job_to_json

        if not changed:
            return
        jobs = db.session.scalars(select(Job).where(Job.id.in_(list(changed)))).all()
        self._to_owners_and_admins("job_updates", "jobs",
                                   [(job_to_json(job), job.owner_id) for job in jobs])

    def _send_deleted(self, deleted: dict[int, int]) -> None:
        if deleted:
            self._to_owners_and_admins("job_deleted", "ids", list(deleted.items()))

    def _to_owners_and_admins(self, event: str, key: str, owned: list[tuple[Any, int]]) -> None:
        """Each owner's room gets its own items; the admins' room gets them all."""
        per_owner: dict[int, list[Any]] = defaultdict(list)
        for item, owner_id in owned:
            per_owner[owner_id].append(item)
        for owner_id, items in per_owner.items():
            self.emitter.emit(event, {key: items}, to=user_room(owner_id))
        self.emitter.emit(event, {key: [item for item, _ in owned]}, to=ADMINS)

    def _send_stats(self, owners: set[int]) -> None:
        from ..jobs.queries import job_stats

        if not owners:
            return
        limit = self.app.config["JOBSCHED_MAX_CONCURRENT_JOBS"]
        users = db.session.scalars(select(User).where(User.id.in_(owners))).all()
        for user in users:
            if not user.is_admin:
                stats = job_stats(db.session, user, limit)
                self.emitter.emit("stats", stats, to=user_room(user.id))
        self.emitter.emit("stats", job_stats(db.session, None, limit), to=ADMINS)
