"""Markdown for the results, and updating docs/benchmarks.md in place.

Generated text lives between `<!-- bench:KEY:start -->` and `<!-- bench:KEY:end -->`
markers; a run replaces only the blocks it measured, so the hand-written analysis around
them (and figures not re-run with `--only`) stay as they are.
"""
from __future__ import annotations

import re
from pathlib import Path

from .results import Figure, Row

HEADER = """# Benchmarks

`make bench` (or `.venv/bin/python bench/run.py`) measures the figures below and rewrites
the marked blocks of this page; `bench/run.py --only NAME` re-measures one figure. Each
value is the median of the runs, with the smallest and largest run beside it.
"""


def figure_markdown(figure: Figure) -> str:
    """One figure: how it was measured, then its table."""
    lines = [f"### {figure.title}", ""]
    lines += [f"- {setting}" for setting in figure.settings]
    lines += ["", "| measure | median | min – max | runs | target | |",
              "|---|---:|---:|---:|---|---|"]
    lines += [_row(row) for row in figure.rows]
    if figure.notes:
        lines.append("")
        lines += [f"- {note}" for note in figure.notes]
    return "\n".join(lines) + "\n"


def _row(row: Row) -> str:
    if not row.runs:
        return f"| {row.label} | – | – | 0 | {_target(row)} | |"
    spread = f"{row.fmt(min(row.runs))} – {row.fmt(max(row.runs))}"
    verdict = {"met": "met", "MISSED": "**missed**"}.get(row.verdict(), "")
    return (f"| {row.label} | {row.fmt(row.median)} {row.unit} | {spread} | {len(row.runs)} "
            f"| {_target(row)} | {verdict} |")


def _target(row: Row) -> str:
    return f"{row.target.text} {row.unit}" if row.target else ""


def machine_markdown(facts: list[tuple[str, str]]) -> str:
    """The machine section as a two-column table."""
    lines = ["| | |", "|---|---|"]
    lines += [f"| {what} | {value} |" for what, value in facts]
    return "\n".join(lines) + "\n"


TARGETS_HEADER = ["| figure | measure | median | target | |", "|---|---|---:|---|---|"]


def targets_markdown(figures: list[Figure], previous: str = "") -> str:
    """Every row with a target: the summary at the top of the page. Rows of figures not
    measured this time are kept from `previous` (the block as it stood)."""
    numbers = {_number(figure) for figure in figures}
    kept = [line for line in previous.splitlines()
            if line.startswith("| ") and line not in TARGETS_HEADER
            and line.split("|")[1].strip() not in numbers]
    new = [_target_line(figure, row) for figure in figures for row in figure.rows
           if row.target is not None and row.runs]
    lines = sorted(kept + new, key=lambda line: line.split("|")[1].strip())  # stable
    return "\n".join(TARGETS_HEADER + lines) + "\n"


def _number(figure: Figure) -> str:
    return figure.title.split(".")[0]


def _target_line(figure: Figure, row: Row) -> str:
    verdict = "met" if row.verdict() == "met" else "**missed**"
    return (f"| {_number(figure)} | {row.label} | {row.fmt(row.median)} {row.unit} | "
            f"{_target(row)} | {verdict} |")


def read_block(path: Path, key: str) -> str:
    """A generated block's current text ("" when the page or the block does not exist)."""
    if not path.exists():
        return ""
    match = re.search(rf"<!-- bench:{key}:start -->\n(.*?)<!-- bench:{key}:end -->",
                      path.read_text(), re.S)
    return match.group(1) if match else ""


def update_document(path: Path, blocks: dict[str, str]) -> None:
    """Replace (or append) each marked block of the page at `path`."""
    text = path.read_text() if path.exists() else HEADER
    for key, body in blocks.items():
        start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
        block = f"{start}\n{body.rstrip()}\n{end}"
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if pattern.search(text):
            text = pattern.sub(lambda _, new=block: new, text)  # no escapes in `block`
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
