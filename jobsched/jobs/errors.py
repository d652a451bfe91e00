"""What job reads and changes can refuse; the API maps each to a status, pages to a message.

InvalidTransition (jobsched.scheduler.states) is the fourth: a lifecycle move the state table
does not allow.
"""
from __future__ import annotations


class JobNotFound(LookupError):
    """No such job, or not one the caller may see: the two are indistinguishable (404)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"Job {job_id} not found.")
        self.job_id = job_id


class ValidationFailed(ValueError):
    """Input that breaks a rule; `errors` maps each field to why (400)."""

    def __init__(self, errors: dict[str, str], message: str = "Invalid input.") -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


class Forbidden(PermissionError):
    """The caller may see this but not do it, e.g. a non-admin asking for an admin task (403);
    `errors` names the field that asked for it, when one did."""

    def __init__(self, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class UserNotFound(LookupError):
    """No account with this username (404)."""

    def __init__(self, username: str) -> None:
        super().__init__(f"User {username!r} not found.")


class QuotaExceeded(Exception):
    """The change would give the owner more pending jobs than their limit (429, SPEC §10)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"At most {limit:,} of one user's jobs may wait in the queue; "
                         "wait for some to run, or cancel or delete some first.")
        self.limit = limit


class DuplicateJob(Exception):
    """Another pending or running job of the owner holds this unique key (409, SPEC §12);
    `existing_id` is that job (None when it let go of the key meanwhile)."""

    def __init__(self, key: str, existing_id: int | None, field: str = "unique_key") -> None:
        super().__init__(f"Job {existing_id} already holds unique key {key!r} (it is pending "
                         "or running); nothing was stored.")
        self.key = key
        self.existing_id = existing_id
        self.field = field  # the input field that asked for the key


class WrongState(Exception):
    """A change that only a job in another state allows, e.g. editing a running job (409)."""
