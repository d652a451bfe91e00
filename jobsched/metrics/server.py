"""The metrics endpoint of a `flask run-scheduler` process (`--metrics-port`).

A scheduler process has no web server, and the web's `/metrics` can only show its own
process's series, so each scheduler serves its histograms and counters itself, on loopback
unless told otherwise. Queue metrics stay on the web's `/metrics` (one source, no duplicates).
With JOBSCHED_METRICS_TOKEN set, a scrape must send it as a Bearer token, as on the web.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from .guard import CHALLENGE, UNAUTHORIZED_MESSAGE, scrape_allowed
from .process import process_metrics

DEFAULT_HOST = "127.0.0.1"
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class MetricsServer:
    """A threading WSGI server on a daemon thread, stopped with close()."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server, self._thread = server, thread

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self._server.server_address[1]

    def close(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _QuietHandler(WSGIRequestHandler):
    """No access line per scrape on stderr (every 15 s, forever)."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def guarded(app: WsgiApp, token: str | None) -> WsgiApp:
    """`app`, answering 401 unless the scrape carries the token (when one is set)."""

    def check(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if scrape_allowed(environ.get("HTTP_AUTHORIZATION"), token):
            return app(environ, start_response)
        body = f'{{"message": "{UNAUTHORIZED_MESSAGE}", "errors": {{}}}}'.encode()
        start_response("401 Unauthorized", [
            ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
            ("WWW-Authenticate", CHALLENGE)])
        return [body]

    return check


def serve_metrics(port: int, host: str = DEFAULT_HOST, token: str | None = None
                  ) -> MetricsServer:
    """Serve this process's scheduler metrics on http://host:port/ (any path answers).

    Raises OSError when the port cannot be bound (in use, not allowed)."""

    class Server(ThreadingWSGIServer):
        address_family = _family(host, port)  # an IPv6 host needs an IPv6 socket

    app = guarded(make_wsgi_app(process_metrics().registry), token)
    server = make_server(host, port, app, Server, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="jobsched-metrics")
    thread.start()
    return MetricsServer(server, thread)


def _family(host: str, port: int) -> socket.AddressFamily:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    return infos[0][0]
