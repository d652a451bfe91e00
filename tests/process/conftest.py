"""Fixtures for tests with real scheduler processes, signals and PostgreSQL.

Each test gets its own database (cloned from one migrated template) and a `procs` group
whose processes are killed at teardown; when a test fails, every process's output is
attached to its report.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.process.jobs_db import cloned_database, seed_user
from tests.process.procs import ProcessGroup
from tests.services import postgres_url, scratch_database

PROCESSES = pytest.StashKey[ProcessGroup]()


@pytest.fixture(scope="session")
def process_template() -> Iterator[str]:
    """A migrated database the per-test databases are copied from."""
    with scratch_database(postgres_url(), prefix="jobsched_ptpl") as url:
        upgrade_schema(create_app(app_settings(url), env=TEST_ENV))
        yield url


@pytest.fixture
def pg_url(process_template) -> Iterator[str]:
    """This test's own migrated PostgreSQL database."""
    with cloned_database(process_template) as url:
        yield url


@pytest.fixture
def engine(pg_url) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def owner(engine) -> int:
    return seed_user(engine)


@pytest.fixture
def procs(request, tmp_path) -> Iterator[ProcessGroup]:
    """Start processes through this; all are killed when the test ends."""
    group = ProcessGroup(tmp_path)
    request.node.stash[PROCESSES] = group
    yield group
    group.kill_all()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, show what every process of the test wrote."""
    outcome = yield
    report = outcome.get_result()
    group = item.stash.get(PROCESSES, None)
    if report.failed and group is not None and group.processes:
        report.sections.append(("process output", group.report()))
