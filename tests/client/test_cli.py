"""The `jobsched` command against a live server: what it prints for people and for
scripts (--json), its exit codes (0 done, 1 API error, 2 usage), and never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jobsched.client import Client
from tests.realtime.server import spare_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(sys.executable).parent / "jobsched"  # `make install-dev` puts it there
LATER = "2100-01-01T00:00:00Z"


def jobsched(*args: str, url: str | None = None, token: str | None = None,
             expect: int = 0) -> subprocess.CompletedProcess[str]:
    """Run the installed command with JOBSCHED_URL/JOBSCHED_TOKEN (when given), asserting
    its exit code and that it printed no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBSCHED_")}
    env.update({"JOBSCHED_URL": url} if url is not None else {})
    env.update({"JOBSCHED_TOKEN": token} if token is not None else {})
    done = subprocess.run([str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def user(site) -> dict[str, str]:
    """The environment of a fresh user: url and token."""
    return {"url": site.url, "token": site.new_user("cli")[1]}


def test_the_console_script_is_installed():
    assert SCRIPT.is_file(), "run `make install-dev`: it installs the `jobsched` command"
    assert "submit" in jobsched("--help").stdout


def test_submit_prints_a_table_row(user):
    out = jobsched("submit", "nightly report", "--task", "echo", "--args", '{"message": 1}',
                   "--priority", "high", "--run-at", LATER, **user).stdout
    heading, row = out.splitlines()
    assert heading.split() == ["ID", "STATUS", "PRIORITY", "TASK", "NAME", "PROGRESS",
                               "CREATED"]
    assert "pending" in row and "high" in row and "nightly report" in row


def test_submit_json_and_wait(user):
    out = jobsched("submit", "nap", "--args", '{"seconds": 1}', "--wait", "--timeout", "30",
                   "--json", **user).stdout
    job = json.loads(out)
    assert (job["status"], job["result"]) == ("completed", {"slept": 1})


def test_submit_passes_the_deadline(user):
    job = json.loads(jobsched("--json", "submit", "due", "--deadline", "2099-05-01T10:00:00Z",
                              "--run-at", LATER, **user).stdout)
    assert job["deadline"].startswith("2099-05-01T10:00:00")


def test_ls_lists_filters_and_limits(user):
    jobs = Client(user["url"], user["token"])
    ids = [job["id"] for job in jobs.submit_many(
        [{"name": f"ls{i}", "run_at": LATER} for i in range(3)])]
    jobs.cancel(ids[0])
    table = jobsched("ls", **user).stdout.splitlines()
    assert table[0].startswith("ID") and len(table) == 4
    assert [json.loads(jobsched("ls", "--status", "cancelled", "--json", **user).stdout)[0]
            ["id"]] == [ids[0]]
    assert len(json.loads(jobsched("ls", "--limit", "2", "--json", **user).stdout)) == 2
    assert jobsched("ls", "-q", "nothing like it", **user).stdout.split() == \
        ["ID", "STATUS", "PRIORITY", "TASK", "NAME", "PROGRESS", "CREATED"]


def test_show_prints_every_field(user):
    job = Client(user["url"], user["token"]).submit("shown", args={"seconds": 2},
                                                    run_at=LATER)
    lines = jobsched("show", str(job["id"]), **user).stdout.splitlines()
    fields = dict(line.split(None, 1) for line in lines)
    assert fields["name"] == "shown" and fields["args"] == '{"seconds": 2}'
    assert fields["status"] == "pending" and fields["error"] == "-"
    assert json.loads(jobsched("show", str(job["id"]), "--json", **user).stdout) == \
        Client(user["url"], user["token"]).get(job["id"])


def test_cancel_retry_and_wait(user):
    job = Client(user["url"], user["token"]).submit("c", run_at=LATER)
    assert "cancelled" in jobsched("cancel", str(job["id"]), **user).stdout
    assert "cancelled" in jobsched("wait", str(job["id"]), **user).stdout
    assert "pending" in jobsched("retry", str(job["id"]), **user).stdout


# -- exit code 1: the API said no, or nobody answered -----------------------------------


def test_an_api_error_exits_1_with_the_message(user):
    job = Client(user["url"], user["token"]).submit("once", run_at=LATER)
    jobsched("cancel", str(job["id"]), **user)
    done = jobsched("cancel", str(job["id"]), expect=1, **user)
    assert done.stdout == ""
    assert done.stderr.strip() == "jobsched: 409 A cancelled job cannot be cancelled."


def test_a_missing_job_exits_1(user):
    assert "404" in jobsched("show", "999999999", expect=1, **user).stderr


def test_bad_input_exits_1_naming_the_field(user):
    stderr = jobsched("submit", "bad", "--args", '{"seconds": -5}', expect=1, **user).stderr
    assert stderr.startswith("jobsched: 400") and "args" in stderr


def test_a_bad_token_exits_1(site):
    assert "401" in jobsched("ls", url=site.url, token="nope", expect=1).stderr


def test_a_wait_that_times_out_exits_1(user):
    job = Client(user["url"], user["token"]).submit("later", run_at=LATER)
    stderr = jobsched("wait", str(job["id"]), "--timeout", "1", expect=1, **user).stderr
    assert "did not finish within 1 s" in stderr


def test_a_server_that_does_not_answer_exits_1_with_one_line():
    done = jobsched("ls", url=f"http://127.0.0.1:{spare_port()}", token="t", expect=1)
    assert len(done.stderr.splitlines()) == 1 and "connection refused" in done.stderr


# -- exit code 2: usage -----------------------------------------------------------------


@pytest.mark.parametrize("env, message", [
    ({"token": "t"}, "JOBSCHED_URL"),
    ({"url": "http://127.0.0.1:5000"}, "JOBSCHED_TOKEN"),
    ({"url": "127.0.0.1:5000", "token": "t"}, "http://"),
], ids=["no-url", "no-token", "url-without-scheme"])
def test_a_missing_setting_exits_2(env, message):
    assert message in jobsched("ls", expect=2, **env).stderr


@pytest.mark.parametrize("args", [
    [], ["frobnicate"], ["show"], ["show", "twelve"], ["submit"],
    ["submit", "x", "--args", "{not json"], ["submit", "x", "--args", "[1, 2]"],
    ["submit", "x", "--priority", "urgent"], ["ls", "--limit", "-1"],
], ids=lambda args: " ".join(args) or "nothing")
def test_a_bad_command_line_exits_2(args):
    assert "usage: jobsched" in jobsched(*args, url="http://x", token="t", expect=2).stderr
