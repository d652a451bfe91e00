"""`flask db upgrade` builds exactly the models' schema, and `downgrade base` undoes it."""
from __future__ import annotations

from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from jobsched import create_app
from jobsched.extensions import db
from tests.conftest import TEST_ENV, app_settings
from tests.services import postgres_url, scratch_database

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "migrations")


def schema_drift(url: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, db.metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def check_round_trip(url: str) -> None:
    app = create_app(app_settings(url), env=TEST_ENV)
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS)
    assert table_names(url) == set(db.metadata.tables)
    assert schema_drift(url) == []
    with app.app_context():
        flask_migrate.downgrade(directory=MIGRATIONS, revision="base")
        db.engine.dispose()
    assert table_names(url) == set()


# SQLite cannot reflect expression indexes, so the drift check skips the one on
# lower(username); test_usernames_are_unique_case_insensitively covers it in the database.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_sqlite_upgrade_matches_models_and_downgrades(tmp_path):
    check_round_trip(f"sqlite:///{tmp_path / 'mig.db'}")


@pytest.mark.postgres
def test_postgres_upgrade_matches_models_and_downgrades():
    with scratch_database(postgres_url(), prefix="jobsched_mig") as url:
        check_round_trip(url)


def test_usernames_are_unique_case_insensitively_in_the_database(app):
    from sqlalchemy.exc import IntegrityError

    from jobsched.models import User

    with app.app_context():
        db.session.add(User(username="Carol", password_hash="x"))
        db.session.commit()
        db.session.add(User(username="cAROL", password_hash="x"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_database_rejects_out_of_range_values(app):
    from sqlalchemy.exc import IntegrityError

    from jobsched.models import Job, User

    with app.app_context():
        user = User(username="dave", password_hash="x")
        db.session.add(user)
        db.session.commit()
        for bad in ({"priority": "urgent"}, {"status": "done"}, {"max_attempts": 0},
                    {"timeout_seconds": 0}, {"progress": 101}, {"concurrency_limit": 0},
                    {"concurrency_limit": 1001}, {"concurrency_key": ""}):
            db.session.add(Job(name="j", owner_id=user.id, **bad))
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()


def test_database_rejects_a_max_pending_out_of_range(app):
    from sqlalchemy.exc import IntegrityError

    from jobsched.models import User

    with app.app_context():
        for bad in (0, 10_000_001):
            db.session.add(User(username="frank", password_hash="x", max_pending=bad))
            with pytest.raises(IntegrityError):
                db.session.commit()
            db.session.rollback()


def check_session_versions_migration(url: str) -> None:
    """0004 gives existing users session version 0, and going back keeps the usernames'
    case-insensitive uniqueness (on SQLite a table copy would lose that index)."""
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    app = create_app(app_settings(url), env=TEST_ENV)
    insert = text("INSERT INTO users (username, password_hash, is_admin, created_at) "
                  "VALUES (:name, 'x', false, CURRENT_TIMESTAMP)")
    with app.app_context():
        flask_migrate.upgrade(directory=MIGRATIONS, revision="0003")
        with db.engine.begin() as conn:
            conn.execute(insert, {"name": "Erin"})
        flask_migrate.upgrade(directory=MIGRATIONS)
        with db.engine.connect() as conn:
            assert conn.scalar(text("SELECT session_version FROM users")) == 0
        flask_migrate.downgrade(directory=MIGRATIONS, revision="0003")
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(insert, {"name": "eRIN"})
        db.engine.dispose()


def test_sqlite_session_versions_migrate_both_ways(tmp_path):
    check_session_versions_migration(f"sqlite:///{tmp_path / 'mig.db'}")


@pytest.mark.postgres
def test_postgres_session_versions_migrate_both_ways():
    with scratch_database(postgres_url(), prefix="jobsched_mig") as url:
        check_session_versions_migration(url)


def test_node_statuses_are_running_or_stopped_in_the_database(app):
    """0005: the status no process ever wrote ('draining') is refused, the others stored."""
    from sqlalchemy.exc import IntegrityError

    from jobsched.models import SchedulerNode
    from jobsched.scheduler.clock import utcnow

    def node(name: str, status: str) -> SchedulerNode:
        return SchedulerNode(name=name, hostname="h", pid=1, concurrency=1, status=status,
                             lease_expires_at=utcnow())

    with app.app_context():
        db.session.add_all([node("a", "running"), node("b", "stopped")])
        db.session.commit()
        db.session.add(node("c", "draining"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
