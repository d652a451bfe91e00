"""Reading jobs: who may see which, the list's filters, sorts and pages, and the stats.

Every read starts from `visible_jobs(user)`, so "not yours" and "missing" look the same.
Stats are aggregates computed by the database (GROUP BY over indexed columns); no job row is
loaded into Python for them.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from ..models import Execution, Job, User
from ..scheduler.policy import STRICT, QueuePolicy
from ..scheduler.states import JobStatus, Priority
from ..storage.counts import count_sums, job_counts
from ..storage.queue import ELIGIBLE, QUEUE_ORDER, db_now, queue_order, running_jobs_count
from .errors import ValidationFailed

# Ids are 32-bit on PostgreSQL; a larger one cannot exist (and must not reach the driver).
MAX_ID = 2**31 - 1
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
DEFAULT_SORT = "-created_at"

# sort=queue lists pending jobs as the scheduler will take them: the eligible ones in its
# exact order (queue_order, the claim's own ORDER BY), then those waiting for their run_at.
_WAITING_LAST = case((ELIGIBLE, 0), else_=1)
_WAITING_UNTIL = case((ELIGIBLE, None), else_=Job.run_at)
SORTS: dict[str, tuple[Any, ...]] = {
    "-created_at": (Job.created_at.desc(), Job.id.desc()),
    "created_at": (Job.created_at.asc(), Job.id.asc()),
    "deadline": (Job.deadline.asc().nulls_last(), Job.id.asc()),
    "priority": (Job.priority_rank.asc(), Job.id.asc()),
    "queue": (_WAITING_LAST, _WAITING_UNTIL.asc(), *QUEUE_ORDER),
}


def _order(sort: str, policy: QueuePolicy) -> tuple[Any, ...]:
    if sort == "queue" and policy.changes_over_time:
        return (_WAITING_LAST, _WAITING_UNTIL.asc(), *queue_order(policy, db_now()))
    return SORTS[sort]


@dataclass(frozen=True, slots=True)
class JobQuery:
    """A parsed list request (SPEC §6 query parameters)."""

    status: tuple[str, ...] = ()
    priority: tuple[str, ...] = ()
    task: str | None = None
    q: str | None = None
    owner: str | None = None
    sort: str = DEFAULT_SORT
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True, slots=True)
class PageQuery:
    """Which page of a plain list (a job's executions): `page` from 1, `per_page` 1-200."""

    page: int = 1
    per_page: int = DEFAULT_PER_PAGE


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list, with the number of matches over all pages."""

    items: list[Any]
    total: int
    page: int
    per_page: int


def parse_job_query(args: Mapping[str, str]) -> JobQuery:
    """Parse list parameters; every bad one is reported at once (ValidationFailed, 400)."""
    return JobQuery(**_parse_args(args, _PARAMETERS))


def parse_page_query(args: Mapping[str, str]) -> PageQuery:
    """Parse `page` and `per_page`, the only parameters a plain list takes (else 400)."""
    return PageQuery(**_parse_args(args, _PAGE_PARAMETERS))


def _parse_args(args: Mapping[str, str], parameters: Mapping[str, Callable[[str], Any]]
                ) -> dict[str, Any]:
    # A misspelt filter (`?stauts=failed`) must not quietly list everything.
    errors = {name: "Unknown query parameter." for name in args if name not in parameters}
    values: dict[str, Any] = {}
    for name, parse in parameters.items():
        raw = args.get(name)
        if raw is None:
            continue
        try:
            values[name] = parse(raw)
        except ValueError as error:
            errors[name] = str(error)
    if errors:
        raise ValidationFailed(errors, "Invalid query parameters.")
    return values


def _choices(label: str, allowed: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    def parse(raw: str) -> tuple[str, ...]:
        picked = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
        unknown = [p for p in picked if p not in allowed]
        if unknown:
            raise ValueError(f"Unknown {label} {unknown[0]!r}; use {', '.join(allowed)}.")
        return picked

    return parse


def _int_between(low: int, high: int | None) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"Must be an integer, not {raw[:50]!r}.") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"Must be at least {low}." if high is None
                             else f"Must be between {low} and {high}.")
        return value

    return parse


def _sort(raw: str) -> str:
    if raw not in SORTS:
        raise ValueError(f"Unknown sort {raw[:50]!r}; use {', '.join(SORTS)}.")
    return raw


_PARAMETERS: dict[str, Callable[[str], Any]] = {
    "status": _choices("status", tuple(s.value for s in JobStatus)),
    "priority": _choices("priority", tuple(p.value for p in Priority)),
    "task": str,
    "q": str,
    "owner": str,
    "sort": _sort,
    "page": _int_between(1, None),
    "per_page": _int_between(1, MAX_PER_PAGE),
}
_PAGE_PARAMETERS = {name: _PARAMETERS[name] for name in ("page", "per_page")}
_FILTER_PARAMETERS = {name: _PARAMETERS[name] for name in ("status", "priority", "task", "q",
                                                             "owner")}


def parse_job_filter(raw: Any) -> JobQuery:
    """The list's filters as a JSON object (a bulk action's `filter`): each value a string,
    and status or priority also a list; ValidationFailed naming `filter.<name>`."""
    if not isinstance(raw, Mapping):
        raise ValidationFailed({"filter": "Must be a JSON object."})
    args = {name: ",".join(map(str, value)) if isinstance(value, list) else value
            for name, value in raw.items()}
    bad = {f"filter.{name}": "Must be a string." for name, value in args.items()
           if not isinstance(value, str)}
    try:
        parsed = _parse_args({k: v for k, v in args.items() if isinstance(v, str)},
                             _FILTER_PARAMETERS)
    except ValidationFailed as error:
        bad.update({f"filter.{name}": why for name, why in error.errors.items()})
        parsed = {}
    if bad:
        raise ValidationFailed(bad, "Invalid filter.")
    return JobQuery(**parsed)


def filtered_jobs(user: User | None, query: JobQuery) -> Select[tuple[Job]]:
    """The jobs `user` may see that match `query`'s filters."""
    return _filtered(visible_jobs(user), query)


