"""Fixtures for tests against a live server: one `python wsgi.py` on SQLite for the session,
with an administrator registered first (the first account ever is the admin)."""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings, upgrade_schema
from tests.helpers import LIVE
from tests.realtime.server import LiveServer, WebSession, issue_token, start_web


def migrated_sqlite(folder: Path) -> str:
    """A new SQLite file with the real migrations applied."""
    url = f"sqlite:///{folder / 'live.db'}"
    upgrade_schema(create_app(app_settings(url), env=TEST_ENV))
    return url


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    """The web server with its embedded scheduler; no Redis (embedded mode needs none)."""
    folder = tmp_path_factory.mktemp("live")
    server = start_web(migrated_sqlite(folder), folder / "logs")
    WebSession(server.url).register("root")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _keep_server_for_reports(request) -> None:
    """Remember the live server a test used, so a failure can show what it logged."""
    if "live" in request.fixturenames:
        request.node.stash[LIVE] = request.getfixturevalue("live")


_names = itertools.count(1)


@pytest.fixture
def username() -> Callable[[str], str]:
    """Fresh usernames: tests share the server, so each one makes its own users."""
    return lambda stem: f"{stem}{next(_names)}"


def user_with_token(live: LiveServer, name: str) -> tuple[WebSession, str]:
    """Register `name` through the form; its session and an API token."""
    session = WebSession(live.url).register(name)
    return session, issue_token(live.url, name)
