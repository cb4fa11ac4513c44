"""The one results table: printed to the terminal and saved as docs/benchmarks.md."""

from __future__ import annotations

from typing import Optional, Sequence

from benchmarks.bench_types import Row


def _number(value: Optional[float], unit: str = "") -> str:
    if value is None:
        return "—"
    if unit.endswith("/request"):  # requests per request: 0.063 and 0.05 must not both print 0.06
        return f"{value:.3f}"
    if unit in ("s",) or abs(value) < 10:
        return f"{value:,.2f}"
    return f"{value:,.0f}"


def table(rows: Sequence[Row]) -> str:
    """A Markdown table (readable as plain text too)."""
    header = ["#", "measurement", "median", "unit", "runs", "vs (same run)", "ratio", "target", "verdict"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        cells = [
            row.item,
            row.what,
            _number(row.value, row.unit),
            row.unit,
            str(row.runs),
            row.baseline or "—",
            ratio,
            row.target or "—",
            row.verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- item {row.item}, {row.what}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
