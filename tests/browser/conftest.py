"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright against a live
server. Every page a test opens is watched: a console error, an uncaught exception, a failed
or 4xx/5xx request, or a request to any other host fails the test."""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.helpers import LIVE
from tests.realtime.conftest import migrated_sqlite
from tests.realtime.server import LiveServer, WebSession, start_web
from tests.services import REQUIRE

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
ADMIN = "root"


def chromium_path() -> str:
    """Debian's Chromium; skip without it (fail when JOBSCHED_REQUIRE_SERVICES=1)."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return str(CHROMIUM)
    message = (f"Chromium is not installed at {CHROMIUM} (Debian package 'chromium'; "
               ".ci/run installs it)")
    if REQUIRE:
        pytest.fail(f"{message}, and JOBSCHED_REQUIRE_SERVICES=1 requires it")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    path = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Iterator[LiveServer]:
    """The app with its embedded scheduler, its administrator registered first; jobs
    waiting an hour are ordered one class higher (SPEC §10's aging)."""
    folder = tmp_path_factory.mktemp("browser")
    server = start_web(migrated_sqlite(folder), folder / "logs", JOBSCHED_AGING_SECONDS="3600")
    WebSession(server.url).register(ADMIN)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _keep_server_for_reports(request) -> None:
    """Skip (or fail) at once without Chromium; else remember the live server, so that a
    failure can show what it logged."""
    chromium_path()
    if "site" in request.fixturenames or "browse" in request.fixturenames:
        request.node.stash[LIVE] = request.getfixturevalue("site")


@dataclass
class Watch:
    """What went wrong on the pages of one browser context, as a user would notice it.

    While `server_down` is set (a test stopped the server on purpose), failed connections
    are expected and not counted; everything else still is.
    """

    host: str
    problems: list[str] = field(default_factory=list)
    server_down: bool = False

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("request", self._request)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)
        page.on("websocket", lambda ws: self._check_host(ws.url))

    def _console(self, message) -> None:
        if message.type == "error" and not self.server_down:
            self.problems.append(f"console: {message.text}")

    def _request(self, request) -> None:
        self._check_host(request.url)

    def _check_host(self, url: str) -> None:
        if urlsplit(url).netloc != self.host:
            self.problems.append(f"request to another host: {url}")

    def _failed(self, request) -> None:
        # A fetch still running when the page navigates away is aborted by the browser
        # itself; that is not a failure anyone sees.
        if request.failure != "net::ERR_ABORTED" and not self.server_down:
            self.problems.append(f"failed: {request.method} {request.url}: {request.failure}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.problems.append(f"HTTP {response.status}: {response.url}")


@dataclass
class Browsing:
    """A browser context with its first page, watched."""

    context: object
    page: object
    watch: Watch

    def new_page(self):
        page = self.context.new_page()
        self.watch.attach(page)
        page.on("dialog", lambda dialog: dialog.accept())
        return page


@pytest.fixture
def browse(browser, site) -> Iterator[Callable[..., Browsing]]:
    """Open watched browser contexts (a desktop one by default); each ends problem-free."""
    opened: list[Browsing] = []

    def open_context(viewport: dict[str, int] = DESKTOP,
                     server: LiveServer | None = None) -> Browsing:
        base = (server or site).url
        context = browser.new_context(viewport=viewport, base_url=base)
        context.set_default_timeout(10_000)
        watch = Watch(urlsplit(base).netloc)
        session = Browsing(context, None, watch)
        session.page = session.new_page()
        opened.append(session)
        return session

    yield open_context
    problems = [problem for session in opened for problem in session.watch.problems]
    for session in opened:
        session.context.close()
    assert problems == [], "the browser saw problems:\n" + "\n".join(problems)
