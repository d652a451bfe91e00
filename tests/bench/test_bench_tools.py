"""The benchmark tooling's own rules: summaries, the report page, bounded waits, clean-up,
the simulation's three orders, and how the runner reports a figure that fails."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from bench import harness, quality, report, run
from bench.harness import Budget, BudgetExceeded, Sandbox, wait_until
from bench.plan import SMOKE
from bench.results import Figure, at_most, percentile


def test_percentile_interpolates_between_samples() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_a_target_is_judged_on_the_median_of_the_runs() -> None:
    figure = Figure("x", "X")
    for value in (5.0, 30.0, 9.0):  # one bad run, median 9
        figure.add("latency", "ms", value, at_most(10, "10"))
    assert figure.rows[0].verdict() == "met"
    figure.add("latency", "ms", 40.0)
    figure.add("latency", "ms", 50.0)  # median now 30
    assert figure.missed() == [figure.rows[0]]


def test_report_rewrites_only_its_blocks(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nHand-written analysis.\n\n"
                    "<!-- bench:scale:start -->\nold numbers\n<!-- bench:scale:end -->\n")
    report.update_document(page, {"scale": "new numbers\n", "quality": "simulated\n"})
    text = page.read_text()
    assert "Hand-written analysis." in text
    assert "old numbers" not in text
    assert "<!-- bench:scale:start -->\nnew numbers\n<!-- bench:scale:end -->" in text
    assert text.rstrip().endswith("simulated\n<!-- bench:quality:end -->")


def test_the_summary_keeps_the_rows_of_figures_not_measured_again() -> None:
    previous = report.targets_markdown([_figure("1. Throughput", 100.0),
                                        _figure("4. Scale", 9.0)])
    again = report.targets_markdown([_figure("4. Scale", 1.0)], previous)
    rows = again.splitlines()[2:]
    assert rows == ["| 1 | x | 100.0 ms | ≤ 10 ms | **missed** |",
                    "| 4 | x | 1.0 ms | ≤ 10 ms | met |"]


def _figure(title: str, value: float) -> Figure:
    figure = Figure("key", title)
    figure.add("x", "ms", value, at_most(10, "10"))
    return figure


def test_report_marks_missed_targets() -> None:
    figure = Figure("latency", "3. Latency")
    figure.add("p50", "ms", 12.0, at_most(10, "10"))
    table = report.figure_markdown(figure)
    assert "| p50 | 12.0 ms | 12.0 – 12.0 | 1 | ≤ 10 ms | **missed** |" in table


def test_wait_until_gives_up_after_its_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="never"):
        wait_until(Budget(60), lambda: False, 0.1, "never", interval=0.01)
    assert time.monotonic() - started < 5


def test_wait_until_stops_when_the_run_is_out_of_time() -> None:
    with pytest.raises(BudgetExceeded):
        wait_until(Budget(0), lambda: False, 60, "anything", interval=0.01)


def test_a_process_that_died_is_reported_with_its_output() -> None:
    with Sandbox("postgresql://unused/postgres", Budget(60)) as sandbox:
        process = sandbox.start("dies", [sys.executable, "-c",
                                         "print('goodbye'); raise SystemExit(3)"], {})
        process.popen.wait(30)
        with pytest.raises(RuntimeError, match="exited with 3") as failure:
            process.check_alive()
        assert "goodbye" in str(failure.value)


def test_closing_the_sandbox_stops_its_processes_and_removes_the_logs() -> None:
    sandbox = Sandbox("postgresql://unused/postgres", Budget(60))
    process = sandbox.start("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                            {})
    sandbox.close()
    assert not process.alive()
    assert not sandbox.logs.exists()


def test_without_redis_server_the_sandbox_asks_for_a_url(monkeypatch) -> None:
    monkeypatch.setattr(harness.shutil, "which", lambda name: None)
    with Sandbox("postgresql://unused/postgres", Budget(60)) as sandbox:
        with pytest.raises(RuntimeError, match="--redis-url"):
            _ = sandbox.redis_url


def test_sqlalchemy_urls_are_accepted_for_the_server() -> None:
    sandbox = Sandbox("postgresql+psycopg2://postgres@127.0.0.1:5432/test", Budget(1))
    sandbox.close()
    assert sandbox.base_url == "postgresql://postgres@127.0.0.1:5432/test"
    assert harness.database_url(sandbox.base_url, "b") == "postgresql://postgres@127.0.0.1:5432/b"


def test_the_real_order_serves_high_priority_first_and_fifo_serves_arrivals() -> None:
    arrivals = [quality.Arrival(1, 0.0, "low", None), quality.Arrival(2, 0.0, "high", 50.0),
                quality.Arrival(3, 0.0, "high", 10.0)]
    strict, feasible, fifo = (quality.RealOrder(), quality.RealOrder("feasible_first"),
                              quality.Fifo())
    for job in arrivals:
        for queue in (strict, feasible, fifo):
            queue.push(job)
    assert strict.take(0.0, 3) == [3, 2, 1]
    assert feasible.take(0.0, 3) == [3, 2, 1]
    assert fifo.take(0.0, 3) == [1, 2, 3]


def test_feasible_first_orders_a_job_that_can_no_longer_make_it_after_one_that_can() -> None:
    late = quality.Arrival(1, 0.0, "high", 10.0, seconds=2.0, expected=2.0)
    later = quality.Arrival(2, 0.0, "high", 30.0, seconds=2.0, expected=2.0)
    strict, feasible = quality.RealOrder("strict"), quality.RealOrder("feasible_first")
    for queue in (strict, feasible):
        queue.push(late)
        queue.push(later)
    # At 9 s job 1 needs 2 s for a deadline 1 s away; the heap finds out from `now` alone.
    assert strict.take(9.0, 1) == [1]
    assert feasible.take(9.0, 1) == [2]


def test_the_simulation_counts_deadline_misses_per_class() -> None:
    # Seven 1 s jobs for 3 slots: FIFO starts the urgent high job last, at 2 s, so it ends
    # at 3 s, past its 1.5 s deadline; the real order starts it first.
    arrivals = [quality.Arrival(i, 0.0, "low", None) for i in range(1, 7)]
    arrivals.append(quality.Arrival(7, 0.0, "high", 1.5))
    fifo = quality.misses(arrivals, quality.simulate(arrivals, quality.Fifo()))
    real = quality.misses(arrivals, quality.simulate(arrivals, quality.RealOrder()))
    assert fifo == {"high": 1, "medium": 0, "low": 0}
    assert real == {"high": 0, "medium": 0, "low": 0}


def test_feasible_first_stops_the_domino_that_strict_order_starts() -> None:
    # Six 2 s jobs for 3 slots. Jobs 1-3 cannot meet 1 s; jobs 4-6 can meet 3.9 s only if
    # they start at once. Strict (earliest deadline first) and FIFO start 1-3 first, and all
    # six miss; feasible_first starts 4-6 first, and only the hopeless three miss.
    arrivals = [quality.Arrival(i, 0.0, "high", 1.0 if i <= 3 else 3.9, 2.0, 2.0)
                for i in range(1, 7)]
    missed = quality.compare(arrivals)
    assert {order: counts["high"] for order, counts in missed.items()} == {
        "FIFO": 6, "strict": 6, "feasible_first": 3}


def test_a_job_runs_its_own_time_not_the_one_the_heap_is_told() -> None:
    job = quality.Arrival(1, 0.5, "low", None, seconds=3.0, expected=1.0)
    assert quality.simulate([job], quality.RealOrder("feasible_first")) == {1: 3.5}


def test_workloads_are_deterministic_per_seed() -> None:
    for shape in quality.WORKLOADS:
        assert quality.workload(7, 60.0, shape) == quality.workload(7, 60.0, shape)
        assert quality.workload(7, 60.0, shape) != quality.workload(8, 60.0, shape)


def test_mixed_jobs_vary_around_their_tasks_time_and_some_deadlines_are_tight() -> None:
    arrivals = quality.workload(1, 300.0, quality.MIXED)
    assert {job.expected for job in arrivals} == {0.5, 2.0, 8.0}
    assert all(0.7 * job.expected <= job.seconds <= 1.3 * job.expected for job in arrivals)
    tight = [job for job in arrivals
             if job.deadline is not None and job.deadline - job.at < 3 * job.expected]
    assert tight


@pytest.mark.parametrize("shape", quality.WORKLOADS, ids=lambda shape: shape.name)
def test_feasible_first_misses_no_more_than_fifo_in_any_class(shape) -> None:
    # 300 simulated s: long enough for the backlog to build up. Over seeds 1-40 FIFO misses
    # at least 24 more in every class; over 60 s the two can be a job apart either way.
    missed = quality.compare(quality.workload(1, 300.0, shape))
    for name, _ in quality.PRIORITY_MIX:
        assert missed["feasible_first"][name] <= missed["FIFO"][name], (name, missed)


def test_feasible_first_misses_fewer_than_strict_in_the_low_class_and_in_all() -> None:
    # Not per class in `mixed`: there high and medium jobs miss a few more than under
    # strict in about half the seeds (docs/benchmarks.md, figure 5), so only the low
    # class, where the overload lands, and the total are asserted for every workload.
    for shape in quality.WORKLOADS:
        missed = quality.compare(quality.workload(1, 300.0, shape))
        assert missed["feasible_first"]["low"] < missed["strict"]["low"], missed
        assert sum(missed["feasible_first"].values()) < sum(missed["strict"].values())


def test_with_one_run_time_feasible_first_misses_no_more_than_strict_in_any_class() -> None:
    missed = quality.compare(quality.workload(1, 300.0, quality.UNIFORM))
    for name, _ in quality.PRIORITY_MIX:
        assert missed["feasible_first"][name] <= missed["strict"][name], missed


def test_the_figure_judges_feasible_first_against_both_orders_in_every_class() -> None:
    figure = quality.run(SMOKE)
    judged = [row.label for row in figure.rows if row.target is not None]
    assert judged == [f"{shape.name} · {name}: feasible_first − {other}"
                      for shape in quality.WORKLOADS for name, _ in quality.PRIORITY_MIX
                      for other in ("FIFO", "strict")]
    for shape in quality.WORKLOADS:
        for order, _ in quality.ORDERS:
            assert figure.row(f"{shape.name} · all: misses, {order}", "jobs").runs


def test_a_failing_figure_is_reported_and_the_others_still_run(monkeypatch, capsys) -> None:
    def broken(sandbox: object, plan: object) -> Figure:
        raise RuntimeError("no server")

    monkeypatch.setattr(run, "FIGURES", {"broken": broken,
                                         "quality": lambda sandbox, plan: quality.run(plan)})
    figures, failed = run._measure_all(object(), SMOKE, ["broken", "quality"])
    assert failed == ["broken"]
    assert [figure.key for figure in figures] == ["quality"]
    assert "bench: figure broken FAILED" in capsys.readouterr().out


def test_an_unknown_figure_name_is_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        run.parse_args(["--only", "throughput,nope"])
    assert exit_.value.code == 2
    assert "unknown figure 'nope'" in capsys.readouterr().err
