"""SPEC §14 bounds on API input: JSON nesting, a job's description and its args, each a clear
400 naming what is wrong (never a 500), with nothing stored."""
from __future__ import annotations

import json

import pytest

from jobsched.scheduler.limits import MAX_ARGS_BYTES, MAX_DESCRIPTION, MAX_JSON_DEPTH


def nested(depth: int) -> str:
    """A JSON array `depth` levels deep."""
    return "[" * depth + "]" * depth


def post_raw(client, body: str, method: str = "POST", path: str = "/jobs/"):
    return client.client.open("/jobs/api" + path, method=method, data=body, headers={
        **client.headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 10_000])
def test_a_body_nested_too_deep_is_a_400_saying_so(alice, depth):
    response = post_raw(alice, f'{{"name": "deep", "task": "echo", "args": {{"message": '
                               f"{nested(depth)}}}}}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json() == {
        "message": f"The body nests deeper than {MAX_JSON_DEPTH} levels.", "errors": {}}
    assert alice.get("/jobs/")["total"] == 0


def test_a_10000_deep_body_is_a_400_on_every_route_that_reads_one(alice):
    job = alice.create()
    deep = nested(10_000)
    for method, path in [("POST", "/jobs/"), ("PATCH", f"/jobs/{job['id']}/"),
                         ("PUT", f"/jobs/{job['id']}/"), ("POST", "/auth/token")]:
        response = post_raw(alice, deep, method, path)
        assert response.status_code == 400, (method, path, response.get_data(as_text=True))
        assert "nests deeper" in response.get_json()["message"]


def test_brackets_inside_strings_do_not_count_as_nesting(alice):
    message = "[" * 10_000 + '\\"{' * 100
    job = alice.create(task="echo", args={"message": message})
    assert job["args"] == {"message": message}


def test_args_as_deep_as_a_body_allows_are_accepted(alice):
    # The body is one level, "args" a second, "message" holds the rest.
    value = json.loads(nested(MAX_JSON_DEPTH - 2))
    job = alice.create(task="echo", args={"message": value})
    assert job["args"]["message"] == value


def test_a_description_over_10000_characters_is_a_400_naming_it(alice):
    answer = alice.create(400, description="d" * (MAX_DESCRIPTION + 1))
    assert answer["errors"] == {"description": "Use at most 10,000 characters."}
    assert alice.get("/jobs/")["total"] == 0
    job = alice.create(description="d" * MAX_DESCRIPTION)
    assert len(job["description"]) == MAX_DESCRIPTION
    answer = alice.patch(f"/jobs/{job['id']}/", 400, json={"description": "d" * 10_001})
    assert set(answer["errors"]) == {"description"}


def args_of_size(size: int) -> dict:
    """Echo args whose compact JSON is exactly `size` bytes."""
    overhead = len('{"message":""}')
    return {"message": "é" * ((size - overhead) // 2) + "a" * ((size - overhead) % 2)}


def test_args_over_64_kib_as_json_are_a_400_naming_args(alice):
    answer = alice.create(400, task="echo", args=args_of_size(MAX_ARGS_BYTES + 1))
    assert answer["errors"] == {"args": "Use at most 64 KiB (as compact JSON)."}
    assert alice.get("/jobs/")["total"] == 0
    job = alice.create(task="echo", args=args_of_size(MAX_ARGS_BYTES))
    answer = alice.patch(f"/jobs/{job['id']}/", 400,
                         json={"args": args_of_size(MAX_ARGS_BYTES + 1)})
    assert set(answer["errors"]) == {"args"}
    assert alice.get(f"/jobs/{job['id']}/")["args"] == args_of_size(MAX_ARGS_BYTES)
