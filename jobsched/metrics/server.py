"""The metrics endpoint of a `flask run-scheduler` process (`--metrics-port`).

A scheduler process has no web server, and the web's `/metrics` can only show its own
process's series, so each scheduler serves its histograms and counters itself, on loopback
unless told otherwise. Queue metrics stay on the web's `/metrics` (one source, no duplicates).
"""
from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from .process import process_metrics

DEFAULT_HOST = "127.0.0.1"


class MetricsServer:
    """prometheus_client's HTTP server on a daemon thread, stopped with close()."""

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


def serve_metrics(port: int, host: str = DEFAULT_HOST) -> MetricsServer:
    """Serve this process's scheduler metrics on http://host:port/ (any path answers).

    Raises OSError when the port cannot be bound (in use, not allowed)."""
    server, thread = start_http_server(port, addr=host, registry=process_metrics().registry)
    return MetricsServer(server, thread)
