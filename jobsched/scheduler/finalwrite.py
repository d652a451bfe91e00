"""The one final write of an attempt (finish or hand-back), retried through store errors.

Past the retries the lease expires and a live node rescues the job, so giving up loses
nothing; retrying longer would only hold the attempt's slot.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .store import Finished

log = logging.getLogger(__name__)

WRITE_RETRY_DELAYS = (0.05, 0.2, 0.5, 1.0, 2.0, 4.0)  # seconds between tries


def write_final(call: Callable[[], Finished | None], job_id: int, node: str) -> Finished | None:
    """`call()`, retried after each delay of WRITE_RETRY_DELAYS; None if it never succeeds."""
    for delay in (*WRITE_RETRY_DELAYS, None):
        try:
            return call()
        except Exception:
            if delay is None:
                log.warning("job %s node %s: store error on final write; giving up: its "
                            "lease will expire and the job be rescued", job_id, node,
                            exc_info=True)
                return None
            log.warning("job %s node %s: store error on final write; retrying in %.2f s",
                        job_id, node, delay)
            time.sleep(delay)  # green under eventlet's monkey patching
    return None
