"""WorkerThreads: attempts run on reused threads, and a busy pool never makes one wait."""
from __future__ import annotations

import logging
import threading

from jobsched.scheduler.workers import WorkerThreads
from tests.helpers import wait_until


def live_workers(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


def test_a_call_runs_and_its_handle_joins_when_it_returned():
    workers = WorkerThreads(name="w-run")
    seen: list[int] = []
    handle = workers.spawn(seen.append, 7)
    handle.join(5)
    assert seen == [7] and not handle.is_alive()


def test_a_finished_worker_takes_the_next_call():
    workers = WorkerThreads(name="w-reuse")
    threads: list[int] = []
    for _ in range(5):
        workers.spawn(lambda: threads.append(threading.get_ident())).join(5)
        wait_until(lambda: workers._idle == 1)  # back and waiting for work
    assert len(set(threads)) == 1


def test_a_call_never_waits_for_a_busy_worker():
    workers = WorkerThreads(name="w-busy")
    release = threading.Event()
    busy = workers.spawn(release.wait, 10)
    ran = threading.Event()
    workers.spawn(ran.set).join(5)
    assert ran.is_set() and busy.is_alive()
    release.set()
    busy.join(5)


def test_an_idle_worker_exits():
    workers = WorkerThreads(idle_seconds=0.05, name="w-idle")
    workers.spawn(lambda: None).join(5)
    wait_until(lambda: not live_workers("w-idle"))
    assert workers._idle == 0
    ran = threading.Event()
    workers.spawn(ran.set).join(5)  # a new worker starts for the next call
    assert ran.is_set()


def test_a_failing_call_is_logged_and_the_worker_goes_on(caplog):
    workers = WorkerThreads(name="w-fail")

    def boom() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="jobsched.scheduler.workers"):
        failed = workers.spawn(boom)
        failed.join(5)
        assert not failed.is_alive()
        wait_until(lambda: any("boom" in r.getMessage() or r.exc_info for r in caplog.records))
    ran = threading.Event()
    workers.spawn(ran.set).join(5)
    assert ran.is_set()
