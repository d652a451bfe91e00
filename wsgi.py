"""Production entry point: `gunicorn -k eventlet -w 1 wsgi:app`, or `python wsgi.py`.

eventlet must patch the standard library before anything else is imported (SQLAlchemy,
redis, logging handlers), so this module does nothing else first.
"""
import warnings

# eventlet announces its maintenance mode on import; the operator cannot act on it.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import eventlet.event  # noqa: E402
import psycopg2.extensions  # noqa: E402
from eventlet import patcher, tpool  # noqa: E402
from psycogreen.eventlet import patch_psycopg  # noqa: E402

from jobsched import create_app  # noqa: E402
from jobsched.extensions import socketio  # noqa: E402
from jobsched.logging_setup import configure_logging  # noqa: E402
from jobsched.runner import start_embedded_scheduler  # noqa: E402
from jobsched.runtime import use_offload  # noqa: E402
from jobsched.scheduler.store import NodeConflict  # noqa: E402

# psycopg2 blocks the whole hub unless it waits through eventlet; check it, don't assume it.
if psycopg2.extensions.get_wait_callback() is None:
    patch_psycopg()
if psycopg2.extensions.get_wait_callback() is None:
    raise RuntimeError("psycopg2 is not cooperative under eventlet; refusing to start")


# A CPU-bound task on a tpool thread holds the GIL; the hub thread waits up to the switch
# interval for it after every I/O wait of a request. 1 ms instead of 5 keeps a request's
# dozen or so waits from adding up to a visible delay.
sys.setswitchinterval(0.001)

app = create_app()
configure_logging(app)  # one line per event on stderr, text or JSON (JOBSCHED_LOG_FORMAT)
# Password hashing (scrypt, ~100 ms of CPU) runs on a tpool thread too, not on the hub.
use_offload(app, tpool.execute)
# CPU-bound tasks run on a real OS thread (tpool) so the hub keeps serving requests.
# Their progress and output go through a lock shared with the hub's green threads: a real
# one (a green lock contended from another OS thread cannot switch to its waiter).
try:
    embedded = start_embedded_scheduler(app, offload=tpool.execute,
                                        os_lock=patcher.original("threading").Lock)
except NodeConflict as error:
    # A second `make run` on the same SQLite file: the operator needs the reason, in one
    # line, not a traceback through the scheduler's internals.
    sys.exit(f"Error: cannot start the embedded scheduler: {error}")


def serve() -> None:
    """Serve HTTP and Socket.IO on eventlet until SIGTERM/SIGINT; then drain the scheduler
    (running jobs finish within the grace period or go back to the queue) and exit."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    stopping = eventlet.event.Event()
    stop_on_signals(stopping)
    server = eventlet.spawn(socketio.run, app, host=host, port=port, log_output=False)
    server.link(lambda _: stopping.ready() or stopping.send(None))  # it ended on its own
    print(f" * jobsched on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    stopping.wait()
    try:
        if embedded is not None:
            print(" * stopping the scheduler (running jobs finish or go back to the queue; "
                  "Ctrl-C again hands them back now)", flush=True)
            embedded.stop()
    finally:
        if server.dead:
            server.wait()  # re-raise whatever ended the server (e.g. the port is taken)
        else:
            # Not a graceful server stop: that waits for every open connection, and a
            # browser's Socket.IO connection stays open for as long as its tab does.
            server.kill()


def stop_on_signals(stopping: eventlet.event.Event) -> None:
    """SIGTERM/SIGINT wake serve(); a second one hands running jobs back at once.

    A signal handler runs in whichever green thread is executing: raising there (the
    default KeyboardInterrupt) would end that request or job instead of the server, so the
    handler only schedules work for other green threads.
    """

    def handle(signum: int, frame: object) -> None:  # noqa: ARG001
        if not stopping.ready():
            stopping.send(signum)
        elif embedded is not None:
            eventlet.spawn_n(embedded.request_stop, False)

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


if __name__ == "__main__":
    serve()
