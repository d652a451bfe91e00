"""SchedulerNode against MemoryStore: order, limits, retries, leases, stopping."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from jobsched.scheduler import finalwrite
from jobsched.scheduler.events import JobChanged
from jobsched.scheduler.node import SchedulerNode
from jobsched.scheduler.nodeconfig import NodeRuntime, NodeSettings
from jobsched.scheduler.ordering import queue_key
from jobsched.scheduler.policy import QueuePolicy
from jobsched.scheduler.registry import TaskRegistry
from jobsched.scheduler.states import JobStatus
from jobsched.scheduler.store import Dequeued, NodeConflict, NodeInfo
from jobsched.tasks.builtin import build_registry
from tests.helpers import T0, Done, FakeClock, RecordingSink, wait_until
from tests.memory import MemoryStore


def registry_with(**extra) -> TaskRegistry:
    registry = build_registry(enable_shell=False, modules=[])
    for name, func in extra.items():
        registry.task(name)(func)
    return registry


def statuses(store, job_id) -> list[str]:
    return [e.status.value for e in store.get(job_id).executions]


# -- order and limits ---------------------------------------------------------------------

def test_runs_by_priority_then_earliest_deadline_with_limit_one(store, clock, make_node):
    ran: list[int] = []
    registry = registry_with(record=lambda ctx, n: ran.append(n))
    specs = [("low", None), ("medium", 30), ("high", None), ("medium", 10), ("high", 50),
             ("medium", None), ("low", 5), ("high", 50)]
    jobs = [store.add(task="record", args={"n": i}, priority=p,
                      deadline=None if d is None else T0 + timedelta(seconds=d))
            for i, (p, d) in enumerate(specs)]
    make_node(store, clock, registry, concurrency=1, limit=1).tick()
    assert ran == [jobs.index(j) for j in sorted(jobs, key=queue_key)]
    assert ran == [4, 7, 2, 3, 1, 5, 6, 0]
    assert all(store.get(j.id).status is JobStatus.COMPLETED for j in jobs)


class NotifyingSink(RecordingSink):
    """The in-process sync layer: every change is a notification to every node."""

    def __init__(self, nodes: list[SchedulerNode]) -> None:
        super().__init__()
        self.nodes = nodes

    def publish(self, event) -> None:
        super().publish(event)
        for node in self.nodes:
            node.notify([event.job_id])


def test_limit_is_never_exceeded_across_two_nodes():
    store, lock = MemoryStore(), threading.Lock()
    seen = {"now": 0, "max": 0}

    def busy(ctx):
        with lock:
            seen["now"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        ctx.wait(0.01)
        with lock:
            seen["now"] -= 1

    jobs = [store.add(task="busy") for _ in range(40)]
    registry, nodes = registry_with(busy=busy), []
    sink = NotifyingSink(nodes)
    for name in ("a", "b"):
        nodes.append(SchedulerNode(store, registry, sink,
                                   NodeSettings(name=name, concurrency=3, limit=3)))
    threads = [threading.Thread(target=n.run_forever, daemon=True) for n in nodes]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: all(store.get(j.id).status is JobStatus.COMPLETED for j in jobs),
                   timeout=30)
    finally:
        for node in nodes:
            node.stop()
    assert seen["max"] == 3  # the limit was reached, never passed
    assert all(len(store.get(j.id).executions) == 1 for j in jobs)  # each ran exactly once
    assert {store.get(j.id).executions[0].node for j in jobs} <= {"a", "b"}


def test_waiting_job_does_not_block_and_run_at_is_honoured(store, clock, make_node):
    later = store.add(task="echo", args={"message": 1}, priority="high",
                      run_at=T0 + timedelta(seconds=60))
    now = store.add(task="echo", args={"message": 2}, priority="low")
    node = make_node(store, clock, concurrency=1, limit=1)
    node.tick()
    assert store.get(now.id).status is JobStatus.COMPLETED
    clock.advance(59.999)
    node.tick()
    assert store.get(later.id).status is JobStatus.PENDING
    clock.advance(0.001)
    node.tick()
    assert store.get(later.id).status is JobStatus.COMPLETED
    assert store.get(later.id).started_at == T0 + timedelta(seconds=60)


def test_a_free_slot_is_refilled_within_100_ms():
    store = MemoryStore()
    jobs = [store.add(task="sleep", args={"seconds": 0.05}) for _ in range(4)]
    node = SchedulerNode(store, registry_with(), RecordingSink(),
                         NodeSettings(name="n1", concurrency=1, limit=1))
    thread = threading.Thread(target=node.run_forever, daemon=True)
    thread.start()
    try:
        wait_until(lambda: all(store.get(j.id).status is JobStatus.COMPLETED for j in jobs))
    finally:
        node.stop()
    thread.join(5)
    assert not thread.is_alive() and node.stopped
    runs = sorted((store.get(j.id).executions[0] for j in jobs), key=lambda e: e.started_at)
    pairs = zip(runs, runs[1:], strict=False)
    gaps = [(b.started_at - a.finished_at).total_seconds() for a, b in pairs]
    assert all(0 <= gap < 0.1 for gap in gaps), gaps


def test_notified_job_runs_without_rereading_the_table(store, clock, make_node):
    node = make_node(store, clock)
    node.tick()
    job = store.add(task="echo", args={"message": "hi"})
    node.notify([job.id])
    assert node.queued_count() == 1
    node.tick()
    assert store.get(job.id).result == "hi"


def test_an_edit_reorders_the_queue_at_once(store, clock, make_node):
    ran: list[int] = []
    registry = registry_with(record=lambda ctx, n: ran.append(n))
    node = make_node(store, clock, registry, concurrency=1, limit=1)
    node.tick()
    first, second = (store.add(task="record", args={"n": n}, priority="low") for n in (1, 2))
    node.notify([first.id, second.id])
    store.update(second.id, priority="high")
    node.notify([second.id])
    node.tick()
    assert ran == [2, 1]


def test_under_aging_a_job_that_waited_runs_before_a_newer_one_of_a_higher_class(
        store, clock, make_node):
    """SPEC §10: with JOBSCHED_AGING_SECONDS = 60, a low job waiting 2 minutes is ordered as
    high; time alone re-orders the scheduler's queue (no edit, no notification)."""
    ran: list[int] = []
    registry = registry_with(record=lambda ctx, n: ran.append(n))
    node = make_node(store, clock, registry, concurrency=1, limit=1,
                     queue_policy=QueuePolicy(aging_seconds=60))
    old = store.add(task="record", args={"n": 1}, priority="low")
    clock.advance(90)  # the low job is ordered as medium now: by id, before the new one
    store.add(task="record", args={"n": 2}, priority="medium")
    clock.advance(30)  # and as high at 120 s
    store.add(task="record", args={"n": 3}, priority="high")
    node.tick()
    assert ran == [1, 3, 2] and store.get(old.id).attempts == 1


