"""A scheduler service loads its heap once at start: the feed listens first, and its first
LISTEN asks for no second load; a later reconnect still resyncs."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from jobsched.extensions import db
from jobsched.runner import ResyncAfterListen, build_service
from jobsched.scheduler.node import SchedulerNode
from jobsched.scheduler.nodeconfig import NodeSettings
from jobsched.scheduler.registry import TaskRegistry
from jobsched.storage.store import SqlJobStore
from tests.helpers import RecordingSink, wait_until
from tests.memory import MemoryStore


@pytest.fixture
def loads(monkeypatch) -> list[str]:
    """One entry per full heap load (SqlJobStore.pending) of any scheduler."""
    seen: list[str] = []
    real = SqlJobStore.pending

    def pending(self):
        seen.append("load")
        return real(self)

    monkeypatch.setattr(SqlJobStore, "pending", pending)
    return seen


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_heap_is_loaded_once_at_start_and_again_after_a_reconnect(app, loads):
    service = build_service(app, RecordingSink(), name="loads-once")
    service.start()
    try:
        assert service.listener.backend_pid is not None  # listening before the load
        assert loads == ["load"]
        first_pid = service.listener.backend_pid
        with app.app_context(), db.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first_pid})
        wait_until(lambda: len(loads) == 2, message="no resync after the reconnect")
    finally:
        service.stop(graceful=False)


class CountingNode(SchedulerNode):
    def __init__(self) -> None:
        super().__init__(MemoryStore(), TaskRegistry(), RecordingSink(),
                         NodeSettings(name="n"))
        self.reconciles = 0

    def reconcile(self) -> bool:
        self.reconciles += 1
        return super().reconcile()


def test_a_listen_before_the_first_load_does_not_resync():
    node = CountingNode()
    resync = ResyncAfterListen(node)
    resync()
    assert node.reconciles == 0 and resync.listening.is_set()


def test_a_listen_once_the_load_has_begun_resyncs():
    node = CountingNode()
    node.start()
    try:
        resync = ResyncAfterListen(node)
        resync()
        resync()
        assert node.reconciles == 2 and resync.listening.is_set()
    finally:
        node.stop(graceful=False)
