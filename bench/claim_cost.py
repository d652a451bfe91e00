"""What the fair-use caps cost the claim: `SqlJobStore.claim` p50/p99 at 10⁵ pending jobs.

    python bench/claim_cost.py [--database-url URL] [--pending N] [--samples N]

Makes a scratch PostgreSQL database, migrates it with the code it is run from, fills it
with N pending jobs of ten owners (every fifth with a concurrency key) and times claims as
a scheduler makes them (5 candidates, 1 slot; each job taken is finished at once, so the
queue and the running set stay as they are). Four settings: no cap; a per-user cap that
never binds; a per-user cap of 2 with the first owner's 2 slots already taken, so every
claim judges (and returns) held-back candidates; no cap under the queue policy with aging
and feasible_first (SPEC §10), so every claim computes each candidate's place. Run it
from an older checkout (`PYTHONPATH=<checkout> python bench/claim_cost.py`) to compare; a
store whose claim takes no `per_user` (no `policy`) measures only the settings it has.
"""
from __future__ import annotations

import argparse
import inspect
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

CANDIDATES = 5  # one free slot + the scheduler's EXTRA_CANDIDATES
OWNERS = 10


def main() -> None:
    args = parse_args()
    from config import normalize_database_url
    from jobsched.scheduler.states import ExecutionStatus
    from jobsched.scheduler.store import Outcome

    admin = create_engine(normalize_database_url(args.database_url),
                          isolation_level="AUTOCOMMIT")
    name = f"jobsched_claimcost_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = normalize_database_url(args.database_url.rsplit("/", 1)[0] + "/" + name)
    try:
        store, engine = prepared(url, args.pending)
        done = Outcome(ExecutionStatus.COMPLETED)
        print(f"code: {Path(inspect.getfile(type(store))).parents[2]}")
        for label, extra, busy in settings(store):
            if busy:
                take_first_owners_slots(store, engine)
            ms = time_claims(store, engine, args.samples, extra, done)
            print(f"{label}: claim p50 {percentile(ms, 50):.2f} ms, "
                  f"p99 {percentile(ms, 99):.2f} ms ({len(ms)} claims, {args.pending:,} pending)")
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300)
    return parser.parse_args()


def prepared(url: str, pending: int):
    """Migrate with this code, seed the owners and the pending jobs, analyze."""
    import flask_migrate

    import jobsched
    from jobsched import create_app
    from jobsched.database import engine_options
    from jobsched.storage.store import SqlJobStore

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32,
                      "JOBSCHED_EMBEDDED_SCHEDULER": False},
                     env={"JOBSCHED_ENV": "testing"})
    with app.app_context():
        # The migrations of the code under test (an older checkout has its own).
        flask_migrate.upgrade(directory=str(Path(jobsched.__file__).parents[1] / "migrations"))
    engine = create_engine(url, **engine_options(url))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO users (username, password_hash, is_admin, created_at) "
            "SELECT 'owner' || g, 'x', false, now() FROM generate_series(1, :n) g"),
            {"n": OWNERS})
        conn.execute(text("""
            INSERT INTO jobs (name, description, task, args, priority, status, attempts,
                              max_attempts, timeout_seconds, deadline_missed, owner_id,
                              created_at, updated_at)
            SELECT 'job ' || g, '', 'sleep', '{"seconds": 3600}',
                   (ARRAY['high', 'medium', 'low'])[1 + g % 3], 'pending', 0, 3, 3600, false,
                   (SELECT min(id) FROM users) + g % :owners, now(), now()
            FROM generate_series(1, :n) g"""), {"n": pending, "owners": OWNERS})
        if has_keys(engine):
            conn.execute(text("UPDATE jobs SET concurrency_key = 'k' || (id % 3) "
                              "WHERE id % 5 = 0"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE jobs"))
    return SqlJobStore(engine), engine


def has_keys(engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.scalar(text(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = 'jobs' AND column_name = 'concurrency_key'")))


def settings(store) -> list[tuple[str, dict[str, Any], bool]]:
    """(label, the claim's extra arguments, whether the first owner's slots are taken)."""
    found: list[tuple[str, dict[str, Any], bool]] = [("no cap", {}, False)]
    parameters = inspect.signature(store.claim).parameters
    if "policy" in parameters:
        from jobsched.scheduler.policy import Overload, QueuePolicy

        policy = QueuePolicy(aging_seconds=600, overload=Overload.FEASIBLE_FIRST)
        found.append(("no cap, aging 600 s + feasible_first", {"policy": policy}, False))
    if "per_user" in parameters:
        found += [("per-user cap 1000 (never binds)", {"per_user": 1000}, False),
                  ("per-user cap 2, first owner's slots taken", {"per_user": 2}, True)]
    return found


def take_first_owners_slots(store, engine) -> None:
    """Start two of the first owner's jobs and leave them running."""
    with engine.connect() as conn:
        ids = list(conn.scalars(text(
            "SELECT id FROM jobs WHERE status = 'pending' AND owner_id = "
            "(SELECT min(id) FROM users) AND concurrency_key IS NULL ORDER BY id LIMIT 2")))
    store.claim(ids, "bench-busy", 2, 1_000_000, 3600)


def time_claims(store, engine, samples: int, extra: dict[str, Any], done) -> list[float]:
    """Claim from the head of the queue as a scheduler does; finish each job taken."""
    with engine.connect() as conn:
        ids = list(conn.scalars(text(
            "SELECT id FROM jobs WHERE status = 'pending' "
            "ORDER BY priority_rank, deadline, id LIMIT :n"), {"n": samples * 3 + CANDIDATES}))
    timings: list[float] = []
    position = 0
    while len(timings) < samples and position < len(ids):
        window = ids[position:position + CANDIDATES]
        started = time.perf_counter()
        claimed = store.claim(window, "bench-claim", 1, 1_000_000, 30, **extra)
        timings.append(1000 * (time.perf_counter() - started))
        held = getattr(claimed, "held", {})
        position += 1 if claimed or held else CANDIDATES
        for claim in claimed:
            store.finish(claim, done)
    return timings


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


if __name__ == "__main__":
    main()
