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


def cases(operation, mode: GenerationMode, job_ids: list[int]) -> st.SearchStrategy:
    """Generated requests; valid ones for a job's URL mostly name a real job (random ids
    would almost all be 404s and never reach the job's rules)."""
    if mode is GenerationMode.POSITIVE and "{job_id}" in operation.path:
        return st.sampled_from([*job_ids, 10**6]).flatmap(
            lambda job_id: operation.as_strategy(mode, path_parameters={"job_id": job_id}))
    return operation.as_strategy(generation_mode=mode)


@pytest.mark.parametrize("mode", list(MODES), ids=lambda m: m.value)
def test_generated_requests_get_documented_answers_and_no_5xx(app, accounts, seeded_jobs,
                                                              mode):
    # The token goes in as the spec's Bearer scheme, so schemathesis knows requests carry it
    # (and which of its negative cases leave it out on purpose).
    config = schemathesis.Config.from_dict(
        {"auth": {"openapi": {"Bearer": {"api_key": f"Bearer {accounts['alice']}"}}}})
    schema = schemathesis.openapi.from_wsgi("/jobs/api/swagger.json", app, config=config)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 18
    # Delete the jobs last, and revoke tokens (alice's may be among them) after that.
    operations.sort(key=lambda op: (op.method.upper() == "DELETE", "{token_id}" in op.path))

    for operation in operations:
        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
                  deadline=None, suppress_health_check=list(HealthCheck))
        @given(case=cases(operation, mode, seeded_jobs))
        def check(case) -> None:
            case.call_and_validate(checks=MODES[mode])

        check()