def count_fetches(store, monkeypatch) -> list[set[int]]:
    """Record every fetch_queued (re-read) of the store."""
    fetched: list[set[int]] = []
    real = store.fetch_queued

    def fetch_queued(ids):
        fetched.append(set(ids))
        return real(ids)

    monkeypatch.setattr(store, "fetch_queued", fetch_queued)
    return fetched


def test_a_notified_queue_state_is_applied_without_a_read_and_wakes(store, clock, monkeypatch,
                                                                    make_node):
    node = make_node(store, clock)
    node.tick()
    fetched = count_fetches(store, monkeypatch)
    job = store.add(task="echo", args={"message": "hi"})
    node._wake.clear()
    node.notify([store.get(job.id).queued()])
    assert node.queued_count() == 1 and node._wake.is_set()
    node.tick()
    assert store.get(job.id).result == "hi"
    assert fetched == []


def test_a_notified_departure_drops_the_job_without_waking(store, clock, monkeypatch, make_node):
    job = store.add(task="echo", run_at=T0 + timedelta(seconds=60))
    node = make_node(store, clock)
    node.tick()
    fetched = count_fetches(store, monkeypatch)
    node._wake.clear()
    node.notify([Dequeued(job.id)])
    assert node.queued_count() == 0 and not node._wake.is_set()
    assert fetched == []


def test_bare_ids_are_reread_next_to_notified_states(store, clock, monkeypatch, make_node):
    node = make_node(store, clock)
    node.tick()
    fetched = count_fetches(store, monkeypatch)
    known, unknown = store.add(task="echo"), store.add(task="echo")
    node.notify([store.get(known.id).queued(), unknown.id])
    assert fetched == [{unknown.id}]
    assert node.queued_count() == 2


