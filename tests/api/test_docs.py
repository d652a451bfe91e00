"""The published API description: Swagger UI, swagger.json, and models that match answers."""
from __future__ import annotations

import pytest

from jobsched.jobs import fields, queries
from jobsched.scheduler.limits import (
    CONCURRENCY_KEY_MAX,
    CONCURRENCY_LIMIT_MAX,
    CONCURRENCY_LIMIT_MIN,
    DEFAULT_CONCURRENCY_LIMIT,
)
from tests.api.conftest import make_running

SPEC_OPERATIONS = {
    "/jobs/": {"get", "post"},
    "/jobs/{job_id}/": {"get", "put", "patch", "delete"},
    "/jobs/{job_id}/cancel/": {"post"},
    "/jobs/{job_id}/retry/": {"post"},
    "/jobs/{job_id}/executions/": {"get"},
    "/jobs/stats/": {"get"},
    "/tasks/": {"get"},
    "/auth/token": {"post"},
    "/auth/tokens": {"get"},
    "/auth/tokens/{token_id}": {"delete"},
    "/users/{username}/limits": {"get", "put"},  # SPEC §10
    "/jobs/batch/": {"post"},  # SPEC §13
    "/jobs/bulk/": {"post"},
    "/schedules/": {"get", "post"},  # SPEC §12
    "/schedules/preview/": {"get"},
    "/schedules/{schedule_id}/": {"get", "put", "patch", "delete"},
    "/schedules/{schedule_id}/pause/": {"post"},
    "/schedules/{schedule_id}/resume/": {"post"},
    "/schedules/{schedule_id}/run-now/": {"post"},
}


@pytest.fixture
def spec(anon) -> dict:
    """swagger.json, which anyone may read."""
    return anon.get("/swagger.json")


def operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield path, method, operation


def properties(spec: dict, model: str) -> set[str]:
    return set(spec["definitions"][model]["properties"])


def test_swagger_ui_is_served_at_docs(anon):
    response = anon.client.get("/jobs/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "swagger.json" in response.get_data(as_text=True)


def test_the_spec_has_exactly_specs_operations(spec):
    assert spec["swagger"] == "2.0" and spec["basePath"] == "/jobs/api"
    assert {p: {m for m in item if m != "parameters"} for p, item in spec["paths"].items()} \
        == SPEC_OPERATIONS


def test_every_operation_has_a_summary_responses_and_security(spec):
    assert spec["securityDefinitions"]["Bearer"] == {
        **spec["securityDefinitions"]["Bearer"], "type": "apiKey", "in": "header",
        "name": "Authorization"}
    assert spec["security"] == [{"Bearer": []}]
    for path, method, operation in operations(spec):
        label = f"{method.upper()} {path}"
        assert operation["summary"], label
        codes = set(operation["responses"])
        assert codes & {"200", "201", "204"}, label
        errors = codes - {"200", "201", "204"}
        assert errors, label
        for code in errors:
            assert operation["responses"][code]["schema"] == {"$ref": "#/definitions/Error"}
        if path == "/auth/token":
            assert operation["security"] == [] and {"401", "429"} <= codes
        else:
            assert "security" not in operation  # the spec-wide Bearer requirement holds
            assert "401" in codes, label
        if "{job_id}" in path or "{token_id}" in path:
            assert "404" in codes, label


def test_bodies_and_list_parameters_are_documented(spec):
    create = spec["paths"]["/jobs/"]["post"]
    assert create["parameters"][0]["schema"] == {"$ref": "#/definitions/JobIn"}
    assert "Location" in create["responses"]["201"]["headers"]
    listed = {p["name"]: p for p in spec["paths"]["/jobs/"]["get"]["parameters"]}
    assert set(listed) == {"status", "priority", "task", "q", "owner", "sort", "page",
                           "per_page"}
    assert listed["sort"]["enum"] == list(queries.SORTS)
    assert (listed["per_page"]["minimum"], listed["per_page"]["maximum"]) == (1, 200)
    assert listed["page"]["minimum"] == 1


def test_input_models_are_strict_and_name_the_editable_fields(spec):
    job_in, job_patch = spec["definitions"]["JobIn"], spec["definitions"]["JobPatch"]
    assert set(job_in["properties"]) == set(fields.CREATE_FIELDS)
    assert set(job_patch["properties"]) == set(fields.EDITABLE_FIELDS)
    assert job_in["additionalProperties"] is False and job_patch["additionalProperties"] is False
    assert job_in["required"] == ["name"] and "required" not in job_patch
    assert job_in["properties"]["deadline"]["x-nullable"] is True


@pytest.mark.parametrize("model", ["JobIn", "JobPatch", "Job"])
def test_the_concurrency_fields_are_documented_with_their_bounds(spec, model):
    props = spec["definitions"][model]["properties"]
    key, limit = props["concurrency_key"], props["concurrency_limit"]
    assert (key["type"], key["x-nullable"]) == ("string", True)
    assert (key["minLength"], key["maxLength"]) == (1, CONCURRENCY_KEY_MAX)
    assert limit["type"] == "integer"
    assert (limit["minimum"], limit["maximum"]) == (CONCURRENCY_LIMIT_MIN, CONCURRENCY_LIMIT_MAX)
    assert "null" in key["description"] and "default" in limit["description"]
    if model != "Job":
        assert limit["default"] == DEFAULT_CONCURRENCY_LIMIT


def test_response_models_match_what_the_api_answers(spec, app, alice):
    """One field list: the models document exactly the serializer's keys, all required."""
    job = alice.create()
    answers = {
        "Job": job,
        "JobPage": alice.get("/jobs/"),
        "Stats": alice.get("/jobs/stats/"),
        "StatusCounts": alice.get("/jobs/stats/")["by_status"],
        "PriorityCounts": alice.get("/jobs/stats/")["by_priority"],
        "Task": alice.get("/tasks/")["items"][0],
        "TaskList": alice.get("/tasks/"),
        "ExecutionList": alice.get(f"/jobs/{job['id']}/executions/"),
        "Error": alice.get("/jobs/999/", 404),
        "TokenList": alice.get("/auth/tokens"),
        "TokenInfo": alice.get("/auth/tokens")["items"][0],
    }
    for model, answer in answers.items():
        assert properties(spec, model) == set(answer), model
        assert set(spec["definitions"][model]["required"]) == set(answer), model


def test_the_execution_model_matches_the_serializer(spec, app, alice):
    job = alice.create()
    make_running(app, job["id"])
    [execution] = alice.get(f"/jobs/{job['id']}/executions/")["items"]
    assert properties(spec, "Execution") == set(execution)