def visible_jobs(user: User | None) -> Select[tuple[Job]]:
    """The jobs `user` may see: their own, or every job for an admin (and for None: the
    system's view, used by the real-time layer for the admins' room)."""
    return _scoped(select(Job), user)


def _scoped(query: Select[Any], user: User | None) -> Select[Any]:
    """`query` limited to the jobs `user` may see."""
    owner_id = _owner_scope(user)
    return query if owner_id is None else query.where(Job.owner_id == owner_id)


def find_visible_job(session: Session, user: User | None, job_id: int) -> Job | None:
    """The job if it exists and `user` may see it; None for missing and for not yours alike."""
    if not 1 <= job_id <= MAX_ID:
        return None
    return session.scalar(visible_jobs(user).where(Job.id == job_id))


def list_jobs(
    session: Session, user: User | None, query: JobQuery, policy: QueuePolicy = STRICT,
) -> Page:
    """One page of the visible jobs matching `query`, and how many match in all
    (`sort=queue`: in the order of the deployment's queue `policy`)."""
    selected = _filtered(visible_jobs(user), query)
    counted = _counted_total(user, query)
    if counted is None:
        counted = selected.with_only_columns(func.count(Job.id)).order_by(None)
    total = int(session.scalar(counted) or 0)
    offset = (query.page - 1) * query.per_page
    items: list[Job] = []
    if offset < total:  # a page past the end needs no query (and no huge OFFSET)
        page = selected.order_by(*_order(query.sort, policy)).offset(offset).limit(
            query.per_page)
        items = list(session.scalars(page))
    return Page(items, total, query.page, query.per_page)


def _filtered(selected: Select[tuple[Job]], query: JobQuery) -> Select[tuple[Job]]:
    if query.status:
        selected = selected.where(Job.status.in_(query.status))
    if query.priority:
        selected = selected.where(Job.priority.in_(query.priority))
    if query.task:
        selected = selected.where(Job.task == query.task)
    if query.q:
        selected = selected.where(Job.name.ilike(f"%{_escape_like(query.q)}%", escape="\\"))
    if query.owner:
        selected = selected.where(Job.owner_id == _owner_id(query.owner))
    if query.sort == "queue":  # only pending jobs are in the queue
        selected = selected.where(Job.status == JobStatus.PENDING.value)
    return selected


def _counted_total(user: User | None, query: JobQuery) -> Select[Any] | None:
    """The number of matches from the kept counts (counts.py), when the filters are ones
    they are kept by (status, priority, owner); None when jobs must be counted."""
    if query.task or query.q:
        return None
    statuses = query.status or tuple(s.value for s in JobStatus)
    if query.sort == "queue":
        statuses = tuple(s for s in statuses if s == JobStatus.PENDING.value)
    counted = (select(func.sum(job_counts.c.jobs))
               .where(job_counts.c.status.in_(statuses)))
    if query.priority:
        counted = counted.where(job_counts.c.priority.in_(query.priority))
    if (owner_id := _owner_scope(user)) is not None:
        counted = counted.where(job_counts.c.owner_id == owner_id)
    if query.owner:
        counted = counted.where(job_counts.c.owner_id == _owner_id(query.owner))
    return counted