def test_stale_candidate_is_dropped_not_retried_forever(store, clock, make_node):
    node = make_node(store, clock)
    job = store.add(task="echo", args={"message": 1})
    node.tick()
    other = store.add(task="echo", args={"message": 2})
    node.notify([other.id])
    store.cancel(other.id)  # no notification reaches the node
    node.tick()
    assert node.queued_count() == 0
    assert store.get(other.id).status is JobStatus.CANCELLED
    assert store.get(job.id).status is JobStatus.COMPLETED


def test_unknown_task_fails_the_attempt(store, clock, make_node):
    job = store.add(task="not-registered", max_attempts=1)
    make_node(store, clock).tick()
    record = store.get(job.id)
    assert record.status is JobStatus.FAILED
    assert record.error == "unknown task 'not-registered': not registered on node n1"


# -- retries, time-outs, progress ----------------------------------------------------------

def test_failed_attempts_retry_after_backoff_then_fail(store, clock, make_node):
    job = store.add(task="fail", args={"message": "nope"}, max_attempts=3)
    node = make_node(store, clock)
    node.tick()
    record = store.get(job.id)
    assert (record.status, record.attempts) == (JobStatus.PENDING, 1)
    assert record.run_at == T0 + timedelta(seconds=2)
    assert record.error.startswith("nope\n\nTraceback")
    node.tick()
    assert store.get(job.id).attempts == 1  # still backing off
    clock.advance(2)
    node.tick()
    assert store.get(job.id).run_at == T0 + timedelta(seconds=2 + 4)
    clock.advance(4)
    node.tick()
    record = store.get(job.id)
    assert (record.status, record.attempts) == (JobStatus.FAILED, 3)
    assert statuses(store, job.id) == ["failed"] * 3
    assert record.finished_at == clock()


def test_default_backoff_is_jittered_exponential(store, clock, sync_spawn):
    job = store.add(task="fail", max_attempts=2)
    node = SchedulerNode(store, registry_with(), RecordingSink(), NodeSettings(name="n1"),
                         NodeRuntime(clock=clock, spawn=sync_spawn))
    node.tick()
    delay = (store.get(job.id).run_at - T0).total_seconds()
    assert 1.6 <= delay <= 2.4


def test_timeout_stops_the_attempt_and_retries(store, clock, make_node):
    job = store.add(task="sleep", args={"seconds": 3600}, timeout_seconds=5)
    node = make_node(store, clock, spawn=threaded)
    node.tick()
    clock.advance(4.9)
    node.watch()
    assert node.running_jobs() == [job.id]
    clock.advance(0.1)
    node.watch()
    wait_until(lambda: not node.running_jobs(), timeout=2)
    record = store.get(job.id)
    assert record.status is JobStatus.PENDING
    assert record.error == "timed out after 5 s"
    assert statuses(store, job.id) == ["timed_out"]


def threaded(fn, *args) -> threading.Thread:
    thread = threading.Thread(target=fn, args=args, daemon=True)
    thread.start()
    return thread


def test_progress_and_output_are_reported_while_running(store, clock, make_node):
    gate = threading.Event()

    def work(ctx):
        ctx.progress(40)
        ctx.log("halfway")
        gate.wait(5)
        return "ok"

    sink = RecordingSink()
    job = store.add(task="work")
    node = make_node(store, clock, registry_with(work=work), sink, spawn=threaded)
    node.tick()
    wait_until(lambda: node._running.active()[0].ctx.version >= 2)
    node.watch()
    record = store.get(job.id)
    assert record.progress == 40 and record.executions[0].output == "halfway\n"
    assert sink.events.count(JobChanged(job.id, 1)) == 2  # claimed, then the report
    gate.set()
    wait_until(lambda: store.get(job.id).status is JobStatus.COMPLETED)


def test_events_are_published_after_the_store_changed(store, clock, make_node):
    seen: list[JobStatus] = []

    class CheckingSink:
        def publish(self, event) -> None:
            seen.append(store.get(event.job_id).status)

    job = store.add(task="echo", args={"message": 1})
    make_node(store, clock, sink=CheckingSink()).tick()
    assert seen == [JobStatus.RUNNING, JobStatus.COMPLETED]
    assert store.get(job.id).status is JobStatus.COMPLETED


# -- cancel, rescue, lost leases ---------------------------------------------------------

