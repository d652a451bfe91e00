"""The Python client against a live server (SPEC §13): every method, every way a call can
fail, pagination, and wait() by Socket.IO and by polling."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from jobsched.client import ApiError, Client, ServerUnreachable, WaitTimeout, waiting
from jobsched.client import api as client_api
from tests.client.stub import stub_server
from tests.realtime.server import spare_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LATER = "2100-01-01T00:00:00Z"  # a run_at that keeps a job pending and out of the way
SERVER_SIDE = ("flask", "flask_sqlalchemy", "flask_restx", "flask_socketio", "flask_login",
               "werkzeug", "sqlalchemy", "eventlet", "redis", "psycopg2", "jsonschema")


# -- importable without the server's dependencies --------------------------------------


def test_the_client_imports_without_any_server_dependency():
    # A fresh interpreter where importing any server-side package fails, as it would where
    # only `requests` is installed.
    script = f"""
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {SERVER_SIDE!r}:
            raise ImportError("server dependency " + name)
sys.meta_path.insert(0, Refuse())
import jobsched.client, jobsched.client.cli
from jobsched.client import Client, ApiError
print(sorted(m for m in sys.modules if m.startswith("jobsched")))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert all(name.startswith("jobsched.client") or name == "jobsched"
               for name in eval(done.stdout))


# -- each method ------------------------------------------------------------------------


def test_submit_returns_the_created_job(client):
    job = client.submit("report", task="echo", args={"message": "hi"}, priority="high",
                        deadline="2099-01-01T00:00:00Z", max_attempts=2)
    assert job["id"] > 0
    assert (job["name"], job["task"], job["args"], job["priority"], job["max_attempts"]) == \
        ("report", "echo", {"message": "hi"}, "high", 2)
    assert job["deadline"].startswith("2099-01-01T00:00:00")


def test_submit_defaults_to_a_sleep_task_with_its_default_args(client):
    job = client.submit("nap", run_at=LATER)
    assert (job["task"], job["status"]) == ("sleep", "pending")


def test_get_reads_a_job(client):
    job = client.submit("one", run_at=LATER)
    assert client.get(job["id"])["name"] == "one"


def test_cancel_and_retry(client):
    job = client.submit("to cancel", run_at=LATER)
    assert client.cancel(job["id"])["status"] == "cancelled"
    assert client.retry(job["id"])["status"] == "pending"


def test_delete_removes_the_job(client):
    job = client.submit("to delete", run_at=LATER)
    client.delete(job["id"])
    with pytest.raises(ApiError) as caught:
        client.get(job["id"])
    assert caught.value.status == 404


def test_submit_many_creates_every_job_in_order(client):
    jobs = client.submit_many([{"name": f"b{i}", "run_at": LATER} for i in range(3)])
    assert [job["name"] for job in jobs] == ["b0", "b1", "b2"]
    assert client.submit_many([]) == []


def test_submit_many_sends_more_than_a_batch_in_several_calls(client, monkeypatch):
    monkeypatch.setattr(client_api, "BATCH_SIZE", 2)  # 5 jobs: three calls
    jobs = client.submit_many([{"name": f"c{i}", "run_at": LATER} for i in range(5)])
    assert [job["name"] for job in jobs] == [f"c{i}" for i in range(5)]
    assert len({job["id"] for job in jobs}) == 5


def test_a_failed_later_batch_keeps_the_earlier_jobs_and_counts_indexes_overall(
        client, monkeypatch):
    monkeypatch.setattr(client_api, "BATCH_SIZE", 2)
    items = [{"name": f"d{i}", "run_at": LATER} for i in range(4)]
    items[3]["args"] = {"seconds": -1}
    with pytest.raises(ApiError) as caught:
        client.submit_many(items)
    error = caught.value
    assert error.status == 400
    assert [job["name"] for job in error.created] == ["d0", "d1"]
    assert any(key.startswith("jobs[3].args") for key in error.errors), error.errors
    assert [job["name"] for job in client.list(q="d")] == ["d1", "d0"]  # newest first


def test_list_iterates_every_page(client):
    client.submit_many([{"name": f"p{i:03}", "run_at": LATER} for i in range(450)])
    names = [job["name"] for job in client.list(sort="created_at")]
    assert names == [f"p{i:03}" for i in range(450)]
    assert len(list(client.list(per_page=100, q="p1"))) == 100  # p100–p199


def test_list_filters_by_status_as_a_list(client):
    pending = client.submit("f-pending", run_at=LATER)
    cancelled = client.cancel(client.submit("f-cancelled", run_at=LATER)["id"])
    assert [j["id"] for j in client.list(status="pending")] == [pending["id"]]
    both = {j["id"] for j in client.list(status=["pending", "cancelled"])}
    assert both == {pending["id"], cancelled["id"]}
    assert list(client.list(status="completed")) == []


def test_forecast_is_a_404_until_the_server_has_forecasts(client):
    job = client.submit("ahead", run_at=LATER)
    with pytest.raises(ApiError) as caught:
        client.forecast(job["id"])
    assert caught.value.status == 404


def test_login_makes_a_client_with_a_new_token(site):
    from tests.conftest import PASSWORD

    name, _ = site.new_user("login")
    with Client.login(site.url, name, PASSWORD) as jobs:
        assert jobs.submit("mine", run_at=LATER)["owner"] == name


# -- waiting ----------------------------------------------------------------------------


