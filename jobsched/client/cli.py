"""`jobsched`: the command line on the Python client (SPEC §13).

Reads the server from JOBSCHED_URL and the API token from JOBSCHED_TOKEN. Prints tables
for people, JSON with `--json` for scripts. Exit codes: 0 done, 1 the API refused or the
server could not be reached (the message on stderr), 2 a usage error. Never a traceback.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from .api import Client
from .errors import ClientError
from .types import Job

OK, API_ERROR, USAGE = 0, 1, 2
COLUMNS = ("id", "status", "priority", "task", "name", "progress", "created_at")
NAME_WIDTH = 40
DETAIL_FIELDS = ("id", "name", "description", "task", "args", "status", "priority",
                 "effective_priority", "progress", "attempts", "max_attempts", "deadline",
                 "deadline_missed", "run_at", "owner", "created_at", "started_at",
                 "finished_at", "result", "error")


class UsageError(Exception):
    """The command line or the environment is wrong (exit 2)."""


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Run one command; its exit code."""
    args = build_parser().parse_args(argv)  # a bad command line exits 2 here
    try:
        client = client_from(os.environ if env is None else env)
        with client:
            result = args.run(client, args)
        show(result, args.view, args.json, sys.stdout)
    except UsageError as error:
        print(f"jobsched: {error}", file=sys.stderr)
        return USAGE
    except ClientError as error:
        print(f"jobsched: {error}", file=sys.stderr)
        return API_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jobsched ls | head`: the reader has all it wanted
        # Python flushes stdout again at exit; point it at /dev/null so that is quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return OK


def client_from(env: Mapping[str, str]) -> Client:
    """A client for JOBSCHED_URL with JOBSCHED_TOKEN; UsageError when one is missing."""
    url, token = env.get("JOBSCHED_URL", "").strip(), env.get("JOBSCHED_TOKEN", "").strip()
    if not url:
        raise UsageError("set JOBSCHED_URL to the server's address, "
                         "e.g. http://127.0.0.1:5000")
    if not token:
        raise UsageError("set JOBSCHED_TOKEN to an API token (POST /jobs/api/auth/token, "
                         "or the /account page)")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"JOBSCHED_URL must start with http:// or https://, not {url!r}")
    return Client(url, token)


# -- the commands -----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    # --json goes before or after the command; SUPPRESS keeps a command's parser from
    # resetting what the main parser read.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON (for scripts)")
    parser = argparse.ArgumentParser(
        prog="jobsched", description="Submit and watch jobs on a jobsched server "
        "(JOBSCHED_URL, JOBSCHED_TOKEN).",
        epilog="Exit codes: 0 done, 1 the API refused or the server could not be reached, "
        "2 usage.")
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_submit(commands.add_parser("submit", parents=[common], help="submit a job"))
    _add_ls(commands.add_parser("ls", parents=[common], help="list your jobs"))
    for name, run, about in (("show", show_job, "show one job"),
                             ("cancel", cancel_job, "cancel a pending or running job"),
                             ("retry", retry_job, "retry a failed or cancelled job"),
                             ("wait", wait_job, "wait until a job finishes")):
        command = commands.add_parser(name, parents=[common], help=about)
        command.add_argument("id", type=int, metavar="ID")
        if name == "wait":
            _add_timeout(command)
        command.set_defaults(run=run, view="detail" if name == "show" else "table")
    return parser


def _add_submit(command: argparse.ArgumentParser) -> None:
    command.add_argument("name", metavar="NAME")
    command.add_argument("--task", default="sleep", help="registered task (default: sleep)")
    command.add_argument("--args", type=json_object, default=None, metavar="JSON",
                         help='the task\'s arguments, a JSON object: \'{"seconds": 5}\'')
    command.add_argument("--priority", choices=("high", "medium", "low"))
    command.add_argument("--deadline", metavar="ISO-8601", help="e.g. 2030-01-01T12:00:00Z")
    command.add_argument("--run-at", metavar="ISO-8601", help="not started before this")
    command.add_argument("--wait", action="store_true", help="wait until it finishes")
    _add_timeout(command)
    command.set_defaults(run=submit_job, view="table")


def _add_ls(command: argparse.ArgumentParser) -> None:
    command.add_argument("--status", help="comma list: pending,running,completed,...")
    command.add_argument("--priority", help="comma list: high,medium,low")
    command.add_argument("--task")
    command.add_argument("-q", dest="q", metavar="TEXT", help="name contains TEXT")
    command.add_argument("--sort", help="-created_at (default), created_at, deadline, "
                         "priority, queue")
    command.add_argument("--limit", type=non_negative, default=50,
                         help="at most this many jobs (default 50; 0: all of them)")
    command.set_defaults(run=list_jobs, view="table")


def _add_timeout(command: argparse.ArgumentParser) -> None:
    command.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                         help="give up waiting after this long (exit 1)")


def json_object(text: str) -> dict[str, Any]:
    """--args: a JSON object, or argparse's usage error."""
    try:
        value = json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('a JSON object is needed, e.g. {"seconds": 5}')
    return value


def non_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a whole number >= 0, not {text!r}")
    return int(text)


def submit_job(client: Client, args: argparse.Namespace) -> Job:
    fields = {key: value for key, value in (("priority", args.priority),
                                             ("deadline", args.deadline),
                                             ("run_at", args.run_at)) if value is not None}
    job = client.submit(args.name, task=args.task, args=args.args, **fields)
    return client.wait(job["id"], timeout=args.timeout) if args.wait else job


def list_jobs(client: Client, args: argparse.Namespace) -> list[Job]:
    filters = {key: getattr(args, key) for key in ("status", "priority", "task", "q", "sort")}
    if args.limit:  # no more pages than the limit needs
        filters["per_page"] = min(args.limit, 200)
    jobs = client.list(**filters)
    return list(itertools.islice(jobs, args.limit or None))


def show_job(client: Client, args: argparse.Namespace) -> Job:
    return client.get(args.id)


def cancel_job(client: Client, args: argparse.Namespace) -> Job:
    return client.cancel(args.id)


def retry_job(client: Client, args: argparse.Namespace) -> Job:
    return client.retry(args.id)


def wait_job(client: Client, args: argparse.Namespace) -> Job:
    return client.wait(args.id, timeout=args.timeout)


# -- output -----------------------------------------------------------------------------


def show(result: Job | list[Job], view: str, as_json: bool, out: TextIO) -> None:
    """Print a command's result: JSON, a job's details (`view="detail"`), or a table."""
    if as_json:
        out.write(json.dumps(result, indent=2) + "\n")
    elif view == "detail" and isinstance(result, dict):
        out.write(details(result))
    else:
        out.write(table(result if isinstance(result, list) else [result]))


def table(jobs: Iterable[Job]) -> str:
    """Jobs as aligned columns, one line each (a heading, and no rows for none)."""
    rows = [[cell(column, job.get(column)) for column in COLUMNS] for job in jobs]
    heading = [column.upper().replace("_AT", "") for column in COLUMNS]
    widths = [max(len(row[i]) for row in [heading, *rows]) for i in range(len(COLUMNS))]
    return "".join("  ".join(text.ljust(width) for text, width in zip(row, widths,
                                                                      strict=True)).rstrip()
                   + "\n" for row in [heading, *rows])


def cell(column: str, value: Any) -> str:
    if value is None:
        return "-"
    if column == "name" and len(value) > NAME_WIDTH:
        return value[:NAME_WIDTH - 1] + "…"
    if column == "progress":
        return f"{value}%"
    if column.endswith("_at"):
        return str(value)[:19].replace("T", " ")  # to the second, offset left off: UTC
    return str(value)


def details(job: Job) -> str:
    """One job, a field a line, JSON values compact."""
    shown = [key for key in DETAIL_FIELDS if key in job]
    width = max(len(key) for key in shown)
    return "".join(f"{key.ljust(width)}  {render(job.get(key))}\n" for key in shown)


def render(value: Any) -> str:
    if value is None or value == "":  # a blank would look like a missing column
        return "-"
    if isinstance(value, dict | list | bool):
        return json.dumps(value)
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
