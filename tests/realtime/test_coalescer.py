"""The coalescer's timing rules, on a fake clock (no server, no sockets)."""
from __future__ import annotations

import pytest

from jobsched.realtime.coalescer import INTERVAL, SETTLE, SPAN, Coalescer
from jobsched.scheduler.events import JobChanged, JobDeleted


def test_a_lone_change_waits_only_to_settle_and_the_latest_fact_per_job_wins():
    coalescer = Coalescer(interval=0.25, settle=0.05, stats_interval=1.0)
    assert coalescer.due_in(0.0) is None
    coalescer.add(JobChanged(1, owner_id=10), 0.0)
    assert coalescer.due_in(0.0) == pytest.approx(0.05)
    coalescer.add(JobChanged(2, owner_id=10), 0.01)  # company within the settle time
    coalescer.add(JobDeleted(1, owner_id=10), 0.02)
    assert not coalescer.take(0.04)
    first = coalescer.take(0.05)
    assert (first.changed, first.deleted) == ({2: 10}, {1: 10})
    assert first.stats_owners == {10}


def test_the_next_batch_waits_an_interval_after_the_last_one_went_out():
    """Reading and serialising jobs takes time; it must not eat into the gap the browser
    sees between arrivals."""
    coalescer = Coalescer(interval=0.25, span=0.5, settle=0.05, stats_interval=1.0)
    coalescer.add(JobChanged(1, owner_id=10), 0.0)
    batch = coalescer.take(0.05)
    coalescer.add(JobChanged(2, owner_id=10), 0.06)
    coalescer.sent(batch, 0.2)  # the send took 150 ms
    assert coalescer.due_in(0.3) == pytest.approx(0.15)
    assert coalescer.take(0.44).changed == {}
    assert coalescer.take(0.45).changed == {2: 10}


def test_a_change_after_a_quiet_time_only_settles():
    coalescer = Coalescer(interval=0.25, settle=0.05, stats_interval=1.0)
    coalescer.add(JobChanged(1, owner_id=10), 0.0)
    coalescer.sent(coalescer.take(0.05), 0.06)
    coalescer.add(JobChanged(2, owner_id=10), 5.0)
    assert coalescer.due_in(5.0) == pytest.approx(0.05)


def test_a_third_batch_waits_for_the_span_after_the_first():
    coalescer = Coalescer(interval=0.2, span=0.55, settle=0.0, stats_interval=1.0)
    for at, job_id in ((0.0, 1), (0.2, 2)):
        coalescer.add(JobChanged(job_id, owner_id=10), at)
        coalescer.sent(coalescer.take(at), at)
    coalescer.add(JobChanged(3, owner_id=10), 0.4)
    assert coalescer.due_in(0.4) == pytest.approx(0.15)
    assert coalescer.take(0.54).changed == {}
    assert coalescer.take(0.55).changed == {3: 10}


def test_a_sustained_stream_puts_at_most_four_batches_in_any_second():
    """SPEC §7: ~4 events a second per client whatever the job rate, and no change waits
    longer than the longer gap (plus the send)."""
    coalescer = Coalescer()
    sends, waits, now, send_time = [], [], 0.0, 0.03
    waiting_since = None
    while now < 10.0:
        coalescer.add(JobChanged(1, owner_id=10), now)  # a change every millisecond
        waiting_since = now if waiting_since is None else waiting_since
        batch = coalescer.take(now)
        if batch.changed:
            waits.append(now - waiting_since)
            waiting_since = None
            sends.append(now + send_time)
            coalescer.sent(batch, now + send_time)
            now += send_time
        now += 0.001
    assert all(later - earlier >= 1.0 for earlier, later in zip(sends, sends[4:],
                                                                strict=False))
    assert max(waits) <= max(INTERVAL, SPAN - INTERVAL) + send_time + 0.002
    assert len(sends) >= 2 * 10 / (SPAN + 2 * send_time) - 1


def test_the_defaults_keep_the_spec_s_promises():
    assert 2 * SPAN > 1.0  # five arrivals never fit in a second
    assert SETTLE < INTERVAL < 0.25  # a lone change, or one after a batch, within 250 ms


def test_stats_go_out_at_most_once_a_second():
    coalescer = Coalescer(interval=0.25, settle=0.0, stats_interval=1.0)
    coalescer.add(JobChanged(1, owner_id=10), 0.0)
    coalescer.sent(coalescer.take(0.0), 0.0)
    coalescer.add(JobChanged(1, owner_id=11), 0.3)
    coalescer.sent(coalescer.take(0.3), 0.3)
    assert coalescer.due_in(0.5) == pytest.approx(0.5)
    assert coalescer.take(1.0).stats_owners == {11}
