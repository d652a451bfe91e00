"""The relay channel on a real Redis: what one process publishes, every other process's
listener hands to its handler; its own it skips; a dropped connection comes back."""
from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from jobsched.realtime.relay import RelayListener, RelayPublisher
from tests.helpers import wait_until
from tests.services import redis_url

pytestmark = pytest.mark.redis


class Heard:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def __call__(self, message: dict[str, Any]) -> None:
        if message.get("bad"):
            raise ValueError("a malformed body")
        self.messages.append(message)


@pytest.fixture
def channel() -> str:
    return f"test-relay-{uuid.uuid4().hex[:8]}:relay"


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
def listener(channel: str, heard: Heard) -> Iterator[RelayListener]:
    ear = RelayListener(redis_url(), channel, origin=f"web-1-{channel}", handlers={"note": heard},
                        sleep=lambda seconds: threading.Event().wait(0.05))
    threading.Thread(target=ear.run, daemon=True).start()
    assert ear.ready.wait(5), "the listener never subscribed"
    yield ear  # a daemon thread: it ends with the test process


def test_another_processs_message_reaches_the_handler(listener, channel, heard):
    RelayPublisher(redis_url(), channel, origin="scheduler-1").send("note", {"n": 1})
    wait_until(lambda: heard.messages, message="the message never arrived")
    assert heard.messages == [{"kind": "note", "origin": "scheduler-1", "n": 1}]


def test_its_own_messages_are_skipped(listener, channel, heard):
    RelayPublisher(redis_url(), channel, origin=listener.origin).send("note", {"n": 1})
    RelayPublisher(redis_url(), channel, origin="web-2").send("note", {"n": 2})
    wait_until(lambda: heard.messages)
    assert [m["n"] for m in heard.messages] == [2]


def test_malformed_messages_are_logged_and_the_next_one_still_arrives(
        listener, channel, heard, caplog):
    client = redis.Redis.from_url(redis_url())
    with caplog.at_level(logging.WARNING, logger="jobsched.realtime.relay"):
        for raw in ("not json", "[1, 2]", '{"kind": "unknown", "origin": "x"}',
                    '{"kind": "note", "origin": "x", "bad": true}'):
            client.publish(channel, raw)
        RelayPublisher(redis_url(), channel, origin="x").send("note", {"n": 3})
        wait_until(lambda: heard.messages)
    client.close()
    assert [m["n"] for m in heard.messages] == [3]
    assert caplog.text.count("ignored a malformed relay message") == 4


def test_the_listener_subscribes_again_after_its_connection_is_killed(
        listener, channel, heard):
    client = redis.Redis.from_url(redis_url())
    [ours] = [c for c in client.client_list() if c["name"] == listener.client_name]
    assert client.client_kill_filter(_id=ours["id"]) == 1
    # Not ready while it waits to subscribe again (a second at least): the client library
    # may resubscribe the dying connection for a moment first, which a count would take for
    # the new subscription.
    wait_until(lambda: not listener.ready.is_set(), message="the listener saw no failure")
    wait_until(lambda: listener.ready.is_set() and client.pubsub_numsub(channel)[0][1] == 1,
               timeout=10, message="the listener did not subscribe again")
    RelayPublisher(redis_url(), channel, origin="scheduler-1").send("note", {"n": 4})
    wait_until(lambda: heard.messages, message="nothing arrived after the reconnect")
    client.close()
    assert [m["n"] for m in heard.messages] == [4]


def test_a_publish_without_redis_raises_for_the_caller_to_handle(channel):
    publisher = RelayPublisher("redis://127.0.0.1:1/0", channel)
    with pytest.raises(redis.RedisError):
        publisher.send("note", {})
