"""SPEC §10 in the claim, on every store (memory, SQLite, PostgreSQL): the per-user cap and
the concurrency keys hold, a held-back job keeps its place and says why, and the slot goes
to the next job that may run."""
from __future__ import annotations

import threading

from jobsched.scheduler.fairness import HeldBy, Hold
from jobsched.scheduler.states import ExecutionStatus, Priority
from jobsched.scheduler.store import Outcome

BIG_LIMIT = 1000
DONE = Outcome(ExecutionStatus.COMPLETED)


def ids(claimed) -> list[int]:
    return [c.id for c in claimed]


def test_the_per_user_cap_gives_the_slot_to_someone_else(harness):
    flooder, other = harness.user("flood"), harness.user("other")
    floods = [harness.add(owner_id=flooder, priority=Priority.HIGH) for _ in range(5)]
    theirs = harness.add(owner_id=other, priority=Priority.LOW)
    claimed = harness.store.claim(floods + [theirs], "n1", 3, BIG_LIMIT, 30, per_user=2)
    assert ids(claimed) == [floods[0], floods[1], theirs]
    assert claimed.held == {job: Hold(flooder, None, HeldBy.OWNER) for job in floods[2:]}


def test_running_jobs_count_against_the_cap_until_they_finish(harness):
    owner = harness.user("alice")
    first, second = (harness.add(owner_id=owner) for _ in range(2))
    [running] = harness.store.claim([first], "n1", 1, BIG_LIMIT, 30, per_user=1)
    again = harness.store.claim([second], "n2", 1, BIG_LIMIT, 30, per_user=1)
    assert ids(again) == [] and set(again.held) == {second}
    harness.store.finish(running, DONE)
    assert ids(harness.store.claim([second], "n2", 1, BIG_LIMIT, 30, per_user=1)) == [second]


def test_an_admins_cap_for_one_user_wins_over_the_default(harness):
    trusted, capped = harness.user("trusted", max_running=3), harness.user("capped")
    mine = [harness.add(owner_id=trusted) for _ in range(3)]
    other = [harness.add(owner_id=capped) for _ in range(3)]
    claimed = harness.store.claim(mine + other, "n1", 10, BIG_LIMIT, 30, per_user=1)
    assert ids(claimed) == mine + other[:1]


def test_no_cap_by_default(harness):
    owner = harness.user("bob")
    jobs = [harness.add(owner_id=owner) for _ in range(4)]
    claimed = harness.store.claim(jobs, "n1", 4, BIG_LIMIT, 30)
    assert ids(claimed) == jobs and claimed.held == {}


def test_a_concurrency_key_runs_at_most_its_limit_and_others_pass_it(harness):
    owner = harness.user("deployer")
    deploys = [harness.add(owner_id=owner, priority=Priority.HIGH,
                           concurrency_key="deploy-prod") for _ in range(3)]
    other = harness.add(owner_id=owner, priority=Priority.LOW)
    claimed = harness.store.claim(deploys + [other], "n1", 3, BIG_LIMIT, 30)
    assert ids(claimed) == [deploys[0], other]
    assert claimed.held == {job: Hold(owner, "deploy-prod", HeldBy.KEY) for job in deploys[1:]}


def test_a_key_with_a_higher_limit_runs_that_many(harness):
    owner = harness.user("carol")
    jobs = [harness.add(owner_id=owner, concurrency_key="k", concurrency_limit=2)
            for _ in range(3)]
    assert ids(harness.store.claim(jobs, "n1", 3, BIG_LIMIT, 30)) == jobs[:2]
    assert ids(harness.store.claim(jobs, "n1", 3, BIG_LIMIT, 30)) == []


def test_keys_are_scoped_to_their_owner(harness):
    alice, bob = harness.user("alice"), harness.user("bob")
    a = harness.add(owner_id=alice, concurrency_key="deploy")
    b = harness.add(owner_id=bob, concurrency_key="deploy")
    assert ids(harness.store.claim([a, b], "n1", 2, BIG_LIMIT, 30)) == [a, b]


def test_a_job_held_by_its_key_does_not_use_its_owners_cap(harness):
    """The key is judged first: a keyed job that may not run leaves its owner's slot to the
    owner's next job, as one pass in queue order would."""
    owner = harness.user("dave")
    running = harness.add(owner_id=owner, priority=Priority.HIGH, concurrency_key="k")
    harness.store.claim([running], "n1", 1, BIG_LIMIT, 30)
    keyed = harness.add(owner_id=owner, priority=Priority.HIGH, concurrency_key="k")
    plain = harness.add(owner_id=owner, priority=Priority.LOW)
    claimed = harness.store.claim([keyed, plain], "n1", 2, BIG_LIMIT, 30, per_user=2)
    assert ids(claimed) == [plain]
    assert claimed.held == {keyed: Hold(owner, "k", HeldBy.KEY)}


def test_the_global_limit_still_bounds_what_the_caps_allow(harness):
    """The first job that may start but finds no room ends the claim: the jobs after it are
    neither started nor said to be held (they may well run once a slot frees)."""
    owners = [harness.user(f"user{n}") for n in range(3)]
    jobs = [harness.add(owner_id=o) for o in owners for _ in range(2)]
    claimed = harness.store.claim(jobs, "n1", 10, 2, 30, per_user=1)
    assert ids(claimed) == [jobs[0], jobs[2]]
    assert claimed.held == {jobs[1]: Hold(owners[0], None, HeldBy.OWNER),
                            jobs[3]: Hold(owners[1], None, HeldBy.OWNER)}


def test_a_job_held_for_its_owner_is_said_so_even_when_its_key_is_full_too(harness):
    owner = harness.user("erin")
    first, second = (harness.add(owner_id=owner, concurrency_key="k") for _ in range(2))
    claimed = harness.store.claim([first, second], "n1", 2, BIG_LIMIT, 30, per_user=1)
    assert ids(claimed) == [first]
    assert claimed.held == {second: Hold(owner, "k", HeldBy.OWNER)}


def test_a_claim_with_room_for_one_does_not_hold_the_owners_next_job(harness):
    """Room for one: the owner's second job is not started, but its cap (2) is not reached."""
    owner = harness.user("frank", max_running=2)
    jobs = [harness.add(owner_id=owner) for _ in range(3)]
    claimed = harness.store.claim(jobs, "n1", 1, BIG_LIMIT, 30)
    assert ids(claimed) == [jobs[0]] and claimed.held == {}
    claimed = harness.store.claim(jobs, "n1", 1, BIG_LIMIT, 30)  # the second reaches the cap
    assert ids(claimed) == [jobs[1]] and set(claimed.held) == {jobs[2]}


def test_concurrent_claimers_never_exceed_a_cap_or_a_key(shared_harness):
    """Several claimers at once, each with its own store (connection): the caps are counted
    in the locked claim, so none sees a slot another one is taking."""
    harness = shared_harness
    owner = harness.user("racer")
    plain = [harness.add(owner_id=owner) for _ in range(8)]
    keyed = [harness.add(owner_id=owner, concurrency_key="k", priority=Priority.HIGH)
             for _ in range(8)]
    stores = [harness.other_store() for _ in range(4)]
    started: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(len(stores))

    def claimer(store) -> None:
        barrier.wait()
        for _ in range(3):
            claimed = store.claim(keyed + plain, "n", 2, BIG_LIMIT, 30, per_user=3)
            with lock:
                started.extend(ids(claimed))

    threads = [threading.Thread(target=claimer, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(started) == 3 == len(set(started))
    assert len(set(started) & set(keyed)) == 1
