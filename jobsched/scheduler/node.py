"""`SchedulerNode`: the loop of one scheduler process (SPEC §5).

The heap decides what to try, the store decides who gets it. Everything the node needs is
injected (store, registry, sink, and a NodeRuntime: clock, spawn, event factory), so tests
drive it step by step with `tick()` and `watch()` under a fake clock, and production runs
`run_forever()`.

Threads of control: the loop (tick, then sleep on the wake event); one worker per running
attempt; one watchdog worker (heartbeat, timeouts, progress reports, lost leases) that never
waits behind a busy task. Store errors never escape: they are logged, the node backs off
briefly, and it resyncs (register + reconcile) once the store answers again.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from .attempts import Attempt, RunningAttempts
from .drain import JOIN_BUDGET_SECONDS, Drain, join_all
from .eventlog import event_fields, moved
from .events import EventSink, JobChanged
from .executor import AttemptContext, run_attempt
from .finalwrite import write_final
from .leases import rescue_interval
from .mirror import QueueMirror
from .nodeconfig import NodeRuntime, NodeSettings
from .registry import Task, TaskRegistry, UnknownTask
from .states import ExecutionStatus, JobStatus
from .store import ClaimedJob, Finished, JobChange, JobStore, NodeConflict, Outcome, Released
from .watchdog import Watchdog

log = logging.getLogger(__name__)

LIMIT_RETRY_SECONDS = 1.0  # eligible jobs refused by the global limit: try again then
MAX_SLEEP_SECONDS = 30.0  # a safety net against clock jumps; every wake-up is an event
ERROR_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)  # after consecutive store errors
EXTRA_CANDIDATES = 4  # ask the heap for a few more than free slots: stale ones are skipped
RETRIED = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT})


class SchedulerNode:
    """One scheduler process: fills free slots in queue order, heartbeats, rescues, drains."""

    def __init__(
        self, store: JobStore, registry: TaskRegistry, sink: EventSink,
        settings: NodeSettings | None = None, runtime: NodeRuntime | None = None,
    ) -> None:
        self.settings = settings = settings or NodeSettings()
        runtime = runtime or NodeRuntime()
        self.name, self.concurrency = settings.name, settings.concurrency
        self.limit = settings.limit
        self._store, self._registry, self._sink = store, registry, sink
        clock = self._clock = runtime.clock
        self._spawn, self._offload = runtime.spawn, runtime.offload
        self._spawn_attempt = runtime.spawn_attempt or runtime.spawn
        self._backoff, self._event = runtime.backoff, runtime.wake
        self._os_lock, self._housekeeping = runtime.os_lock, runtime.housekeeping
        self._queue = QueueMirror(store, clock, settings.queue_policy)
        self._running = RunningAttempts()
        self._watchdog = Watchdog(store, self._running, name=self.name,
                                  lease_seconds=self.settings.lease_seconds, clock=clock,
                                  publish=self._publish)
        self._drainer = Drain(self._running, self.settings.grace_seconds, runtime.wake)
        self._wake, self._watch_stop = runtime.wake(), runtime.wake()
        self._started = self._stopping = False
        self._needs_sync, self._failures = True, 0
        self._error_until: datetime | None = None
        self._blocked_until: datetime | None = None
        self._loop_thread: int | None = None
        self._watch_handle: Any = None
        self._next_reconcile = self._next_rescue = clock()

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Register this node, load the heap and start the watchdog (heartbeat) worker."""
        if self._started:
            return
        self._started = True
        try:
            self._sync()
        except NodeConflict:
            self._started = False
            raise  # another scheduler owns this store: the CLI reports it and exits
        except Exception:
            self._on_store_error("start")
        self._watch_handle = self._spawn(self._watchdog.run, self._watch_stop)

    def run_forever(self) -> None:
        """Tick, then sleep until the next thing that can need a tick; drain on stop."""
        self._loop_thread = threading.get_ident()
        self.start()
        while not self._stopping:
            self._wake.clear()  # before the tick: a wake during the tick is not lost
            self.tick()
            self._wake.wait(self._sleep_seconds())
        self._drain()

    def request_stop(self, graceful: bool = True) -> None:
        """Ask the node to stop without blocking (safe in a signal handler)."""
        self._stopping = True
        self._drainer.request(graceful)
        self._wake.set()

    def stop(self, graceful: bool = True) -> None:
        """Stop claiming, let attempts run for grace_seconds (none if not graceful), hand
        back the rest and mark the node stopped. A second call with graceful=False hurries
        a stop already in progress."""
        self.request_stop(graceful)
        loop = self._loop_thread
        if loop is not None and loop != threading.get_ident():
            # run_forever drains on its own thread; wait for it, but never forever.
            budget = self.settings.grace_seconds + 2 * JOIN_BUDGET_SECONDS + 1
            if self._drainer.finished.wait(budget):
                return
        self._drain()

    # -- one deterministic step ---------------------------------------------------------

    def tick(self) -> None:
        """One step: resync if needed, rescue expired leases, reconcile when due, fill slots."""
        if self._stopping:
            return
        now = self._clock()
        if self._error_until is not None and now < self._error_until:
            return
        try:
            if self._needs_sync:
                self._sync()
            self._housekeep(now)
            self._fill(now)
        except Exception:
            self._on_store_error("tick")
        else:
            self._failures, self._error_until = 0, None

    def watch(self) -> None:
        """One watchdog step (time-outs, reports, lost leases, heartbeat); tests call it."""
        self._watchdog.step()

    # -- signals from the sync layer and the web side -----------------------------------

    def notify(self, changes: Iterable[JobChange]) -> None:
        """Jobs changed (LISTEN/NOTIFY or an in-process signal). A change that carries the
        job's queue state goes straight into the heap; a bare id is re-read from the store.
        Wakes the loop unless every change only took jobs out of the queue."""
        wake, ids = self._queue.apply_changes(changes)
        try:
            self._queue.refresh(ids)
        except Exception:
            self._on_store_error("notify")
        if wake:
            self._wake.set()

    def on_deleted(self, job_ids: Iterable[int]) -> None:
        """Jobs were deleted: drop them from the heap and stop any attempt of theirs."""
        ids = set(job_ids)
        self._queue.forget(ids)
        for attempt in self._running.of_jobs(ids):
            attempt.ctx.stop("cancelled")
        self._wake.set()

    def reconcile(self) -> bool:
        """Resync the heap with the store's pending jobs (periodically, after a reconnect)."""
        try:
            self._reconcile()
        except Exception:
            self._on_store_error("reconcile")
            return False
        self._wake.set()
        return True

    # -- inspection -----------------------------------------------------------------------

    def running_jobs(self) -> list[int]:
        """Ids of the jobs this node is running now."""
        return self._running.job_ids()

    def queued_count(self) -> int:
        """Pending jobs in this node's heap."""
        return len(self._queue)

    @property
    def started(self) -> bool:
        """True once start() has begun: the heap's first load is under way or done."""
        return self._started

    @property
    def stopped(self) -> bool:
        """True once stop() finished: attempts ended or handed back, node row stopped."""
        return self._drainer.finished.is_set()

    # -- claiming ---------------------------------------------------------------------------

    def _sync(self) -> None:
        """(Re-)register the node and reload the heap: at start and after store errors."""
        self._store.register_node(self.settings.node_info(), self.settings.lease_seconds)
        self._reconcile()
        self._needs_sync = False

    def _housekeep(self, now: datetime) -> None:
        if now >= self._next_rescue:
            finished = self._store.rescue_expired(self._backoff)
            interval = rescue_interval(self.settings.lease_seconds)
            self._next_rescue = now + timedelta(seconds=interval)
            for item in finished:
                log.warning("job %s node %s: rescued an expired lease -> %s",
                            item.job_id, self.name, item.status.value,
                            extra=event_fields(item.job_id, self.name, "rescued",
                                               transition=moved("running", item.status.value)))
            self._published(finished)
            self._queue.release(Released(item.owner_id) for item in finished)
        if now >= self._next_reconcile:
            self._reconcile()
        if self._housekeeping is not None:
            self._housekeeping(now)

    def _fill(self, now: datetime) -> None:
        """Claim eligible jobs in queue order until slots, candidates or the limit run out."""
        self._blocked_until = None
        while not self._stopping:
            free = self._free_slots()
            if free <= 0:
                return
            ids = self._queue.candidates(now, free + EXTRA_CANDIDATES)
            if not ids:
                return
            claims = self._store.claim(ids, self.name, free, self.limit,
                                       self.settings.lease_seconds,
                                       self.settings.max_running_per_user,
                                       self.settings.queue_policy)
            self._queue.forget(c.id for c in claims)
            self._queue.hold(claims.held)  # their groups' jobs are set aside: look further
            for claim in claims:
                self._start_attempt(claim)
            if len(claims) >= min(free, len(ids)) or claims.held:
                continue
            unclaimed = set(ids) - {c.id for c in claims}
            if self._queue.refresh(unclaimed):  # still eligible: the global limit is full
                self._blocked_until = now + timedelta(seconds=LIMIT_RETRY_SECONDS)
                return

    def _free_slots(self) -> int:
        return min(self.concurrency - len(self._running), self.limit)

    def _reconcile(self) -> None:
        self._queue.reconcile()
        self._next_reconcile = self._clock() + timedelta(seconds=self.settings.reconcile_seconds)

    def _sleep_seconds(self) -> float:
        """Seconds until the next reason to tick; events (notify, finish, stop) cut it short."""
        now = self._clock()
        if self._error_until is not None:
            due = [self._error_until]
        else:
            due = [self._next_reconcile, self._next_rescue]
            if self._blocked_until is not None:
                due.append(self._blocked_until)
            wakeup = self._queue.next_wakeup() if self._free_slots() > 0 else None
            if wakeup is not None:
                due.append(wakeup)
        seconds = (min(due) - now).total_seconds()
        return min(max(seconds, 0.0), MAX_SLEEP_SECONDS)

    def _on_store_error(self, what: str) -> None:
        """Log, back off briefly, and resync once the store answers again."""
        self._failures += 1
        delay = ERROR_BACKOFF_SECONDS[min(self._failures, len(ERROR_BACKOFF_SECONDS)) - 1]
        log.warning("node %s: store error during %s; retrying in %.1f s", self.name, what,
                    delay, exc_info=self._failures == 1)
        self._needs_sync = True
        self._error_until = self._clock() + timedelta(seconds=delay)

    # -- attempts -------------------------------------------------------------------------

    def _start_attempt(self, claim: ClaimedJob) -> None:
        task = self._task_for(claim)
        ctx = AttemptContext(event_factory=self._event, lock_factory=self._os_lock)
        # The timeout counts from now, after the claim: the tick's own `now` was read before
        # the claim transaction, which may have waited for the claim lock.
        deadline = self._clock() + timedelta(seconds=claim.timeout_seconds)
        attempt = Attempt(claim, task, ctx, deadline)
        self._running.add(attempt)
        log.info("job %s node %s: attempt %s started", claim.id, self.name, claim.attempt,
                 extra=event_fields(claim.id, self.name, "started", attempt=claim.attempt,
                                    transition=moved("pending", "running")))
        self._publish(claim.id, claim.owner_id)
        try:
            attempt.handle = self._spawn_attempt(self._run_attempt, attempt)
        except Exception:
            log.exception("job %s node %s: could not start the attempt", claim.id, self.name)
            self._settle(attempt, None)

    def _task_for(self, claim: ClaimedJob) -> Task | None:
        try:
            return self._registry.get(claim.task)
        except UnknownTask:
            return None

    def _run_attempt(self, attempt: Attempt) -> None:
        """Worker body: run the task, then write how it ended (exactly once)."""
        claim = attempt.claim
        try:
            if attempt.task is None:
                error = f"unknown task {claim.task!r}: not registered on node {self.name}"
                outcome = Outcome(ExecutionStatus.FAILED, error=error)
            else:
                outcome = self._execute(attempt.task, claim, attempt.ctx)
        except BaseException:  # only interpreter/green-thread exits get here
            self._settle(attempt, None)
            raise
        if outcome.status in RETRIED:
            outcome = replace(outcome, retry_delay=self._backoff(claim.attempt))
        self._settle(attempt, outcome)

    def _execute(self, task: Task, claim: ClaimedJob, ctx: AttemptContext) -> Outcome:
        """Run the task body; a CPU-bound one through `offload` (web mode: a real OS thread,
        while this worker, and the store writes after it, stay on the event loop)."""
        if task.kind == "cpu" and self._offload is not None:
            return self._offload(lambda: run_attempt(task, claim, ctx))
        return run_attempt(task, claim, ctx)

    def _settle(self, attempt: Attempt, outcome: Outcome | None) -> None:
        """The one final write of an attempt: finish(outcome), or hand_back when None."""
        if not self._running.settle(attempt):
            return
        claim = attempt.claim
        try:
            if outcome is None:
                attempt.ctx.stop("cancelled")
                finished = write_final(lambda: self._store.hand_back(claim),
                                       claim.id, self.name)
            else:
                finished = write_final(lambda: self._store.finish(claim, outcome),
                                       claim.id, self.name)
            self._after_settle(claim, outcome, finished, attempt.elapsed(self._clock()))
        finally:
            self._running.release(attempt)
            self._queue.release([Released(claim.owner_id, claim.concurrency_key)])
            self._wake.set()  # the slot is free: refill it now, not at the next timer
            self._drainer.wake()

    def _after_settle(self, claim: ClaimedJob, outcome: Outcome | None,
                      finished: Finished | None, seconds: float | None = None) -> None:
        what = "handed back" if outcome is None else outcome.status.value
        if finished is None:
            log.warning("job %s node %s: lease lost, %s not recorded", claim.id, self.name, what,
                        extra=event_fields(claim.id, self.name, "lease_lost",
                                           attempt=claim.attempt, duration_seconds=seconds))
            return
        log.info("job %s node %s: attempt %s %s -> job %s (%.3f s)", claim.id, self.name,
                 claim.attempt, what, finished.status.value, seconds or 0.0,
                 extra=event_fields(claim.id, self.name, "ended", attempt=claim.attempt,
                                    transition=moved("running", finished.status.value),
                                    duration_seconds=seconds))
        self._published([finished])

    def _published(self, finished: list[Finished]) -> None:
        """Publish each change, its dependents' too (SPEC §12), and put jobs that are
        pending again, or released by a job they depended on, back in the heap."""
        for item in finished:
            self._publish(item.job_id, item.owner_id)
            for job_id, owner_id in item.dependents:
                self._publish(job_id, owner_id)
        requeued = {f.job_id for f in finished if f.status is JobStatus.PENDING}
        requeued.update(job_id for f in finished if f.status is JobStatus.COMPLETED
                        for job_id, _ in f.dependents)
        if requeued and not self._stopping:
            try:
                self._queue.refresh(requeued)
            except Exception:
                self._needs_sync = True  # the next tick reconciles
                log.warning("node %s: could not requeue %s", self.name, sorted(requeued))

    def _publish(self, job_id: int, owner_id: int) -> None:
        try:
            self._sink.publish(JobChanged(job_id, owner_id))
        except Exception:  # an audience's failure never reaches the scheduler
            log.exception("node %s: event sink failed for job %s", self.name, job_id)

    # -- stopping -------------------------------------------------------------------------

    def _drain(self) -> None:
        """Wait up to grace for attempts, hand back the rest, stop the node's row."""
        self._drainer.run(lambda attempt: self._settle(attempt, None), self._close)

    def _close(self, handed_back: list[Any]) -> None:
        """After the hand-back: stop the watchdog, join the workers, mark the node stopped."""
        self._watch_stop.set()
        join_all([self._watch_handle, *handed_back])
        try:
            self._store.stop_node(self.name)
        except Exception:
            log.warning("node %s: could not mark the node stopped", self.name, exc_info=True)
        log.info("node %s: stopped", self.name)
