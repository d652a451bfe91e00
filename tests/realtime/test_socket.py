"""SPEC §7 against a live server with a real Socket.IO client: who may connect, who hears
what, and how bursts are coalesced."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest
import socketio

from tests.helpers import wait_until
from tests.realtime.conftest import user_with_token
from tests.realtime.server import Api, Listener, WebSession, issue_token

pytestmark = pytest.mark.slow

BURST = 200


def listen(live, **auth_or_headers) -> Listener:
    return Listener().connect(live.url, **auth_or_headers)


@pytest.mark.parametrize("auth", [None, {}, {"token": ""}, {"token": "js_not-a-real-token"},
                                  {"token": 12345}, "a string"])
def test_a_connection_without_valid_credentials_is_refused(live, auth):
    with pytest.raises(socketio.exceptions.ConnectionError):
        listen(live, auth=auth)


def test_a_revoked_token_no_longer_connects(live, username):
    name = username("revoker")
    session, token = user_with_token(live, name)
    listen(live, auth={"token": token}).close()
    page = session.request("GET", "/account").text
    token_id = page.split("/account/tokens/")[1].split("/revoke")[0]
    assert session.post_form(f"/account/tokens/{token_id}/revoke", {},
                             form_page="/account").status_code == 302
    with pytest.raises(socketio.exceptions.ConnectionError):
        listen(live, auth={"token": token})


def test_a_session_cookie_connects_and_logging_out_drops_the_socket(live, username):
    session = WebSession(live.url).register(username("cookie"))
    listener = listen(live, headers={"Cookie": session.cookie_header()})
    assert listener.client.connected
    session.logout()
    wait_until(lambda: not listener.client.connected, timeout=5,
               message="the socket outlived the login it was opened with")
    with pytest.raises(socketio.exceptions.ConnectionError):
        listen(live, headers={"Cookie": session.cookie_header()})


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_only_the_apps_own_origin_may_open_a_socket(live, username, transport):
    """A page on another site must not ride on a user's cookie (cross-site WebSocket
    hijacking): its Origin is refused, while the app's own pages connect."""
    session = WebSession(live.url).register(username("origin"))
    cookie = {"Cookie": session.cookie_header()}

    def connect(origin: str) -> Listener:
        if transport == "polling":
            return Listener().connect(live.url, "polling", headers={**cookie, "Origin": origin})
        listener = Listener(websocket_extra_options={"origin": origin})
        return listener.connect(live.url, "websocket", headers=cookie)

    with pytest.raises(socketio.exceptions.ConnectionError):
        connect("http://evil.example")
    with pytest.raises(socketio.exceptions.ConnectionError):
        connect(live.url.replace("127.0.0.1", "localhost"))
    own = connect(live.url)
    assert own.client.connected
    own.close()


def completed(job_id: int):
    return lambda job: job["id"] == job_id and job["status"] == "completed"


def latest_stats(ear: Listener) -> dict:
    stats = ear.named("stats")
    return stats[-1][1] if stats else {}


def deleted_ids(ear: Listener) -> set[int]:
    return {job_id for _, data in ear.named("job_deleted") for job_id in data["ids"]}


def heard_deleted(ear: Listener, job_id: int) -> bool:
    return job_id in deleted_ids(ear)


def test_users_hear_only_their_own_jobs_and_admins_hear_all(live, username):
    tokens = {"root": issue_token(live.url, "root")}
    for stem in ("alice", "bob"):
        tokens[stem] = user_with_token(live, username(stem))[1]
    ears = {name: listen(live, auth={"token": token}) for name, token in tokens.items()}
    alice, bob = Api(live.url, tokens["alice"]), Api(live.url, tokens["bob"])
    mine = alice.create(name="alice's", task="echo", args={"message": "a"})["id"]
    theirs = bob.create(name="bob's", task="echo", args={"message": "b"})["id"]
    for name, job_id in [("alice", mine), ("bob", theirs), ("root", mine), ("root", theirs)]:
        wait_until(partial(ears[name].heard, completed(job_id)), timeout=10,
                   message=f"{name} did not hear job {job_id} complete")
    alice.call("DELETE", f"/jobs/{mine}/", 204)
    for name in ("alice", "root"):
        wait_until(partial(heard_deleted, ears[name], mine), timeout=5)
    # Alice's own stats: her one job, then none once it is deleted.
    wait_until(lambda: latest_stats(ears["alice"]).get("total") == 0, timeout=5)
    assert latest_stats(ears["alice"])["max_concurrent"] == 3
    assert any(data["total"] == 1 for _, data in ears["alice"].named("stats"))
    assert theirs not in ears["alice"].latest_jobs()
    assert mine not in ears["bob"].latest_jobs() and mine not in deleted_ids(ears["bob"])
    assert latest_stats(ears["root"])["total"] >= 1
    for ear in ears.values():
        ear.close()


def test_a_user_hears_the_slots_other_users_jobs_fill(live, username):
    """Issue 16: Bob, with no job at all, hears the slots in use system-wide change while
    Alice's job runs (`running_all`); his own counts stay his and name nobody."""
    ear = listen(live, auth={"token": user_with_token(live, username("bob"))[1]})
    alice = Api(live.url, user_with_token(live, username("alice"))[1])
    alice.create(name="alice's", task="sleep", args={"seconds": 3})
    wait_until(lambda: latest_stats(ear).get("running_all", 0) >= 1, timeout=10,
               message="Bob did not hear Alice's job take a slot")
    assert all((data["running"], data["total"]) == (0, 0) for _, data in ear.named("stats"))
    ear.close()


def most_in_one_second(times: list[float]) -> int:
    """The largest number of arrivals inside any window [t, t + 1 s)."""
    return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)


def test_a_burst_is_coalesced_and_the_latest_state_of_every_job_arrives(live, username):
    _, token = user_with_token(live, username("burst"))
    api = Api(live.url, token)
    ear = listen(live, auth={"token": token})
    with ThreadPoolExecutor(8) as pool:
        created = list(pool.map(lambda i: api.create(name=f"burst {i}", task="echo",
                                                     args={"message": i}), range(BURST)))
    ids = {job["id"] for job in created}

    def all_heard_completed() -> bool:
        latest = ear.latest_jobs()
        return all(latest.get(i, {}).get("status") == "completed" for i in ids)

    wait_until(all_heard_completed, timeout=60, interval=0.1,
               message="not every job's completion was heard")
    listed = api.call("GET", "/jobs/", 200, params={"per_page": 200})["items"]
    assert {job["id"] for job in listed} == ids
    latest = ear.latest_jobs()
    for job in listed:
        assert latest[job["id"]] == job, "the last event must carry the job's final state"
    updates = [at for at, _ in ear.named("job_updates")]
    assert most_in_one_second(updates) < 5, "job_updates must be coalesced (≤ ~4 a second)"
    assert len(updates) < BURST // 2, "a burst must arrive in few batches"
    assert most_in_one_second([at for at, _ in ear.named("stats")]) <= 2
    ear.close()
