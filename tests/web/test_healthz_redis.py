"""GET /healthz against a Redis that goes away and comes back (SPEC §9)."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from redis.connection import parse_url

from jobsched import create_app
from tests.conftest import TEST_ENV, app_settings
from tests.services import redis_url

pytestmark = [pytest.mark.redis, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]


class SwitchableProxy:
    """A TCP forwarder to the test Redis that can be switched off (every connection closed,
    new ones refused) and on again at the same port: a Redis restart, as a client sees it."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.accepted = 0
        self._running = threading.Event()
        self._acceptor: threading.Thread | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        listener.settimeout(0.05)  # lets the accept loop notice stop()
        self.port = listener.getsockname()[1]
        self._running.set()
        self._acceptor = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        self._running.clear()
        if self._acceptor is not None:
            self._acceptor.join()  # the listener is closed, the port free again
            self._acceptor = None
        with self._lock:
            for sock in self._open:
                _close(sock)
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        with listener:
            while self._running.is_set():
                try:
                    client, _ = listener.accept()
                except TimeoutError:
                    continue
                client.settimeout(None)
                upstream = socket.create_connection(self.target)
                with self._lock:
                    self.accepted += 1
                    self._open += [client, upstream]
                for source, sink in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


@pytest.fixture
def proxy() -> Iterator[SwitchableProxy]:
    target = parse_url(redis_url())
    proxy = SwitchableProxy(target.get("host", "127.0.0.1"), int(target.get("port", 6379)))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def health(database_url, proxy):
    """GET /healthz's JSON body, on an app whose Redis is behind the proxy."""
    url = f"redis://127.0.0.1:{proxy.port}/{parse_url(redis_url()).get('db', 0)}"
    app = create_app({**app_settings(database_url), "REDIS_URL": url}, env=TEST_ENV)
    client = app.test_client()

    def get() -> dict:
        response = client.get("/healthz")
        assert response.status_code == 200  # Redis never decides the status
        return response.get_json()

    return get


def test_checks_reuse_one_connection(health, proxy):
    for _ in range(3):
        assert health()["redis"] == "ok"
    assert proxy.accepted == 1


def test_reports_redis_down_then_ok_again_once_it_is_back(health, proxy):
    assert health()["redis"] == "ok"
    proxy.stop()
    assert health()["redis"] == "down"
    proxy.start()
    assert health()["redis"] == "ok"


def test_a_connection_dropped_by_a_redis_restart_is_replaced_at_once(health, proxy):
    assert health()["redis"] == "ok"
    proxy.stop()
    proxy.start()  # no check in between: the kept connection is dead, Redis is up
    assert health() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert proxy.accepted == 2
