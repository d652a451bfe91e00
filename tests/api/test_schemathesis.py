"""A bounded, deterministic schemathesis run against /jobs/api/swagger.json.

Valid and invalid requests generated from the published spec, for every operation, must never
get a 5xx, and every answer must match what the spec documents (status, content type,
body schema). Invalid input must be refused with a 4xx.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import make_running, set_job

EXAMPLES_PER_OPERATION = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
MODES = {GenerationMode.POSITIVE: CHECKS,
         GenerationMode.NEGATIVE: [*CHECKS, negative_data_rejection]}


@pytest.fixture
def seeded_jobs(app, alice):
    """A few of alice's jobs in every state, so generated ids find real jobs too."""
    ids = [alice.create(name=f"seed {n}", task="echo", args={"message": n})["id"]
           for n in range(6)]
    make_running(app, ids[1])
    set_job(app, ids[2], status="completed", result={"any": ["json", 1, None]})
    set_job(app, ids[3], status="failed", error="boom")
    set_job(app, ids[4], status="cancelled")
    return ids


@pytest.fixture
def seeded_schedules(alice):
    """Two of alice's schedules, one paused, so generated ids find real schedules too."""
    body = {"cron": "*/5 * * * *", "job": {"task": "echo", "args": {"message": "m"}}}
    ids = [alice.post("/schedules/", 201, json={"name": f"s{n}", **body})["id"]
           for n in range(2)]
    alice.post(f"/schedules/{ids[1]}/pause/")
    return ids


def cases(operation, mode: GenerationMode, ids: dict[str, list[int]]) -> st.SearchStrategy:
    """Generated requests; valid ones for a job's or schedule's URL mostly name a real one
    (random ids would almost all be 404s and never reach the rules)."""
    for name, known in ids.items():
        if mode is GenerationMode.POSITIVE and f"{{{name}}}" in operation.path:
            return st.sampled_from([*known, 10**6]).flatmap(
                lambda value, name=name: operation.as_strategy(
                    mode, path_parameters={name: value}))
    return operation.as_strategy(generation_mode=mode)


@pytest.mark.parametrize("mode", list(MODES), ids=lambda m: m.value)
def test_generated_requests_get_documented_answers_and_no_5xx(app, accounts, seeded_jobs,
                                                              seeded_schedules, mode):
    # The token goes in as the spec's Bearer scheme, so schemathesis knows requests carry it
    # (and which of its negative cases leave it out on purpose).
    config = schemathesis.Config.from_dict(
        {"auth": {"openapi": {"Bearer": {"api_key": f"Bearer {accounts['alice']}"}}}})
    schema = schemathesis.openapi.from_wsgi("/jobs/api/swagger.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 28
    # Delete the jobs last, and revoke tokens (alice's may be among them) after that.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", "{token_id}" in op.path))
    known_ids = {"job_id": seeded_jobs, "schedule_id": seeded_schedules}

    for operation in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=cases(operation, mode, known_ids))
        def check(case) -> None:
            case.call_and_validate(checks=MODES[mode])

        check()
