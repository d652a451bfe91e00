"""A TCP server that never answers HTTP: it hangs up at once, or keeps silent, and counts
the connections it got. It shows what the client does when the network fails."""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Stub:
    def __init__(self, hang_up: bool) -> None:
        self.hang_up = hang_up
        self.connections = 0
        self._held: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)  # so the thread sees `_stop` soon
        self._stop = threading.Event()
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.hang_up:
                conn.close()
            else:
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()
        for conn in self._held:
            conn.close()


@contextmanager
def stub_server(hang_up: bool) -> Iterator[Stub]:
    """A server that hangs up on every connection (`hang_up`) or never says a word."""
    stub = Stub(hang_up)
    stub._thread.start()
    try:
        yield stub
    finally:
        stub.close()