def test_wait_listens_to_socketio(client):
    job = client.submit("quick", args={"seconds": 1})
    started = time.monotonic()
    done = client.wait(job["id"], timeout=30, realtime=True)
    assert done["status"] == "completed" and done["result"] == {"slept": 1}
    # Sooner than the HTTP re-check: the job_updates event ended the wait.
    assert time.monotonic() - started < waiting.RECHECK_SECONDS


def test_wait_polls_without_python_socketio(client, monkeypatch):
    monkeypatch.setitem(sys.modules, "socketio", None)  # `import socketio` now fails
    assert not waiting.socketio_available()
    job = client.submit("polled", args={"seconds": 1})
    assert client.wait(job["id"], timeout=30)["status"] == "completed"


def test_wait_returns_a_failed_job_too(client):
    job = client.submit("fails", task="fail", args={"message": "boom"}, max_attempts=1)
    done = client.wait(job["id"], timeout=30)
    assert done["status"] == "failed" and "boom" in done["error"]


def test_wait_returns_at_once_for_a_finished_job(client):
    job = client.cancel(client.submit("done already", run_at=LATER)["id"])
    for realtime in (True, False):
        assert client.wait(job["id"], timeout=5, realtime=realtime)["status"] == "cancelled"


@pytest.mark.parametrize("realtime", [True, False], ids=["socketio", "polling"])
def test_wait_times_out(client, realtime):
    job = client.submit("never yet", run_at=LATER)
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        client.wait(job["id"], timeout=1, realtime=realtime)
    assert 1 <= time.monotonic() - started < 5
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.job["status"] == "pending"


def test_wait_with_a_bad_token_is_a_401(make_client):
    with pytest.raises(ApiError) as caught:  # Socket.IO refuses, then polling gets the 401
        make_client(token="not-a-token").wait(1, timeout=5)
    assert caught.value.status == 401


# -- errors -----------------------------------------------------------------------------


def test_a_bad_token_is_a_401(make_client):
    with pytest.raises(ApiError) as caught:
        make_client(token="not-a-token").get(1)
    assert caught.value.status == 401 and caught.value.message


def test_a_missing_job_is_a_404(client):
    with pytest.raises(ApiError) as caught:
        client.get(10**9)
    assert caught.value.status == 404


def test_another_users_job_is_a_404(client, make_client):
    job = client.submit("private", run_at=LATER)
    with pytest.raises(ApiError) as caught:
        make_client().cancel(job["id"])
    assert caught.value.status == 404


def test_bad_input_is_a_400_naming_the_field(client):
    with pytest.raises(ApiError) as caught:
        client.submit("bad", args={"seconds": -1})
    error = caught.value
    assert error.status == 400 and any(key.startswith("args") for key in error.errors)
    assert "args" in str(error)


def test_a_bad_list_filter_is_a_400(client):
    with pytest.raises(ApiError) as caught:
        list(client.list(per_page=500))
    assert caught.value.status == 400 and "per_page" in caught.value.errors


def test_a_wrong_state_is_a_409(client):
    job = client.cancel(client.submit("twice", run_at=LATER)["id"])
    with pytest.raises(ApiError) as caught:
        client.cancel(job["id"])
    assert caught.value.status == 409


def test_a_held_unique_key_is_a_409_with_the_holder(client):
    first = client.submit("unique", run_at=LATER, unique_key="nightly")
    with pytest.raises(ApiError) as caught:
        client.submit("unique again", run_at=LATER, unique_key="nightly")
    error = caught.value
    assert (error.status, error.existing_id) == (409, first["id"])
    assert "unique_key" in error.errors


def test_the_pending_quota_is_a_429(site, make_client):
    name, token = site.new_user("quota")
    site.set_limits(name, max_pending=1)
    jobs = make_client(token=token)
    jobs.submit("the one", run_at=LATER)
    with pytest.raises(ApiError) as caught:
        jobs.submit("one too many", run_at=LATER)
    assert caught.value.status == 429 and "quota" in caught.value.errors


def test_connection_refused_raises_server_unreachable(make_client):
    jobs = make_client(token="t", url=f"http://127.0.0.1:{spare_port()}", backoff=0.01)
    with pytest.raises(ServerUnreachable, match="connection refused"):
        jobs.get(1)


def test_a_get_is_retried_when_the_connection_breaks():
    with stub_server(hang_up=True) as stub, \
            Client(stub.url, "t", retries=2, backoff=0.01) as jobs:
        with pytest.raises(ServerUnreachable, match="3 attempts"):
            jobs.get(1)
        assert stub.connections == 3


def test_a_post_is_never_retried():
    with stub_server(hang_up=True) as stub, \
            Client(stub.url, "t", retries=2, backoff=0.01) as jobs:
        with pytest.raises(ServerUnreachable):
            jobs.submit("once")
        assert stub.connections == 1


def test_a_silent_server_times_out():
    with stub_server(hang_up=False) as stub, \
            Client(stub.url, "t", timeout=0.3, retries=1, backoff=0.01) as jobs:
        started = time.monotonic()
        with pytest.raises(ServerUnreachable, match="no answer in time"):
            jobs.get(1)
        assert time.monotonic() - started < 3
        assert stub.connections == 2


def test_a_page_that_is_not_the_api_is_an_api_error(site, make_client):
    jobs = make_client(token="t", url=f"{site.url}/nowhere")
    with pytest.raises(ApiError) as caught:
        jobs.get(1)
    assert caught.value.status == 404
