"""The row every benchmark returns, its percentiles, and the one table they all print.

A row is a plain dict so it goes to bench/results.json as is:
`name`, `value`, `unit`, `target` (text, or None for an informational row),
`peer` ({name, value} of the thing measured beside it in the same run, or None),
`ratio` (value / peer, or a ratio the benchmark states), `met` (True / False, None
when nothing is judged) and `detail` (how it was measured, in one line).
Figures 2, 4, 5 and 6 use these helpers; figures 1 and 3 build the same shape
themselves, and scripts/bench (bench/run_all.py) prints all of them with
`print_table`. `python -m bench.report bench/results.json` prints the saved rows
as a Markdown table (for docs/performance.md and the README).
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

Row = dict[str, Any]


def row(
    name: str,
    value: float,
    unit: str,
    *,
    target: str | None = None,
    met: bool | None = None,
    peer: tuple[str, float] | None = None,
    ratio: float | None = None,
    detail: str = "",
) -> Row:
    """One result row; `ratio` defaults to value / peer when there is a peer."""
    if ratio is None and peer is not None and peer[1]:
        ratio = value / peer[1]
    return {
        "name": name,
        "value": _round(value),
        "unit": unit,
        "target": target,
        "peer": None if peer is None else {"name": peer[0], "value": _round(peer[1])},
        "ratio": None if ratio is None else round(ratio, 3),
        "met": met,
        "detail": detail,
    }


def _round(value: float) -> float:
    """Three significant decimals for small numbers, one for large ones."""
    return round(float(value), 3 if abs(value) < 100 else 1)


def percentiles(samples: Sequence[float], *cuts: int) -> tuple[float, ...]:
    """The given percentiles (1..99) of `samples` (statistics.quantiles, inclusive method)."""
    points = statistics.quantiles(samples, n=100, method="inclusive")
    return tuple(points[cut - 1] for cut in cuts)


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def _peer(item: Row) -> str:
    peer = item.get("peer")
    return "-" if not peer else f"{peer['name']}: {_cell(peer['value'])}"


MET = {True: "[green]yes[/green]", False: "[bold red]NO[/bold red]", None: "-"}


def print_table(rows: Sequence[Row], title: str, *, console: Console | None = None) -> None:
    """figure / value / unit / target / peer / ratio / met, one line per row."""
    table = Table(title=title, show_lines=False)
    for column, justify in (
        ("fig", "right"), ("figure", "left"), ("value", "right"), ("unit", "left"),
        ("target", "left"), ("peer", "left"), ("ratio", "right"), ("met", "center"),
    ):  # fmt: skip
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for item in rows:
        ratio = item.get("ratio")
        table.add_row(
            str(item.get("figure", "")),
            item["name"],
            _cell(item["value"]),
            item["unit"],
            item.get("target") or "-",
            _peer(item),
            "-" if ratio is None else f"{ratio:.2f}x",
            MET[item.get("met")],
        )
    console = console or (Console() if sys.stdout.isatty() else Console(width=180))
    console.print(table)


def markdown(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table: figure / value / unit / target / peer / ratio / met."""
    lines = ["| fig | figure | value | unit | target | peer | ratio | met |",
             "|---:|---|---:|---|---|---|---:|:---:|"]  # fmt: skip
    for item in rows:
        ratio, met = item.get("ratio"), item.get("met")
        cells = [
            str(item.get("figure", "")), item["name"], _cell(item["value"]), item["unit"],
            (item.get("target") or "-").replace("<=", "≤").replace(">=", "≥"), _peer(item),
            "-" if ratio is None else f"{ratio:.2f}x", {True: "yes", False: "**NO**", None: "-"}[met],
        ]  # fmt: skip
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
