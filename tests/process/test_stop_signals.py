"""A stop signal must not deadlock a scheduler whose main thread holds a lock the stop needs.

A Python signal handler runs between two bytecodes of the main thread. If it set the node's
wake Event itself while the main thread was inside that Event's own lock (Event.clear() in
the loop, under load), it would wait for itself forever: the process never drained.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import os, signal, threading, time
    from jobsched.runner import install_stop_signals

    class Service:
        def __init__(self):
            self.stopped = threading.Event()
            self.calls = []

        def request_stop(self, graceful=True):
            self.calls.append(graceful)
            self.stopped.set()  # takes the Event's lock, as the node's request_stop does

    service = Service()
    install_stop_signals(service)
    with service.stopped._cond:  # the main thread inside the Event's lock, as in clear()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)  # the signal is handled here, with the lock held
    assert service.stopped.wait(5), "the stop never arrived"
    os.kill(os.getpid(), signal.SIGINT)
    deadline = time.monotonic() + 5
    while len(service.calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    print("calls", service.calls)
""")


def test_a_stop_signal_while_the_main_thread_holds_the_stop_lock_still_stops():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=20)
    assert done.returncode == 0, done.stderr
    # The first signal drains, the second stops at once.
    assert "calls [True, False]" in done.stdout
