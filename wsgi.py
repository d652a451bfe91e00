"""Production entry point: `gunicorn -k eventlet -w 1 wsgi:app`, or `python wsgi.py`.

eventlet must patch the standard library before anything else is imported (SQLAlchemy,
redis, logging handlers), so this module does nothing else first.
"""
import eventlet

eventlet.monkey_patch()

import os  # noqa: E402
import signal  # noqa: E402

import psycopg2.extensions  # noqa: E402
from eventlet import tpool  # noqa: E402
from psycogreen.eventlet import patch_psycopg  # noqa: E402

from jobsched import create_app  # noqa: E402
from jobsched.extensions import socketio  # noqa: E402
from jobsched.runner import start_embedded_scheduler  # noqa: E402

# psycopg2 blocks the whole hub unless it waits through eventlet; check it, don't assume it.
if psycopg2.extensions.get_wait_callback() is None:
    patch_psycopg()
if psycopg2.extensions.get_wait_callback() is None:
    raise RuntimeError("psycopg2 is not cooperative under eventlet; refusing to start")


app = create_app()
# CPU-bound tasks run on a real OS thread (tpool) so the hub keeps serving requests.
embedded = start_embedded_scheduler(app, offload=tpool.execute)


def serve() -> None:
    """Serve HTTP and Socket.IO on eventlet; Ctrl-C or SIGTERM stops the scheduler cleanly."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))

    def stop(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f" * jobsched on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        socketio.run(app, host=host, port=port, log_output=False)
    except KeyboardInterrupt:
        pass
    finally:
        if embedded is not None:
            print(" * stopping the scheduler (running jobs finish or go back to the queue)",
                  flush=True)
            embedded.stop()


if __name__ == "__main__":
    serve()
