"""A small HTTP client for the benchmarks: one kept-alive connection, timed requests.

http.client rather than requests: a few times less client CPU per call, which matters
when client and server share two cores.
"""
from __future__ import annotations

import http.client
import json
import re
import time
from typing import Any
from urllib.parse import urlencode, urlsplit


class HttpError(RuntimeError):
    """A response with an unexpected status."""


class Client:
    """Requests to one server over one persistent connection."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0) -> None:
        parts = urlsplit(base_url)
        self._host, self._port, self._timeout = parts.hostname, parts.port, timeout
        self._conn = self._connect()
        self.headers: dict[str, str] = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def request(self, method: str, path: str, body: Any = None, expect: int = 200,
                headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
        """Send one request (reconnecting once if the server closed the connection)."""
        sent = {**self.headers, **(headers or {})}
        data = None
        if body is not None and not isinstance(body, (bytes, str)):
            data, sent["Content-Type"] = json.dumps(body), "application/json"
        elif body is not None:
            data = body
        for retry in (True, False):
            try:
                self._conn.request(method, path, body=data, headers=sent)
                response = self._conn.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                self._conn = self._connect()
                if not retry:
                    raise
        self._keep_cookies(response)
        if response.status != expect:
            raise HttpError(f"{method} {path}: {response.status} {content[:300]!r}")
        return response, content

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """The decoded JSON of one request."""
        return json.loads(self.request(method, path, body, expect)[1])

    def timed(self, method: str, path: str, body: Any = None, expect: int = 200) -> float:
        """Seconds from sending the request to having read the whole response."""
        started = time.perf_counter()
        self.request(method, path, body, expect)
        return time.perf_counter() - started

    def login(self, username: str, password: str) -> None:
        """Log in through the form, as a browser does; later requests carry the session."""
        _, page = self.request("GET", "/auth/login")
        csrf = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
            rb'value="([^"]+)"[^>]*name="csrf_token"', page)
        if csrf is None:
            raise HttpError("no CSRF token on /auth/login")
        form = urlencode({"username": username, "password": password,
                          "csrf_token": csrf.group(1).decode()})
        self.request("POST", "/auth/login", form, expect=302,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})

    def _keep_cookies(self, response: http.client.HTTPResponse) -> None:
        """Carry cookies by hand: production cookies are `Secure`, which a cookie jar would
        not send back over http://."""
        cookies = dict(c.split("=", 1) for c in self.headers.get("Cookie", "").split("; ")
                       if "=" in c)
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            cookies[name.strip()] = value
        if cookies:
            self.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
