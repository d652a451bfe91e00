"""Run jobsched's benchmarks: `python bench/run.py [--smoke] [--only NAME[,NAME]]`.

Full mode measures every figure (median of 3 runs each, bounded to about 20 minutes) on
PostgreSQL (127.0.0.1:5432, user postgres, a scratch database per figure) and a private
Redis, and rewrites the generated blocks of docs/benchmarks.md. `--smoke` runs tiny sizes
once and prints the report: it checks that the scripts work, nothing more. Targets that
are missed are reported, never an error: benchmarks are not tests. The exit status is 1
only when a figure could not be measured.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the project, first
    sys.path.insert(0, str(ROOT))

from bench import latency, machine, quality, scale, submit, throughput  # noqa: E402
from bench.harness import DEFAULT_DATABASE_URL, Budget, Sandbox  # noqa: E402
from bench.plan import FULL, SMOKE, Plan  # noqa: E402
from bench.report import (  # noqa: E402
    figure_markdown,
    machine_markdown,
    read_block,
    targets_markdown,
    update_document,
)
from bench.results import Figure  # noqa: E402

Measure = Callable[[Sandbox, Plan], Figure]
FIGURES: dict[str, Measure] = {
    "throughput": throughput.run,
    "submit": submit.run,
    "latency": latency.run,
    "scale": scale.run,
    "quality": lambda sandbox, plan: quality.run(plan),
}
DOCUMENT = ROOT / "docs" / "benchmarks.md"


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line; an unknown figure name is an error (exit status 2)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes, one run, print only (about a minute)")
    parser.add_argument("--only", default="",
                        help=f"comma-separated figures to run: {', '.join(FIGURES)}")
    parser.add_argument("--runs", type=int, default=None, help="runs per figure (default 3)")
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="a PostgreSQL server to make scratch databases on (postgresql://…)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL"),
                        help="use this Redis instead of a private redis-server")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"page to update (full mode default: {DOCUMENT.relative_to(ROOT)})")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the processes' logs (their folder is printed)")
    args = parser.parse_args(argv)
    unknown = [name for name in _names(args.only) if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {unknown[0]!r}; choose from {', '.join(FIGURES)}")
    return args


def _names(only: str) -> list[str]:
    return [name.strip() for name in only.split(",") if name.strip()]


def main(argv: list[str]) -> int:
    """Measure the chosen figures; print or write the report; 1 if a figure failed."""
    args = parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    if args.runs is not None:
        plan = replace(plan, runs=max(1, args.runs))
    names = _names(args.only) or list(FIGURES)
    _stop_on_signals()
    budget = Budget(plan.budget_seconds)
    started = time.monotonic()
    with Sandbox(args.database_url, budget, args.redis_url, args.keep_logs) as sandbox:
        if args.keep_logs:
            print(f"bench: process logs in {sandbox.logs}", flush=True)
        facts = machine.describe(sandbox.base_url, sandbox.redis_url)
        figures, failed = _measure_all(sandbox, plan, names)
    out = args.out or (None if args.smoke else DOCUMENT)
    _publish(_blocks(facts, figures, out), out)
    print(f"bench: {len(figures)} figure(s) in {time.monotonic() - started:.0f} s; "
          f"failed: {', '.join(failed) or 'none'}", flush=True)
    return 1 if failed else 0


def _measure_all(sandbox: Sandbox, plan: Plan, names: list[str]
                 ) -> tuple[list[Figure], list[str]]:
    """Each figure in turn; one that fails is reported and the others still run."""
    figures: list[Figure] = []
    failed: list[str] = []
    for name in names:
        print(f"bench: {name} …", flush=True)
        load_before, began = machine.load_average(), time.monotonic()
        try:
            figure = FIGURES[name](sandbox, plan)
        except Exception:
            traceback.print_exc()
            print(f"bench: figure {name} FAILED", flush=True)
            failed.append(name)
            continue
        figure.notes.append(f"took {time.monotonic() - began:.0f} s; load average before "
                            f"{load_before}, after {machine.load_average()}")
        print(f"bench: figure {name} ok", flush=True)
        figures.append(figure)
    return figures, failed


def _blocks(facts: list[tuple[str, str]], figures: list[Figure], out: Path | None
            ) -> dict[str, str]:
    """The page's generated blocks; the summary keeps the rows of figures not re-run."""
    previous = read_block(out, "targets") if out is not None else ""
    blocks = {"machine": machine_markdown(facts),
              "targets": targets_markdown(figures, previous)}
    for figure in figures:
        blocks[figure.key] = figure_markdown(figure)
    return blocks


def _publish(blocks: dict[str, str], out: Path | None) -> None:
    if out is None:
        for key, body in blocks.items():
            print(f"\n<!-- {key} -->\n{body}", flush=True)
        return
    update_document(out, blocks)
    print(f"bench: wrote {out}", flush=True)


def _stop_on_signals() -> None:
    """SIGTERM behaves like Ctrl-C: the sandbox stops its processes and drops its databases."""
    def interrupt(signum: int, frame: object) -> None:  # noqa: ARG001
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
