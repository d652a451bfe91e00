"""SocketIOSink's sending step and the facts sent between processes, with recording
emitters (no sockets, no Redis; tests/realtime/test_relay.py has the real channel)."""
from __future__ import annotations

import logging
from typing import Any

import pytest

from jobsched.realtime.coalescer import Batch
from jobsched.realtime.facts import (
    CLOSE,
    FACTS,
    FactPublisher,
    close_handler,
    decode,
    encode,
    facts_handler,
)
from jobsched.realtime.rooms import ADMINS, user_room
from jobsched.realtime.sink import SocketIOSink
from jobsched.scheduler.events import JobChanged, JobDeleted


class RecordingRelay:
    """A RelayPublisher's `send`, kept."""

    def __init__(self, fail: int = 0) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail  # how many sends raise before they work

    def send(self, kind: str, body: dict[str, Any]) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("redis is away")
        self.sent.append((kind, body))


class RecordingEmitter:
    def __init__(self) -> None:
        self.emits: list[tuple[str, Any, Any]] = []
        self.options: list[dict[str, Any]] = []

    def emit(self, event: str, data: Any, to: Any, **options: Any) -> None:
        self.emits.append((event, data, to))
        self.options.append(options)


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the app is only the sink's context: no job is read


def make_sink(app: Any) -> SocketIOSink:
    return SocketIOSink(app, RecordingEmitter(), spawn=lambda run: None, clock=lambda: 100.0)


def test_one_owners_batch_is_emitted_once_to_both_rooms(app):
    sink = make_sink(app)
    sink.flush(Batch(deleted={7: 10, 8: 10}))
    assert sink.emitter.emits == [("job_deleted", {"ids": [7, 8]}, [user_room(10), ADMINS])]


def test_each_owner_hears_only_their_jobs_and_admins_hear_all(app):
    sink = make_sink(app)
    sink.flush(Batch(deleted={7: 10, 8: 11, 9: 10}))
    assert sink.emitter.emits == [
        ("job_deleted", {"ids": [7, 9]}, user_room(10)),
        ("job_deleted", {"ids": [8]}, user_room(11)),
        ("job_deleted", {"ids": [7, 8, 9]}, ADMINS),
    ]


def test_the_sink_emits_to_its_own_sockets_only(app):
    """Every web process hears every fact: an emit through the queue would reach each
    browser once per web process."""
    sink = make_sink(app)
    sink.flush(Batch(deleted={7: 10}, stats_owners={10}))
    assert [event for event, _, _ in sink.emitter.emits] == ["job_deleted", "stats"]
    assert all(o == {"ignore_queue": True} for o in sink.emitter.options)


def test_facts_survive_the_trip_through_a_message():
    facts = [JobChanged(1, 10), JobDeleted(2, 11)]
    assert decode(encode(facts)) == facts


@pytest.mark.parametrize("message", [None, "text", {"origin": "x"},
                                     {"origin": "x", "facts": [["z", 1, 2]]},
                                     {"origin": "x", "facts": [["c", "one", 2]]}])
def test_a_malformed_message_is_refused(message):
    with pytest.raises(ValueError):
        decode(message)


def publisher(relay: RecordingRelay) -> FactPublisher:
    return FactPublisher(relay.send, spawn=lambda run: None)


def test_the_publisher_sends_what_gathered_as_one_facts_message():
    relay = RecordingRelay()
    facts = publisher(relay)
    for job_id in (1, 2, 3):
        facts.publish(JobChanged(job_id, owner_id=10))
    facts.close()
    [(kind, body)] = relay.sent
    assert kind == FACTS
    assert decode(body) == [JobChanged(i, 10) for i in (1, 2, 3)]


def test_the_publisher_starts_one_worker_on_the_first_fact():
    started: list[Any] = []
    facts = FactPublisher(RecordingRelay().send, spawn=started.append)
    facts.publish(JobChanged(1, 10))
    facts.publish(JobChanged(2, 10))
    assert len(started) == 1


def test_a_redis_outage_drops_facts_and_is_logged_once(caplog):
    relay = RecordingRelay(fail=2)
    facts = publisher(relay)
    with caplog.at_level(logging.INFO, logger="jobsched.realtime.facts"):
        for job_id in (1, 2, 3):
            facts.publish(JobChanged(job_id, owner_id=10))
            facts.close()
    assert [decode(body) for _, body in relay.sent] == [[JobChanged(3, 10)]]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("failed" in m for m in messages) == 1
    assert sum("works again" in m for m in messages) == 1


def test_the_facts_handler_gives_each_fact_to_the_sink():
    heard: list[Any] = []
    facts_handler(heard.append)({"kind": FACTS, "origin": "another",
                                 **encode([JobChanged(5, 10), JobDeleted(6, 10)])})
    assert heard == [JobChanged(5, 10), JobDeleted(6, 10)]


@pytest.mark.parametrize("message", [{"kind": CLOSE}, {"keys": "token:7"}, {"keys": [7]}, None])
def test_the_close_handler_refuses_a_malformed_request(message):
    closed: list[list[str]] = []
    with pytest.raises(ValueError):
        close_handler(closed.append)(message)
    assert closed == []


def test_the_close_handler_closes_the_named_credentials():
    closed: list[list[str]] = []
    close_handler(closed.append)({"kind": CLOSE, "origin": "x", "keys": ["token:7"]})
    assert closed == [["token:7"]]


class RecordingSink(SocketIOSink):
    """Keeps every batch it sends."""

    def __init__(self, app: Any) -> None:
        import threading

        super().__init__(app, RecordingEmitter(),
                         spawn=lambda run: threading.Thread(target=run, daemon=True).start())
        self.batches: list[Batch] = []

    def flush(self, batch: Batch) -> None:
        self.batches.append(batch)
        super().flush(batch)


def test_stats_waiting_for_their_second_never_hold_back_a_change(app):
    """After a batch, stats wait up to a second; a change published meanwhile goes out at
    its own time (alone), not when the loop wakes for those stats (with them)."""
    import time

    from tests.helpers import wait_until

    sink = RecordingSink(app)
    sent = lambda: [set(b.deleted) for b in sink.batches]  # noqa: E731
    for job_id in (1, 2):
        sink.publish(JobDeleted(job_id, owner_id=10))
        wait_until(lambda job_id=job_id: {job_id} in sent())
    # Job 2 went out without stats (they went with job 1, under a second ago): the loop now
    # waits for them. Nothing observable says it has begun to; give it a moment.
    time.sleep(0.1)
    sink.publish(JobDeleted(3, owner_id=10))
    wait_until(lambda: sum(bool(b.stats_owners) for b in sink.batches) == 2, timeout=5)
    [third] = [b for b in sink.batches if 3 in b.deleted]
    assert third.stats_owners == set(), sink.batches


def test_the_publisher_pauses_after_each_message_so_a_burst_gathers():
    relay = RecordingRelay()
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the burst goes on while the publisher pauses
        pauses.append(seconds)
        if len(pauses) == 1:
            for job_id in (2, 3, 4):
                facts.publish(JobChanged(job_id, owner_id=10))
            return
        raise SystemExit  # ends the worker loop after its second message

    facts = FactPublisher(relay.send, spawn=lambda run: None, pause=0.02, sleep=pause)
    facts.publish(JobChanged(1, owner_id=10))
    with pytest.raises(SystemExit):
        facts._run()
    assert [len(decode(body)) for _, body in relay.sent] == [1, 3]
    assert pauses == [0.02, 0.02]
