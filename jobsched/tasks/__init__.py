"""Tasks: the default registry deployers decorate with `@task(...)`."""
from __future__ import annotations

from ..scheduler.registry import TaskRegistry

registry = TaskRegistry()
task = registry.task