def test_cancel_of_a_running_job_stops_it(store, clock, make_node):
    sink = RecordingSink()
    job = store.add(task="sleep", args={"seconds": 3600})
    node = make_node(store, clock, sink=sink, spawn=threaded)
    node.tick()
    assert store.get(job.id).status is JobStatus.RUNNING
    store.cancel(job.id)
    clock.advance(1)
    started = time.monotonic()
    node.watch()  # the lost-lease check, as the watchdog does about once a second
    wait_until(lambda: not node.running_jobs(), timeout=2)
    assert time.monotonic() - started < 1
    record = store.get(job.id)
    assert record.status is JobStatus.CANCELLED
    assert statuses(store, job.id) == ["cancelled"]
    assert sink.events == [JobChanged(job.id, 1)]  # the claim; the lost finish wrote nothing


def test_a_cancel_stops_only_the_cancelled_jobs_attempt(store, clock, make_node):
    job = store.add(task="sleep", args={"seconds": 3600})
    other = store.add(task="sleep", args={"seconds": 3600})
    node = make_node(store, clock, spawn=threaded)
    node.tick()
    store.cancel(job.id)
    node.watch()  # the lost-lease check reaches the running attempt
    try:
        wait_until(lambda: node.running_jobs() == [other.id], timeout=2)
        assert store.get(job.id).status is JobStatus.CANCELLED
        assert store.get(other.id).status is JobStatus.RUNNING
    finally:
        node.stop(graceful=False)


def test_rescue_marks_the_execution_lost_and_requeues(store, clock, make_node):
    job = store.add(task="echo", args={"message": "again"}, max_attempts=2)
    store.claim([job.id], "dead", 1, 3, 30)  # a node that then died
    node = make_node(store, clock, backoff=lambda attempt: 5.0)
    node.tick()
    assert store.get(job.id).status is JobStatus.RUNNING  # its lease still holds
    clock.advance(30)
    node.tick()
    record = store.get(job.id)
    assert record.status is JobStatus.PENDING
    assert record.run_at == T0 + timedelta(seconds=35)
    assert record.error == "lost: node dead stopped renewing the lease"
    clock.advance(5)
    node.tick()
    record = store.get(job.id)
    assert record.status is JobStatus.COMPLETED and record.attempts == 2
    assert [(e.status.value, e.node) for e in record.executions] == [
        ("lost", "dead"), ("completed", "n1")]


def test_rescue_without_attempts_left_fails(store, clock, make_node):
    job = store.add(task="echo", args={"message": 1}, max_attempts=1)
    store.claim([job.id], "dead", 1, 3, 30)
    store.expire_leases()
    make_node(store, clock).tick()
    assert store.get(job.id).status is JobStatus.FAILED
    assert statuses(store, job.id) == ["lost"]


def test_lost_lease_means_the_late_finish_writes_nothing(store, clock, make_node):
    gate = threading.Event()
    sink = RecordingSink()
    job = store.add(task="gated")
    node = make_node(store, clock, registry_with(gated=lambda ctx: gate.wait(5)), sink,
                     spawn=threaded)
    node.tick()
    store.expire_leases()
    store.rescue_expired(lambda attempt: 0)  # another node rescued it meanwhile
    gate.set()
    wait_until(lambda: not node.running_jobs())
    record = store.get(job.id)
    assert record.status is JobStatus.PENDING and record.result is None
    assert statuses(store, job.id) == ["lost"]
    assert sink.events == [JobChanged(job.id, 1)]


def test_heartbeat_keeps_leases_alive(store, clock, make_node):
    gate = threading.Event()
    job = store.add(task="gated")
    node = make_node(store, clock, registry_with(gated=lambda ctx: gate.wait(5)),
                     spawn=threaded, lease_seconds=30)
    node.tick()
    for _ in range(6):
        clock.advance(10)
        node.watch()
        node.tick()
    assert store.get(job.id).status is JobStatus.RUNNING
    assert store.node("n1").heartbeat_at == clock()
    gate.set()
    wait_until(lambda: store.get(job.id).status is JobStatus.COMPLETED)


# -- stopping ---------------------------------------------------------------------------

