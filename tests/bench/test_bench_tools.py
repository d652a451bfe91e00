"""The benchmark tooling's own rules: summaries, the report page, bounded waits, clean-up,
the simulation's two orders, and how the runner reports a figure that fails."""
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
    real, fifo = quality.RealOrder(), quality.Fifo()
    for job in arrivals:
        real.push(job)
        fifo.push(job)
    assert real.take(0.0, 3) == [3, 2, 1]
    assert fifo.take(0.0, 3) == [1, 2, 3]


def test_the_simulation_counts_deadline_misses_per_class() -> None:
    # Seven 1 s jobs for 3 slots: FIFO starts the urgent high job last, at 2 s, so it ends
    # at 3 s, past its 1.5 s deadline; the real order starts it first.
    arrivals = [quality.Arrival(i, 0.0, "low", None) for i in range(1, 7)]
    arrivals.append(quality.Arrival(7, 0.0, "high", 1.5))
    fifo = quality.misses(arrivals, quality.simulate(arrivals, quality.Fifo()))
    real = quality.misses(arrivals, quality.simulate(arrivals, quality.RealOrder()))
    assert fifo == {"high": 1, "medium": 0, "low": 0}
    assert real == {"high": 0, "medium": 0, "low": 0}


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
