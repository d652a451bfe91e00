"""Tasks: the default registry deployers decorate with `@task(...)`.

A deployer's module, named in JOBSCHED_TASK_MODULES, registers its tasks like this::

    from jobsched.tasks import task

    @task("resize", schema={"type": "object", "properties": {"width": {"type": "integer"}},
                            "additionalProperties": False})
    def resize(ctx, width=100):
        ctx.progress(50)
        return {"width": width}

`builtin.build_registry` imports those modules and copies their tasks, with the built-ins,
into the registry the app and the scheduler use.
"""
from __future__ import annotations

from ..scheduler.registry import TaskRegistry

registry = TaskRegistry()
task = registry.task