def test_graceful_stop_hands_back_what_did_not_finish(store, clock, make_node):
    job = store.add(task="sleep", args={"seconds": 3600})
    node = make_node(store, clock, spawn=threaded, grace_seconds=0.1)
    node.tick()
    node.stop()
    record = store.get(job.id)
    assert (record.status, record.attempts) == (JobStatus.PENDING, 0)
    assert statuses(store, job.id) == ["lost"]
    assert store.node("n1").status == "stopped" and node.stopped
    assert not node.running_jobs()
    node.tick()
    assert store.get(job.id).status is JobStatus.PENDING  # a stopped node claims nothing


def test_graceful_stop_lets_a_short_job_finish(store, clock, make_node):
    gate = threading.Event()
    job = store.add(task="gated")
    node = make_node(store, clock, registry_with(gated=lambda ctx: gate.wait(5)),
                     spawn=threaded, grace_seconds=10)
    node.tick()
    threading.Timer(0.05, gate.set).start()
    started = time.monotonic()
    node.stop()
    assert time.monotonic() - started < 5
    assert store.get(job.id).status is JobStatus.COMPLETED


def test_second_stop_hands_back_at_once(store, clock, make_node):
    job = store.add(task="sleep", args={"seconds": 3600})
    node = make_node(store, clock, spawn=threaded, grace_seconds=60)
    node.tick()
    first = threading.Thread(target=node.stop, daemon=True)
    first.start()
    wait_until(lambda: node._stopping)
    started = time.monotonic()
    node.stop(graceful=False)
    first.join(5)
    assert time.monotonic() - started < 5 and not first.is_alive()
    assert store.get(job.id).status is JobStatus.PENDING


class SlowFinishStore:
    """Delegates to a real store; finish() waits for `release` (a slow final write)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.writing, self.release = threading.Event(), threading.Event()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def finish(self, *args):
        self.writing.set()
        self.release.wait(5)
        return self.inner.finish(*args)


def test_stop_waits_for_a_final_write_in_flight(store, clock, make_node):
    slow = SlowFinishStore(store)
    job = store.add(task="echo", args={"message": 1})
    node = make_node(slow, clock, spawn=threaded, grace_seconds=10)
    node.tick()
    assert slow.writing.wait(5)  # the attempt has ended; how it ended is being written
    stopper = threading.Thread(target=node.stop, daemon=True)
    stopper.start()
    stopper.join(0.3)
    assert stopper.is_alive(), "stop() returned while a final write was in flight"
    slow.release.set()
    stopper.join(5)
    assert store.get(job.id).status is JobStatus.COMPLETED
    assert store.node("n1").status == "stopped"


# -- store failures -----------------------------------------------------------------------

class FlakyStore:
    """Delegates to a real store, but the named methods raise the next N times."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.failures: dict[str, int] = {}

    def __getattr__(self, name: str):
        attr = getattr(self.inner, name)

        def call(*args, **kwargs):
            if self.failures.get(name, 0) > 0:
                self.failures[name] -= 1
                raise ConnectionError(f"store down during {name}")
            return attr(*args, **kwargs)

        return call


def test_store_errors_are_survived_and_followed_by_a_resync(store, clock, caplog, make_node):
    flaky = FlakyStore(store)
    job = store.add(task="echo", args={"message": 1})
    node = make_node(flaky, clock)
    flaky.failures = {"claim": 1}
    node.tick()
    assert store.get(job.id).status is JobStatus.PENDING
    assert "store error during tick" in caplog.text
    flaky.failures = {"pending": 1}
    node.tick()  # inside the back-off: nothing happens
    clock.advance(0.5)
    node.tick()  # resync fails once more: a longer back-off
    clock.advance(1)
    node.tick()
    assert store.get(job.id).status is JobStatus.COMPLETED


def test_final_write_is_retried_through_a_brief_outage(store, clock, make_node):
    flaky = FlakyStore(store)
    job = store.add(task="echo", args={"message": 1})
    flaky.failures = {"finish": 2}
    make_node(flaky, clock).tick()
    assert store.get(job.id).status is JobStatus.COMPLETED


def test_a_given_up_final_write_leaves_the_job_to_be_rescued(store, clock, monkeypatch, make_node):
    """The node forgets an attempt whose end it could not write; its heartbeat must then
    stop renewing that lease, or the job would stay running (and hold a slot) forever."""
    monkeypatch.setattr(finalwrite, "WRITE_RETRY_DELAYS", ())  # give up after one try
    flaky = FlakyStore(store)
    job = store.add(task="echo", args={"message": 1})
    node = make_node(flaky, clock, lease_seconds=30)
    flaky.failures = {"finish": 1}
    node.tick()
    assert store.get(job.id).status is JobStatus.RUNNING and not node.running_jobs()
    clock.advance(20)
    node.watch()  # the heartbeat
    clock.advance(20)
    node.tick()  # past the lease: rescued
    assert store.get(job.id).status is JobStatus.PENDING
    assert statuses(store, job.id) == ["lost"]


