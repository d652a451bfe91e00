"""Turns shared through Redis between processes that emit to the same rooms."""
from __future__ import annotations

import logging
import uuid

import pytest

from jobsched.realtime.pace import MAX_WAIT, RELAY_MARGIN_MS, OwnPace, SharedPace, paces
from tests.services import redis_url


class FakeRedis:
    """SET NX PX and PTTL on a fake clock: just what the pace uses."""

    def __init__(self, clock: list[float]) -> None:
        self.clock = clock
        self.expires: dict[str, float] = {}
        self.down = False

    def _alive(self, key: str) -> bool:
        return self.expires.get(key, 0) > self.clock[0]

    def set(self, key: str, value: bytes, px: int, nx: bool = False) -> bool | None:
        if self.down:
            raise ConnectionError("Redis is down")
        if nx and self._alive(key):
            return None
        self.expires[key] = self.clock[0] + px / 1000
        return True

    def pttl(self, key: str) -> int:
        return int((self.expires[key] - self.clock[0]) * 1000) if self._alive(key) else -2


def pair(interval: float = 0.25):
    """Two processes' paces on one fake Redis, and the fake clock."""
    clock = [100.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    redis = FakeRedis(clock)
    make = lambda: SharedPace(redis, "turn", interval, sleep, lambda: clock[0])  # noqa: E731
    return make(), make(), redis, clock


def test_a_process_waits_until_a_full_interval_after_the_others_batch_went_out():
    web, scheduler, _, clock = pair()
    web.wait_turn()
    clock[0] += 0.1  # sending takes 100 ms
    web.done()
    assert not scheduler.try_turn()
    start = clock[0]
    scheduler.wait_turn()
    # A full interval plus the margin for the other batch's relay to the browser.
    assert clock[0] - start == pytest.approx(0.25 + RELAY_MARGIN_MS / 1000, abs=0.01)


def test_a_lost_turn_is_not_waited_for_forever():
    web, scheduler, redis, clock = pair(interval=60)  # a key far longer than MAX_WAIT
    web.wait_turn()
    start = clock[0]
    scheduler.wait_turn()
    assert clock[0] - start == pytest.approx(MAX_WAIT, abs=0.01)


def test_without_redis_each_process_paces_itself_and_says_so_once(caplog):
    web, _, redis, _ = pair()
    redis.down = True
    with caplog.at_level(logging.WARNING, logger="jobsched.realtime.pace"):
        web.wait_turn()
        assert web.try_turn()
        web.done()
    assert [r.message for r in caplog.records] == [
        "pacing through Redis failed (Redis is down); pacing this process alone"]
    redis.down = False
    with caplog.at_level(logging.INFO, logger="jobsched.realtime.pace"):
        assert web.try_turn()
    assert caplog.records[-1].message == "pacing through Redis works again"


def test_a_single_process_has_nothing_to_share():
    updates, stats = paces(None, 0.25, 1.0)
    assert isinstance(updates, OwnPace) and isinstance(stats, OwnPace)
    updates.wait_turn()
    assert stats.try_turn()


@pytest.mark.redis
def test_turns_are_shared_through_a_real_redis():
    import redis

    client = redis.Redis.from_url(redis_url())
    key = f"jobsched:test:{uuid.uuid4().hex}"
    first, second = SharedPace(client, key, 0.5), SharedPace(client, key, 0.5)
    try:
        assert first.try_turn()
        assert not second.try_turn()
        first.done()
        assert 500 < client.pttl(key) <= 500 + RELAY_MARGIN_MS  # an interval + the margin
    finally:
        client.delete(key)
        client.close()
