"""What a figure reports: rows of one value per run, summarised as median and min–max.

A row may carry a target; it is judged on the median of the runs. Percentiles inside one
run (p50, p99 of 200 latencies) are computed here too, by linear interpolation.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) of `values`, linearly interpolated between samples."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Target:
    """A goal for a row's median, e.g. Target("≥ 1,200", lambda v: v >= 1200)."""

    text: str
    met: Callable[[float], bool]


def at_least(bound: float, text: str) -> Target:
    """The median must be `bound` or more."""
    return Target(f"≥ {text}", lambda value: value >= bound)


def at_most(bound: float, text: str) -> Target:
    """The median must be `bound` or less."""
    return Target(f"≤ {text}", lambda value: value <= bound)


def below(bound: float, text: str) -> Target:
    """The median must be under `bound`."""
    return Target(f"< {text}", lambda value: value < bound)


@dataclass(slots=True)
class Row:
    """One measured quantity: a value per run."""

    label: str
    unit: str
    runs: list[float] = field(default_factory=list)
    target: Target | None = None
    digits: int = 1

    @property
    def median(self) -> float:
        """The median of the runs."""
        return statistics.median(self.runs)

    def verdict(self) -> str:
        """"met", "MISSED" or "" (no target, or no runs)."""
        if self.target is None or not self.runs:
            return ""
        return "met" if self.target.met(self.median) else "MISSED"

    def fmt(self, value: float) -> str:
        """A value with this row's digits and thousands separators."""
        return f"{value:,.{self.digits}f}"


@dataclass(slots=True)
class Figure:
    """One benchmark's results: its rows and notes on how they were measured."""

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)

    def row(self, label: str, unit: str, target: Target | None = None,
            digits: int = 1) -> Row:
        """The row with this label, created (in order) on first use."""
        for row in self.rows:
            if row.label == label:
                return row
        made = Row(label, unit, target=target, digits=digits)
        self.rows.append(made)
        return made

    def add(self, label: str, unit: str, value: float, target: Target | None = None,
            digits: int = 1) -> None:
        """Record one run's value for a row."""
        self.row(label, unit, target, digits).runs.append(value)

    def missed(self) -> list[Row]:
        """Rows whose target was missed."""
        return [row for row in self.rows if row.verdict() == "MISSED"]
