"""The task registry: schemas, per-field validation, defaults, deployers' modules."""
from __future__ import annotations

import textwrap

import pytest
from jsonschema import Draft202012Validator

import jobsched.tasks
from jobsched.scheduler.registry import Task, TaskRegistry, UnknownTask
from jobsched.tasks.builtin import build_registry


@pytest.fixture
def registry() -> TaskRegistry:
    return build_registry(enable_shell=True, modules=[])


@pytest.fixture
def default_registry(monkeypatch) -> TaskRegistry:
    """A fresh default registry, so deployer modules imported here leave no trace."""
    fresh = TaskRegistry()
    monkeypatch.setattr(jobsched.tasks, "registry", fresh)
    monkeypatch.setattr(jobsched.tasks, "task", fresh.task)
    return fresh


def test_builtin_schemas_are_strict_2020_12_with_described_fields(registry):
    for task in registry:
        Draft202012Validator.check_schema(task.schema)
        assert task.schema["$schema"].endswith("2020-12/schema")
        assert task.schema["type"] == "object"
        assert task.schema["additionalProperties"] is False
        assert task.description
        for prop in task.schema["properties"].values():
            assert prop["title"] and prop["description"]
        assert task.kind == "io"


def test_shell_is_registered_only_when_enabled_and_is_admin_only():
    assert "shell" not in build_registry(enable_shell=False, modules=[])
    enabled = build_registry(enable_shell=True, modules=[])
    assert enabled.get("shell").admin_only
    assert [t.name for t in enabled if t.admin_only] == ["shell"]


@pytest.mark.parametrize(("name", "args", "errors"), [
    ("sleep", {"seconds": -1}, {"seconds": "-1 is less than the minimum of 0"}),
    ("sleep", {"seconds": 86401}, {"seconds": "86401 is greater than the maximum of 86400"}),
    ("sleep", {"seconds": "ten"}, {"seconds": "'ten' is not of type 'number'"}),
    ("sleep", {"minutes": 1}, {"minutes": "Additional properties are not allowed "
                                          "('minutes' was unexpected)"}),
    ("echo", {}, {"message": "'message' is a required property"}),
    ("fail", {"message": 3}, {"message": "3 is not of type 'string'"}),
    ("shell", {}, {"command": "'command' is a required property"}),
    ("shell", {"command": ""}, {"command": "'' should be non-empty"}),
    ("sleep", [], {"args": "[] is not of type 'object'"}),
])
def test_validation_messages_name_the_field(registry, name, args, errors):
    assert registry.validate_args(name, args) == errors


@pytest.mark.parametrize(("name", "args"), [
    ("sleep", {}), ("sleep", {"seconds": 0.5}), ("echo", {"message": None}),
    ("echo", {"message": {"any": ["json", 1]}}), ("fail", {}), ("shell", {"command": "true"}),
])
def test_valid_args_have_no_errors(registry, name, args):
    assert registry.validate_args(name, args) == {}


def test_defaults_are_filled_in_and_given_args_win(registry):
    assert registry.with_defaults("sleep", {}) == {"seconds": 1}
    assert registry.with_defaults("sleep", {"seconds": 3}) == {"seconds": 3}
    assert registry.with_defaults("echo", {"message": "hi"}) == {"message": "hi"}


def test_unknown_task_raises_unknown_task(registry):
    with pytest.raises(UnknownTask):
        registry.get("nope")
    with pytest.raises(UnknownTask):
        registry.validate_args("nope", {})
    assert "nope" not in registry


def test_decorator_registers_with_docstring_description():
    registry = TaskRegistry()

    @registry.task("double", schema={"type": "object"})
    def double(ctx, n=1):
        """Double a number.

        Longer text that is not the summary.
        """
        return 2 * n

    assert registry.get("double").description == "Double a number."
    assert registry.get("double").func is double


def test_invalid_schema_is_refused():
    with pytest.raises(Exception, match="is not valid"):
        TaskRegistry().add(Task("bad", print, {"type": "no-such-type"}))


def test_deployer_module_tasks_join_the_built_ins(default_registry, tmp_path, monkeypatch):
    module = tmp_path / "deployer_tasks_ok.py"
    module.write_text(textwrap.dedent('''
        from jobsched.tasks import task

        @task("resize", schema={"type": "object", "properties": {"width": {"type": "integer"}},
                                "additionalProperties": False}, kind="cpu")
        def resize(ctx, width=10):
            """Resize something."""
            return {"width": width}
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = build_registry(enable_shell=False, modules=["deployer_tasks_ok"])
    assert [t.name for t in registry] == ["echo", "fail", "resize", "sleep"]
    assert registry.get("resize").kind == "cpu"
    assert registry.validate_args("resize", {"width": "x"}) == {
        "width": "'x' is not of type 'integer'"}


def test_deployer_task_may_not_shadow_a_built_in(default_registry):
    default_registry.add(Task("sleep", print, {"type": "object"}))
    with pytest.raises(ValueError, match="clashes with a built-in"):
        build_registry(enable_shell=False, modules=[])


def test_missing_deployer_module_is_an_import_error_naming_the_setting(default_registry):
    from jobsched.scheduler.registry import TaskModuleError

    with pytest.raises(TaskModuleError, match="JOBSCHED_TASK_MODULES names 'no_such_module_for"):
        build_registry(enable_shell=False, modules=["no_such_module_for_jobsched"])

