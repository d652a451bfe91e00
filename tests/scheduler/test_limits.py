"""The depth rules behind SPEC §14's "JSON nests at most 32 levels": on parsed values (the
job service) and on text before it is parsed (jobsched/jsontext.py)."""
from __future__ import annotations

import json
import time

import pytest

from jobsched import jsontext
from jobsched.scheduler.limits import MAX_JSON_DEPTH, nests_deeper_than


@pytest.mark.parametrize(("text", "depth"), [
    ("1", 0), ('"[[["', 0), ("[]", 1), ("{}", 1), ('{"a": [1, {"b": []}]}', 4),
    ('[["]]]]"], [[]]]', 3), (r'["\"[[[", "\\", [[]]]', 3),
])
def test_text_and_value_depth_agree(text, depth):
    for limit in (max(depth - 1, 0), depth):
        deeper = depth > limit
        assert jsontext.text_nests_deeper_than(text, limit) is deeper, (text, limit)
        assert nests_deeper_than(json.loads(text), limit) is deeper, (text, limit)


def test_a_value_deeper_than_python_can_recurse_is_measured_without_recursion():
    value: list = []
    for _ in range(100_000):
        value = [value]
    assert nests_deeper_than(value)
    assert not nests_deeper_than([[[]]] * 1000)


def test_loads_refuses_deep_json_before_parsing_it():
    with pytest.raises(jsontext.JsonTooDeep, match="nests deeper than 32 levels"):
        jsontext.loads("[" * 100_000 + "]" * 100_000)
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert nests_deeper_than(jsontext.loads(deepest), MAX_JSON_DEPTH - 1)


@pytest.mark.parametrize("text", [
    "[" * 1_000_000, "[]" * 500_000, '"a",' * 250_000, '"' + '\\"' * 500_000,
    '"\\"' * 300_000, "{" + '"k":1,' * 150_000,
])
def test_the_scan_is_linear_on_a_megabyte(text):
    started = time.monotonic()
    jsontext.text_nests_deeper_than(text, MAX_JSON_DEPTH)
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", "1e999", "[1, 2", "{'a': 1}"])
def test_loads_is_strict(text):
    with pytest.raises(ValueError):
        jsontext.loads(text)
