"""Logs: one line per event with job id, node, transition and duration; JSON on request."""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.logging import default_handler

from jobsched.logging_setup import JsonFormatter, configure_logging, make_formatter
from jobsched.scheduler.node import SchedulerNode
from jobsched.scheduler.nodeconfig import NodeRuntime, NodeSettings
from jobsched.scheduler.states import JobStatus
from jobsched.tasks.builtin import build_registry
from tests.helpers import FakeClock, RecordingSink, run_in_place
from tests.memory import MemoryStore


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, put back as it was after the test."""
    logger = logging.getLogger()
    level, handlers = logger.level, list(logger.handlers)
    yield logger
    for handler in list(logger.handlers):
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


def run_one_job(task: str, args: dict) -> int:
    """A node runs one job to its end; returns the job id."""
    clock = FakeClock()
    store = MemoryStore(clock)
    job = store.add(task=task, args=args, max_attempts=1)
    node = SchedulerNode(store, build_registry(enable_shell=False, modules=[]), RecordingSink(),
                         NodeSettings(name="n1"), NodeRuntime(clock=clock, spawn=run_in_place))
    node.tick()
    assert store.get(job.id).status in (JobStatus.COMPLETED, JobStatus.FAILED)
    return job.id


def test_json_lines_parse_and_carry_the_event_fields(root):
    stream = io.StringIO()
    configure_logging({"JOBSCHED_LOG_FORMAT": "json"}, stream=stream)
    job_id = run_one_job("echo", {"message": "hi"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    events = {line["event"]: line for line in lines if line.get("job_id") == job_id}
    started, ended = events["started"], events["ended"]
    assert started["node"] == "n1" and started["transition"] == "pending->running"
    assert started["attempt"] == 1 and started["level"] == "INFO"
    assert ended["transition"] == "running->completed"
    assert ended["duration_seconds"] >= 0
    assert ended["message"].startswith(f"job {job_id} node n1: attempt 1 completed")
    assert ended["time"].endswith("+00:00")


def test_a_failed_attempt_logs_its_transition_to_failed(root):
    stream = io.StringIO()
    configure_logging({"JOBSCHED_LOG_FORMAT": "json"}, stream=stream)
    run_one_job("fail", {"message": "no"})
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["transition"] for line in lines if line.get("event") == "ended"] == [
        "running->failed"]


def test_text_lines_name_the_job_and_node_one_line_each(root):
    stream = io.StringIO()
    configure_logging({"JOBSCHED_LOG_FORMAT": "text"}, stream=stream)
    job_id = run_one_job("echo", {"message": "hi"})
    lines = stream.getvalue().splitlines()
    assert any(f"job {job_id} node n1: attempt 1 started" in line for line in lines)
    ended = [line for line in lines if "-> job completed" in line]
    assert len(ended) == 1 and " INFO jobsched.scheduler.node: " in ended[0]
    assert not any(line.lstrip().startswith("{") for line in lines)


def test_a_traceback_stays_on_its_one_json_line(root):
    stream = io.StringIO()
    configure_logging({"JOBSCHED_LOG_FORMAT": "json"}, stream=stream)
    try:
        raise RuntimeError("line one\nline two")
    except RuntimeError:
        logging.getLogger("jobsched.test").exception("it broke", extra={"job_id": 7})
    [line] = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["job_id"] == 7 and "Traceback" in entry["exc_info"]
    assert "line two" in entry["exc_info"]


def test_values_json_cannot_encode_are_written_as_text():
    record = logging.makeLogRecord({"msg": "x", "when": object()})
    assert json.loads(JsonFormatter().format(record))["when"].startswith("<object")


def test_configuring_again_replaces_the_handler_and_drops_flasks_own(root):
    app = Flask("ops_probe")
    app.logger.addHandler(default_handler)
    first = configure_logging({"JOBSCHED_LOG_FORMAT": "text"}, stream=io.StringIO())
    second = configure_logging(app, stream=io.StringIO())
    assert second in root.handlers and first not in root.handlers
    assert default_handler not in app.logger.handlers
    assert root.level == logging.INFO


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="text or json"):
        make_formatter("xml")
