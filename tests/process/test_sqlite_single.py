"""SQLite mode: one scheduler runs jobs; a second one is refused with a clear message."""
from __future__ import annotations

import signal

import pytest
from sqlalchemy import create_engine

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.helpers import wait_until
from tests.process.jobs_db import add_jobs, count_where, seed_user
from tests.process.procs import spare_port, wait_ready

# No PostgreSQL here: this runs wherever the suite runs.
pytestmark = [pytest.mark.slow]


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'jobsched.db'}"
    upgrade_schema(create_app(app_settings(url), env=TEST_ENV))
    return url


def test_a_second_scheduler_on_sqlite_is_refused(sqlite_url, procs):
    engine = create_engine(sqlite_url)
    owner = seed_user(engine)
    add_jobs(engine, owner, 3)
    first = procs.scheduler(sqlite_url, "first")
    wait_ready(engine, first)
    wait_until(lambda: count_where(engine, "status = 'completed'") == 3, timeout=10)

    second = procs.scheduler(sqlite_url, "second")
    assert second.wait(30) == 1
    assert error_lines(second) == [
        "Error: SQLite allows one scheduler; node first is running — stop it or use "
        "PostgreSQL"]

    first.send(signal.SIGTERM)
    assert first.wait(15) == 0
    again = procs.scheduler(sqlite_url, "second-again")
    wait_ready(engine, again)  # the refusal was about a live scheduler, not this file
    again.send(signal.SIGTERM)
    assert again.wait(15) == 0
    engine.dispose()


def test_a_second_web_process_on_a_held_sqlite_file_says_so_in_one_line(sqlite_url, procs):
    """A second `make run` (python wsgi.py with its embedded scheduler) on the same file."""
    engine = create_engine(sqlite_url)
    first = procs.scheduler(sqlite_url, "first")
    wait_ready(engine, first)

    web = procs.web(sqlite_url, spare_port())
    assert web.wait(30) == 1
    assert error_lines(web) == [
        "Error: cannot start the embedded scheduler: SQLite allows one scheduler; node first "
        "is running — stop it or use PostgreSQL"]
    first.send(signal.SIGTERM)
    assert first.wait(15) == 0
    engine.dispose()


def error_lines(process) -> list[str]:
    """What a process wrote to stderr besides log records (which carry a level), failing
    on any traceback."""
    text = process.stderr_path.read_text()
    assert "Traceback" not in text, text
    levels = (" DEBUG ", " INFO ", " WARNING ")
    return [line for line in text.splitlines() if line and not any(lv in line for lv in levels)]
