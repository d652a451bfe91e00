"""/jobs/api/tasks/: the registered tasks and the JSON Schema of their args."""
from __future__ import annotations

from typing import Any

from flask_restx import Namespace, Resource

from ..runtime import task_registry
from ..scheduler.registry import Task
from .auth import authenticated
from .schemas import error_responses, task_list

ns = Namespace("tasks", path="/tasks", description="Tasks a job can run.",
               decorators=[authenticated])


def task_to_json(task: Task) -> dict[str, Any]:
    """A task as the API lists it; the schema is what the API validates a job's args with."""
    return {"name": task.name, "description": task.description, "args_schema": task.schema,
            "admin_only": task.admin_only}


@ns.route("/", strict_slashes=False)
class TaskList(Resource):
    @ns.response(200, "Every registered task.", task_list)
    @error_responses(ns, 401)
    def get(self) -> dict[str, Any]:
        """List the registered tasks with their args schema and who may run them."""
        return {"items": [task_to_json(task) for task in task_registry()]}