class SlowClaimStore:
    """Delegates to a real store; each claim takes `seconds` of the fake clock."""

    def __init__(self, inner: MemoryStore, clock: FakeClock, seconds: float) -> None:
        self.inner, self.clock, self.seconds = inner, clock, seconds

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def claim(self, *args):
        self.clock.advance(self.seconds)  # e.g. waiting for the claim lock
        return self.inner.claim(*args)


def test_a_timeout_counts_from_the_attempt_start_not_the_tick(store, clock, make_node):
    job = store.add(task="sleep", args={"seconds": 3600}, timeout_seconds=10)
    node = make_node(SlowClaimStore(store, clock, 5), clock, spawn=threaded)
    node.tick()
    clock.advance(9)  # 14 s after the tick began, 9 s into the attempt
    node.watch()
    [attempt] = node._running.active()
    assert not attempt.ctx.cancelled(), "stopped before its 10 s were up"
    clock.advance(1)
    node.watch()
    wait_until(lambda: statuses(store, job.id) == ["timed_out"], timeout=5)


def test_failed_heartbeats_log_one_traceback_per_outage(store, clock, caplog, make_node):
    flaky = FlakyStore(store)
    node = make_node(flaky, clock)
    flaky.failures = {"heartbeat": 2}
    for _ in range(4):  # fail, fail, succeed, succeed
        node.watch()
        clock.advance(10)
    failed = [r for r in caplog.records if "heartbeat failed" in r.getMessage()]
    assert [bool(r.exc_info) for r in failed] == [True, False]
    assert "2 in a row" in failed[1].getMessage()


def test_watchdog_survives_store_errors(store, clock, make_node):
    flaky = FlakyStore(store)
    job = store.add(task="sleep", args={"seconds": 3600})
    node = make_node(flaky, clock, spawn=threaded)
    node.tick()
    flaky.failures = {"heartbeat": 1, "lost_leases": 1}
    clock.advance(1)
    node.watch()
    store.cancel(job.id)
    clock.advance(1)
    node.watch()
    wait_until(lambda: not node.running_jobs(), timeout=2)


def test_start_refuses_a_second_scheduler_where_only_one_may_run(clock, make_node):
    store = MemoryStore(clock, exclusive=True)
    store.register_node(NodeInfo("other", "host", 1, 3), 30)
    with pytest.raises(NodeConflict):
        make_node(store, clock).start()


def test_attempts_run_through_spawn_attempt_and_the_watchdog_through_spawn(store, clock, make_node,
                                                                           sync_spawn):
    store.add(task="echo", args={"message": "hi"})
    spawned: list[str] = []

    def recording(kind):
        def spawn(fn, *args):
            spawned.append(kind)
            return sync_spawn(fn, *args) if kind == "attempt" else Done()
        return spawn

    node = make_node(store, clock, spawn=recording("spawn"),
                     spawn_attempt=recording("attempt"))
    node.start()
    node.tick()
    assert spawned == ["spawn", "attempt"]
    assert store.running_count() == 0


def test_an_attempts_context_locks_with_the_nodes_os_lock(store, clock, make_node):
    """Under eventlet a CPU task runs on a real OS thread (offload) while the node's threads
    are green: their shared context must use the real lock the process passes in."""
    made: list[Any] = []

    def os_lock() -> Any:
        lock = threading.Lock()
        made.append(lock)
        return lock

    def report(ctx) -> None:
        ctx.progress(50)
        ctx.log("half way")

    registry = registry_with()
    registry.task("report", kind="cpu")(report)
    offloaded: list[Any] = []

    def offload(call):
        offloaded.append(call)
        return call()

    job = store.add(task="report")
    node = make_node(store, clock, registry, offload=offload, os_lock=os_lock)
    node.tick()
    assert offloaded and made, "the CPU task was not offloaded or made no lock"
    assert store.get(job.id).status is JobStatus.COMPLETED
