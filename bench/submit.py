"""Figure 2: submit rate through `POST /jobs/api/jobs/` against the production web server.

The server is gunicorn with one eventlet worker (`JOBSCHED_EMBEDDED_SCHEDULER=0`, REDIS_URL
set). N client threads, each on its own kept-alive connection, send requests back to back
for a fixed time; the same is done for `GET /healthz` (one `SELECT 1` and a Redis PING) as
the trivial endpoint the submit rate is compared with.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import seed
from .harness import Sandbox
from .plan import Plan
from .results import Figure, percentile
from .web_client import Client

JOB = {"name": "bench", "task": "echo", "args": {"message": 1}}
SUBMIT = ("POST", "/jobs/api/jobs/", JOB, 201)
HEALTH = ("GET", "/healthz", None, 200)
WARM_UP_REQUESTS = 30


@dataclass(slots=True)
class Load:
    """What the clients of one measurement did."""

    count: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def run(sandbox: Sandbox, plan: Plan) -> Figure:
    """Submit and /healthz rates with each client count, `plan.runs` times."""
    figure = Figure("submit", "2. Submit rate through the API")
    url = sandbox.database("submit")
    owner = seed.create_owner(url)
    web, base = sandbox.web(url)
    _warm_up(base, owner.token)
    for clients in plan.submit_clients:
        for _ in range(plan.runs):
            _one_run(figure, base, owner.token, clients, plan.submit_seconds)
    sandbox.stop(web)
    figure.settings += [
        "`gunicorn -k eventlet -w 1 wsgi:app`, JOBSCHED_EMBEDDED_SCHEDULER=0, REDIS_URL set",
        f"each measurement: {plan.submit_seconds:g} s of back-to-back requests per client "
        "thread, one kept-alive connection each, Bearer token",
        f"body: `{JOB}`",
        "the client threads run on the same two cores as the server and PostgreSQL",
    ]
    sandbox.drop_database(url)
    return figure


def _one_run(figure: Figure, base: str, token: str, clients: int, seconds: float) -> None:
    name = f"{clients} client{'s' if clients > 1 else ''}"
    submit = measure(base, token, clients, seconds, SUBMIT)
    health = measure(base, token, clients, seconds, HEALTH)
    submit_rate, health_rate = _rate(submit, seconds), _rate(health, seconds)
    figure.add(f"{name}: POST /jobs/api/jobs/", "req/s", submit_rate, digits=0)
    figure.add(f"{name}: GET /healthz", "req/s", health_rate, digits=0)
    figure.add(f"{name}: submit rate ÷ /healthz rate", "ratio", submit_rate / health_rate,
               digits=2)
    figure.add(f"{name}: submit latency p50", "ms", 1000 * percentile(submit.latencies, 50),
               digits=1)


def _rate(load: Load, seconds: float) -> float:
    return load.count / seconds


def _warm_up(base: str, token: str) -> None:
    client = Client(base, token)
    for _ in range(WARM_UP_REQUESTS):
        for method, path, body, expect in (SUBMIT, HEALTH):
            client.request(method, path, body, expect)
    client.close()


def measure(base: str, token: str, clients: int, seconds: float,
            call: tuple[str, str, Any, int]) -> Load:
    """`clients` threads sending `call` back to back for `seconds`."""
    load = Load()
    start = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=_client_loop, args=(base, token, seconds, call, load,
                                                            start), daemon=True)
               for _ in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    for thread in threads:
        thread.join(seconds + 60)
    if load.errors:
        raise RuntimeError(f"{call[0]} {call[1]} failed: {load.errors[0]}")
    return load


def _client_loop(base: str, token: str, seconds: float, call: tuple[str, str, Any, int],
                 load: Load, start: threading.Barrier) -> None:
    client = Client(base, token)
    method, path, body, expect = call
    latencies: list[float] = []
    start.wait()
    end = time.perf_counter() + seconds
    try:
        while time.perf_counter() < end:
            latency = client.timed(method, path, body, expect)
            if time.perf_counter() <= end:  # count only what completed inside the window
                latencies.append(latency)
    except Exception as error:  # reported by measure(), which fails the figure
        load.errors.append(error)
    finally:
        client.close()
    with load.lock:
        load.count += len(latencies)
        load.latencies.extend(latencies)
