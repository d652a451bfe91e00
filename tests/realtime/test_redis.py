"""Production shape (SPEC §2, §7): the web process runs no scheduler, a separate
`flask run-scheduler` runs the jobs, and its events reach the web's clients through Redis."""
from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.helpers import LIVE, wait_until
from tests.realtime.conftest import user_with_token
from tests.realtime.server import (
    Api,
    Listener,
    LiveServer,
    WebSession,
    issue_token,
    start_scheduler,
    start_web,
)
from tests.realtime.test_socket import BURST, completed, most_in_one_second
from tests.services import postgres_url, redis_url, scratch_database

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

NODE = "rt-scheduler"
ADMIN = "boss"


@pytest.fixture(scope="module")
def split_processes(tmp_path_factory) -> Iterator[LiveServer]:
    """A web process without a scheduler and a `flask run-scheduler`, sharing PostgreSQL
    and Redis."""
    queue = redis_url()
    logs = tmp_path_factory.mktemp("split") / "logs"
    with scratch_database(postgres_url(), prefix="jobsched_rt") as url:
        upgrade_schema(create_app(app_settings(url), env=TEST_ENV))
        server = start_web(url, logs, JOBSCHED_EMBEDDED_SCHEDULER="0", REDIS_URL=queue)
        try:
            start_scheduler(server, url, logs, NODE, REDIS_URL=queue)
            WebSession(server.url).register(ADMIN)  # the first account is the admin
            yield server
        finally:
            server.stop()


@pytest.fixture
def split(request, split_processes) -> LiveServer:
    request.node.stash[LIVE] = split_processes  # a failure shows what both processes said
    return split_processes


def counted_completed(ear: Listener) -> bool:
    return any(data["by_status"]["completed"] == 1 for _, data in ear.named("stats"))


def test_events_from_a_separate_scheduler_reach_the_web_clients(split):
    admin_token = issue_token(split.url, ADMIN)
    _, token = user_with_token(split, "remote")
    api = Api(split.url, token)
    ears = [Listener().connect(split.url, auth={"token": t}) for t in (token, admin_token)]
    job = api.create(name="elsewhere", task="echo", args={"message": "hi"})
    # Only the scheduler process runs jobs here: hearing "completed" means its events
    # crossed Redis into the web process's sockets, for the owner's room and the admins'.
    for ear in ears:
        heard_done = partial(ear.heard, completed(job["id"]))
        wait_until(heard_done, timeout=20,
                   message="the scheduler's events did not reach the web's client")
        assert ear.latest_jobs()[job["id"]]["result"] == "hi"
        wait_until(partial(counted_completed, ear), timeout=5,
                   message="the scheduler's stats did not arrive")
        ear.close()
    [execution] = api.call("GET", f"/jobs/{job['id']}/executions/", 200)["items"]
    assert execution["node"] == NODE


def test_two_emitting_processes_still_coalesce_to_about_four_events_a_second(split):
    """The web process announces new jobs, the scheduler their progress: together they
    must not send a client more than ~4 job_updates a second."""
    _, token = user_with_token(split, "burster")
    api = Api(split.url, token)
    ear = Listener().connect(split.url, auth={"token": token})
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: api.create(name=f"burst {i}", task="echo",
                                                     args={"message": i}), range(BURST)))
    ids = {job["id"] for job in created}
    wait_until(lambda: all(ear.latest_jobs().get(i, {}).get("status") == "completed"
                           for i in ids), timeout=60, interval=0.1,
               message="not every job's completion was heard")
    updates = [at for at, _ in ear.named("job_updates")]
    assert most_in_one_second(updates) < 5, "job_updates must be coalesced (≤ ~4 a second)"
    assert most_in_one_second([at for at, _ in ear.named("stats")]) <= 2
    ear.close()
