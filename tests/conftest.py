"""Fixtures: an app per test on SQLite and on PostgreSQL, clients, and logged-in helpers."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from jobsched import create_app
from jobsched.extensions import db
from tests.helpers import LIVE
from tests.services import postgres_url, scratch_database

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
TEST_ENV = {"JOBSCHED_ENV": "testing"}
PASSWORD = "correct-horse"


def app_settings(database_url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SOCKETIO_ASYNC_MODE": "threading",
        "SOCKETIO_MESSAGE_QUEUE": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # fast: tests hash thousands of times
    }


def upgrade_schema(app: Flask) -> None:
    """Build the schema with the real migrations, as `flask db upgrade` does."""
    import flask_migrate

    with app.app_context():
        flask_migrate.upgrade(directory=str(Path(__file__).parent.parent / "migrations"))
        # Closing the pool checkpoints SQLite's WAL into the file, so copies of it are whole.
        db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One migrated PostgreSQL database for the run; tests empty it after themselves."""
    with scratch_database(postgres_url()) as url:
        upgrade_schema(create_app(app_settings(url), env=TEST_ENV))
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_schema(create_app(app_settings(f"sqlite:///{path}"), env=TEST_ENV))
    return path


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def database_url(backend, request, tmp_path) -> str:
    if backend == "postgres":
        return request.getfixturevalue("postgres_database")
    template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "test.db"
    path.write_bytes(template.read_bytes())
    return f"sqlite:///{path}"


@pytest.fixture
def app_overrides() -> dict:
    """Tests override settings by overriding this fixture or parametrizing it."""
    return {}


@pytest.fixture
def app(database_url, app_overrides) -> Iterator[Flask]:
    app = create_app({**app_settings(database_url), **app_overrides}, env=TEST_ENV)
    yield app
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in db.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(client: FlaskClient, path: str = "/auth/login") -> str:
    """The CSRF token a page's form carries (tests post forms exactly as a browser does)."""
    html = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class AuthActions:
    """Register and log in through the real forms."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def register(self, username: str = "alice", password: str = PASSWORD, email: str = ""):
        token = csrf_token(self.client, "/auth/register")
        return self.client.post("/auth/register", data={
            "username": username, "email": email or f"{username}@example.com",
            "password": password, "confirm": password, "csrf_token": token,
        })

    def login(self, username: str = "alice", password: str = PASSWORD):
        token = csrf_token(self.client, "/auth/login")
        return self.client.post("/auth/login", data={
            "username": username, "password": password, "csrf_token": token,
        })

    def logout(self):
        return self.client.post("/auth/logout", data={"csrf_token": csrf_token(self.client, "/")})


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def make_user(app: Flask, username: str = "alice", password: str = PASSWORD,
              admin: bool = False):
    """Create a user directly (for tests that are not about registration)."""
    from jobsched.auth.service import create_account

    with app.app_context():
        user = create_account(db.session, username, password, admin=admin)
        return user.id


def make_token(app: Flask, username: str) -> str:
    from jobsched.auth.service import find_user
    from jobsched.auth.tokens import issue_token

    with app.app_context():
        _, plaintext = issue_token(db.session, find_user(db.session, username), "test")
        return plaintext


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test that used a live server (stashed under LIVE) shows what it logged."""
    outcome = yield
    report = outcome.get_result()
    server = item.stash.get(LIVE, None)
    if report.failed and server is not None:
        report.sections.append(("live server output", server.output()[-20_000:]))
