"""Migrations 0003, 0007, 0009 and 0011 on PostgreSQL: the NOTIFY function of each, and the one
before back on downgrade."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import flask_migrate
import pytest
from sqlalchemy import create_engine, text

from jobsched import create_app
from jobsched.extensions import db
from tests.conftest import TEST_ENV, app_settings
from tests.services import postgres_url, scratch_database

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, MIGRATIONS / "versions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def body(function_sql: str) -> str:
    """The plpgsql body of a CREATE FUNCTION statement (between its $$ quotes)."""
    return re.search(r"\$\$(.*)\$\$", function_sql, re.S).group(1)


def notify_function_body(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(text(
                "SELECT prosrc FROM pg_proc WHERE proname = 'jobsched_notify_job'"))
    finally:
        engine.dispose()


def migrate(url: str, revision: str, down: bool = False) -> None:
    app = create_app(app_settings(url), env=TEST_ENV)
    with app.app_context():
        step = flask_migrate.downgrade if down else flask_migrate.upgrade
        step(directory=str(MIGRATIONS), revision=revision)
        db.engine.dispose()


@pytest.mark.postgres
def test_upgrade_sends_queue_states_and_downgrade_restores_0001s_function_exactly():
    initial, queue_state = migration("0001_initial_schema"), migration("0003_notify_queue_state")
    with scratch_database(postgres_url(), prefix="jobsched_notify") as url:
        migrate(url, "0003")
        assert notify_function_body(url) == body(queue_state.QUEUE_STATE_FUNCTION)
        migrate(url, "0002", down=True)
        assert notify_function_body(url) == body(initial.NOTIFY_FUNCTION)
        assert body(queue_state.ID_ONLY_FUNCTION) == body(initial.NOTIFY_FUNCTION)


@pytest.mark.postgres
def test_0007_adds_the_fair_use_groups_and_its_downgrade_restores_0003s_function_exactly():
    queue_state, groups = migration("0003_notify_queue_state"), migration(
        "0007_notify_released_slots")
    assert body(groups.QUEUE_STATE_FUNCTION) == body(queue_state.QUEUE_STATE_FUNCTION)
    with scratch_database(postgres_url(), prefix="jobsched_notify") as url:
        migrate(url, "0007")
        assert notify_function_body(url) == body(groups.GROUPS_FUNCTION)
        migrate(url, "0006", down=True)
        assert notify_function_body(url) == body(queue_state.QUEUE_STATE_FUNCTION)


@pytest.mark.postgres
def test_0009_adds_the_queue_policy_fields_and_its_downgrade_restores_0007s_function_exactly():
    groups, policy = migration("0007_notify_released_slots"), migration("0009_queue_policy")
    with scratch_database(postgres_url(), prefix="jobsched_notify") as url:
        migrate(url, "0009")
        assert notify_function_body(url) == body(policy.POLICY_FUNCTION)
        migrate(url, "0008", down=True)
        assert notify_function_body(url) == body(groups.GROUPS_FUNCTION)


@pytest.mark.postgres
def test_0011_notifies_a_job_waiting_for_others_as_waiting_and_its_downgrade_restores_0009s():
    policy, dependencies = migration("0009_queue_policy"), migration("0011_job_dependencies")
    with scratch_database(postgres_url(), prefix="jobsched_notify") as url:
        migrate(url, "head")
        assert notify_function_body(url) == body(dependencies.DEPENDENCIES_FUNCTION)
        migrate(url, "0010", down=True)
        assert notify_function_body(url) == body(policy.POLICY_FUNCTION)
