"""Built-in tasks (provisional minimal version; the full one replaces it)."""
from __future__ import annotations

from collections.abc import Iterable

from ..scheduler.registry import Task, TaskRegistry, import_task_modules
from . import registry as default_registry


def build_registry(enable_shell: bool, modules: Iterable[str]) -> TaskRegistry:
    import_task_modules(modules)
    result = TaskRegistry()
    for task in default_registry:
        result.add(task)
    return result
