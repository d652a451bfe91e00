"""SPEC §3, §14: failed logins are counted before the password is checked, so concurrent
guesses are limited too, and the form and the token endpoint share one budget."""
from __future__ import annotations

import re
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import PASSWORD, csrf_token, make_user
from tests.helpers import served

GUESSES = 200
FAILED_FORM = "Wrong username or password."


def form_guesser(base: str):
    """A function posting one wrong password through the login form, returning what the
    user sees: "failed" (the form again with its error), or the status."""
    page = requests.get(f"{base}/auth/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.get_dict().items())

    def guess(password: str = "wrong-horse") -> str:
        response = requests.post(f"{base}/auth/login", timeout=30, allow_redirects=False,
                                 headers={"Cookie": cookie},
                                 data={"username": "alice", "password": password,
                                       "csrf_token": token})
        if response.status_code == 200 and FAILED_FORM in response.text:
            return "failed"
        return str(response.status_code)

    return guess


def api_guesser(base: str):
    def guess(password: str = "wrong-horse") -> str:
        response = requests.post(f"{base}/jobs/api/auth/token", timeout=30,
                                 json={"username": "alice", "password": password})
        return "failed" if response.status_code == 401 else str(response.status_code)

    return guess


def guess_at_once(guess) -> Counter:
    """GUESSES wrong guesses from 64 threads at once; how many got each answer."""
    with ThreadPoolExecutor(64) as pool:
        return Counter(pool.map(lambda _: guess(), range(GUESSES)))


@pytest.mark.parametrize("make_guesser", [form_guesser, api_guesser], ids=["form", "api"])
def test_two_hundred_concurrent_guesses_get_at_most_ten_password_checks(app, make_guesser):
    make_user(app, "alice")
    with served(app) as base:
        guess = make_guesser(base)
        outcomes = guess_at_once(guess)
        assert set(outcomes) <= {"failed", "429"}, outcomes
        assert 1 <= outcomes["failed"] <= 10, outcomes
        assert guess(PASSWORD) == "429"  # spent: even the right password waits


def test_the_form_and_the_token_endpoint_share_one_budget(app, client):
    make_user(app, "alice")
    api = app.test_client()

    def by_form(password: str = "wrong-horse") -> int:
        return client.post("/auth/login", data={
            "username": "alice", "password": password, "csrf_token": csrf_token(client)}
        ).status_code

    def by_api(password: str = "wrong-horse") -> int:
        return api.post("/jobs/api/auth/token",
                        json={"username": "ALICE ", "password": password}).status_code

    for _ in range(5):
        assert by_form() == 200
        assert by_api() == 401
    assert by_form(PASSWORD) == 429
    blocked = api.post("/jobs/api/auth/token", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429 and blocked.mimetype == "application/json"
    assert int(blocked.headers["Retry-After"]) in range(1, 61)


def test_a_right_password_gives_its_attempt_back_on_either_endpoint(app, client):
    make_user(app, "alice")
    api = app.test_client()
    for _ in range(9):
        api.post("/jobs/api/auth/token", json={"username": "alice", "password": "nope-nope"})
    for _ in range(3):
        assert api.post("/jobs/api/auth/token",
                        json={"username": "alice", "password": PASSWORD}).status_code == 201
    assert api.post("/jobs/api/auth/token",
                    json={"username": "alice", "password": "nope-nope"}).status_code == 401
    assert api.post("/jobs/api/auth/token",
                    json={"username": "alice", "password": PASSWORD}).status_code == 429


@pytest.fixture
def redis_budget(app) -> None:
    """The budget in Redis, as in production (a fresh key prefix: the counts outlive the
    test by a minute)."""
    from jobsched.extensions import limiter
    from tests.services import redis_url

    app.config["RATELIMIT_STORAGE_URI"] = redis_url()
    app.config["JOBSCHED_SOCKETIO_CHANNEL"] = f"budget-{uuid.uuid4().hex[:8]}"
    limiter.init_app(app)  # the limiter's storage is made from the config at init


@pytest.mark.redis
def test_concurrent_guesses_are_counted_in_redis_too(app, redis_budget):
    make_user(app, "alice")
    with served(app) as base:
        outcomes = guess_at_once(api_guesser(base))
    assert outcomes == Counter({"failed": 10, "429": GUESSES - 10})