def _owner_id(username: str) -> Any:
    """The id of the user called `username` (any case), as a scalar subquery."""
    return select(User.id).where(func.lower(User.username) == username.lower()).scalar_subquery()


def _escape_like(text: str) -> str:
    """`text` matched literally inside LIKE: its wildcards and the escape itself escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def job_executions(session: Session, job: Job, query: PageQuery = PageQuery()) -> Page:
    """One page of the job's attempts, oldest first, and how many there are in all (a job
    retried again and again has no bound on them; each holds up to 64 KiB of output)."""
    selected = select(Execution).where(Execution.job_id == job.id)
    total = int(session.scalar(
        selected.with_only_columns(func.count(Execution.id)).order_by(None)) or 0)
    offset = (query.page - 1) * query.per_page
    items: list[Execution] = []
    if offset < total:
        items = list(session.scalars(
            selected.order_by(Execution.id).offset(offset).limit(query.per_page)))
    return Page(items, total, query.page, query.per_page)


def latest_executions(session: Session, job: Job, count: int) -> Page:
    """The job's last `count` attempts, oldest first, with the total: what its page shows."""
    total = int(session.scalar(
        select(func.count(Execution.id)).where(Execution.job_id == job.id)) or 0)
    newest = session.scalars(select(Execution).where(Execution.job_id == job.id)
                             .order_by(Execution.id.desc()).limit(count))
    return Page(list(newest)[::-1], total, 1, count)


def job_stats(session: Session, user: User | None, max_concurrent: int) -> dict[str, Any]:
    """SPEC §6 stats over the jobs `user` may see (None: all), with `running_all`, the slots
    in use system-wide, which everyone may see (never whose jobs fill them); in two
    queries: the totals
    the database keeps (counts.py), and a live count over unfinished jobs only for what
    depends on the time (eligible now, deadlines passed but not yet flagged)."""
    by_status = {s.value: 0 for s in JobStatus}
    by_priority = {p.value: 0 for p in Priority}
    sums = [0] * 5  # waited, wait_us, ran, run_us, missed
    for status, priority, count, *row in session.execute(count_sums(_owner_scope(user))):
        by_status[status] = by_status.get(status, 0) + int(count)
        by_priority[priority] = by_priority.get(priority, 0) + int(count)
        sums = [total + int(value) for total, value in zip(sums, row, strict=True)]
    waited, wait_us, ran, run_us, missed = sums
    queued, overdue, everywhere = session.execute(_live_query(user)).one()
    running = by_status[JobStatus.RUNNING.value]
    return {
        "total": sum(by_status.values()),
        "by_status": by_status,
        "by_priority": by_priority,
        "running": running,
        "running_all": _running_all(user, running, int(everywhere or 0)),
        "queued": int(queued or 0),
        "max_concurrent": max_concurrent,
        "avg_wait_seconds": _average_seconds(wait_us, waited),
        "avg_run_seconds": _average_seconds(run_us, ran),
        "deadline_missed": missed + int(overdue or 0),
    }


def _running_all(user: User | None, running: int, everywhere: int) -> int:
    """The slots in use system-wide, as `user` is shown them (SPEC §6 `running_all`)."""
    if _owner_scope(user) is None:
        return running  # an admin's own figure is already system-wide
    # `running` comes from another statement (on PostgreSQL another snapshot): a job that
    # started in between must not make the caller's own share exceed the whole.
    return max(running, everywhere)


def _owner_scope(user: User | None) -> int | None:
    """The only owner whose jobs `user` sees, or None for every owner."""
    return None if user is None or user.is_admin else user.id


def _live_query(user: User | None) -> Select[Any]:
    """Eligible now, past their deadline without the flag yet (the flag is counted with
    the totals), and running system-wide: read from the partial indexes of pending and
    running jobs alone."""
    overdue = case(((Job.deadline < db_now()) & ~Job.deadline_missed, 1), else_=0)
    # ELIGIBLE without its status test: the WHERE has it, and a select list naming `status`
    # would rule out the index-only scan (status is the indexes' predicate, not a column).
    due = or_(Job.run_at.is_(None), Job.run_at <= db_now()) & (Job.waiting_on == 0)
    pending = select(case((due, 1), else_=0).label("eligible"), overdue.label("overdue"))
    running = select(literal(0), overdue)
    unfinished = union_all(
        _scoped(pending.where(Job.status == JobStatus.PENDING.value), user),
        _scoped(running.where(Job.status == JobStatus.RUNNING.value), user),
    ).subquery()
    return select(func.sum(unfinished.c.eligible), func.sum(unfinished.c.overdue),
                  running_jobs_count().scalar_subquery())


def _average_seconds(total_us: int, count: int) -> float | None:
    return None if not count else round(total_us / count / 1_000_000, 3)
