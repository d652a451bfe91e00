"""SPEC §14 across web nodes: revoking a token, or logging out everywhere, on one web node
closes the sockets opened with those credentials on every other node within a second."""
from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.helpers import LIVE, wait_until
from tests.realtime.server import (
    Api,
    Listener,
    LiveServer,
    WebSession,
    issue_token,
    start_web,
)
from tests.realtime.test_socket import completed
from tests.services import postgres_url, redis_url, scratch_database

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

WITHIN = 1.0  # seconds: SPEC §14


@dataclass
class Nodes:
    a: LiveServer  # runs the scheduler
    b: LiveServer


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory) -> Iterator[Nodes]:
    """Two web processes sharing PostgreSQL, Redis and the secret key (so one login works
    on both, as behind a load balancer); node A's embedded scheduler runs the jobs."""
    queue, key = redis_url(), secrets.token_hex(32)
    logs = tmp_path_factory.mktemp("nodes") / "logs"
    with scratch_database(postgres_url(), prefix="jobsched_rv") as url:
        upgrade_schema(create_app(app_settings(url), env=TEST_ENV))
        a = start_web(url, logs, secret_key=key, REDIS_URL=queue)
        try:
            b = start_web(url, logs, secret_key=key, REDIS_URL=queue,
                          JOBSCHED_EMBEDDED_SCHEDULER="0")
        except BaseException:
            a.stop()
            raise
        try:
            WebSession(a.url).register("chief")  # the first account is the admin
            yield Nodes(a, b)
        finally:
            b.stop()
            a.stop()


@pytest.fixture
def nodes(request, two_nodes) -> Nodes:
    both = LiveServer(two_nodes.a.url, two_nodes.a.children + two_nodes.b.children)
    request.node.stash[LIVE] = both  # a failure shows what both processes said
    return two_nodes


def closed_within(listener: Listener, seconds: float, since: float) -> float:
    """Wait for the server to close `listener`'s socket; how long it took after `since`."""
    wait_until(lambda: not listener.client.connected, timeout=seconds + 1, interval=0.005,
               message="the socket stayed open")
    return time.monotonic() - since


def test_a_token_revoked_on_one_node_closes_its_socket_on_the_other(nodes):
    session = WebSession(nodes.a.url).register("scripter")
    token, kept = issue_token(nodes.a.url, "scripter"), issue_token(nodes.a.url, "scripter")
    api = Api(nodes.a.url, kept)
    ear = Listener().connect(nodes.b.url, auth={"token": token})
    other = Listener().connect(nodes.b.url, auth={"token": kept})
    first = api.create(name="before", task="echo", args={"message": "hi"})
    wait_until(lambda: ear.heard(completed(first["id"])), timeout=20,
               message="node B's socket never heard node A's job")
    doomed = min(item["id"] for item in api.call("GET", "/auth/tokens", 200)["items"])
    revoked_at = time.monotonic()
    api.call("DELETE", f"/auth/tokens/{doomed}", 204)
    assert closed_within(ear, WITHIN, revoked_at) < WITHIN
    heard = len(ear.events)
    later = api.create(name="after", task="echo", args={"message": "again"})
    wait_until(lambda: other.heard(completed(later["id"])), timeout=20)
    assert len(ear.events) == heard and later["id"] not in ear.latest_jobs()
    assert other.client.connected  # the token kept is still good
    other.close()
    session.logout()


def test_logging_out_everywhere_on_one_node_closes_session_sockets_on_the_other(nodes):
    session = WebSession(nodes.a.url).register("wanderer")
    cookie = {"Cookie": session.cookie_header()}
    ears = [Listener().connect(nodes.b.url, headers=cookie),
            Listener().connect(nodes.a.url, headers=cookie)]
    ended_at = time.monotonic()
    response = session.post_form("/account/logout-everywhere", {}, form_page="/account")
    assert response.status_code == 302
    for ear in ears:
        assert closed_within(ear, WITHIN, ended_at) < WITHIN
