"""Events are hints: a page that lost its connection says so, and once it is back it shows
what changed meanwhile, because it re-reads the state over the API after every reconnect."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from jobsched import create_app
from jobsched.auth.service import find_user
from jobsched.extensions import db
from jobsched.jobs.service import create_job
from jobsched.runtime import task_registry
from jobsched.scheduler.events import NullSink
from tests.browser.test_journeys import log_in
from tests.conftest import TEST_ENV, app_settings
from tests.helpers import LIVE
from tests.realtime.conftest import migrated_sqlite
from tests.realtime.server import LiveServer, WebSession, start_web

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@dataclass
class Restartable:
    """A server that can be stopped and started again on the same port and secret key."""

    database_url: str
    logs: Path
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    server: LiveServer | None = None

    def start(self) -> None:
        port = urlsplit(self.server.url).port if self.server else None
        self.server = start_web(self.database_url, self.logs, port=port,
                                secret_key=self.secret_key)

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def restartable(request, tmp_path) -> Iterator[Restartable]:
    box = Restartable(migrated_sqlite(tmp_path), tmp_path / "logs")
    box.start()
    request.node.stash[LIVE] = box.server
    yield box
    box.stop()


def add_job_directly(database_url: str, username: str, name: str) -> None:
    """A change made while the server is down. The job waits for a start time years ahead,
    so after the restart no event will ever announce it either: only a re-read shows it."""
    app = create_app(app_settings(database_url), env=TEST_ENV)
    with app.app_context():
        user = find_user(db.session, username)
        create_job(db.session, user, {"name": name, "run_at": "2040-01-01T00:00:00Z"},
                   task_registry(app), NullSink())
        db.session.remove()
        db.engine.dispose()


def test_a_page_that_lost_its_connection_says_so_and_catches_up_after(browse, restartable):
    WebSession(restartable.server.url).register("gina")
    browsing = browse(server=restartable.server)
    page = browsing.page
    log_in(page, "gina")
    status = page.locator("#live-status")
    expect(status).to_have_attribute("data-state", "live")

    browsing.watch.server_down = True  # failed reconnection attempts are expected now
    restartable.stop()
    expect(status).to_have_attribute("data-state", "reconnecting")
    expect(status).to_have_text("Reconnecting…")
    add_job_directly(restartable.database_url, "gina", "made while you were away")
    restartable.start()
    expect(status).to_have_attribute("data-state", "live", timeout=20_000)
    browsing.watch.server_down = False

    row = page.locator("#jobs-body tr", has_text="made while you were away")
    expect(row.locator(".status-badge")).to_have_text("pending")
    expect(page.locator('[data-stat="pending"]')).to_have_text("1")
