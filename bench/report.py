"""Rows of the results table: a figure, its samples, its target and whether it is met; printed as text,
Markdown or JSON."""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from pathlib import Path

from measure import Samples

_OPS = {"<": operator.lt, "<=": operator.le, ">=": operator.ge, ">": operator.gt}


@dataclass(frozen=True)
class Target:
    op: str
    value: float
    label: str  # as printed, e.g. "< 0.6 s"

    def met(self, value: float) -> bool:
        return _OPS[self.op](value, self.value)


@dataclass
class Row:
    case: str
    figure: str
    unit: str = "s"  # s (shown as s or ms), x (ratio), MB, B/rec, rec/s, ns/rec
    samples: Samples = field(default_factory=Samples)
    stat: str = "median"  # or "p95"
    target: Target | None = None
    text: str | None = None  # shown instead of a number: a check's result, a missing peer
    ok: bool | None = None  # for text rows: whether the check passed (None: report only)
    note: str = ""

    @property
    def value(self) -> float | None:
        if self.text is not None or not self.samples.values:
            return None
        return self.samples.p95 if self.stat == "p95" else self.samples.median

    @property
    def mark(self) -> str:
        if self.value is None:
            if self.ok is None and self.target is not None and self.text is None:
                return "MISS"  # a target with nothing measured: something failed
            return {True: "ok", False: "MISS", None: "-"}[self.ok]
        if self.target is None:
            return "-"
        return "ok" if self.target.met(self.value) else "MISS"

    def shown_value(self) -> str:
        if self.text is not None:
            return self.text
        if self.value is None:
            return f"failed: {self.samples.error}" if self.samples.error else "no samples"
        return fmt(self.value, self.unit)

    def spread(self) -> str:
        values = self.samples.values
        if self.text is not None or len(values) < 2:
            return ""
        return f"{fmt(min(values), self.unit)} - {fmt(max(values), self.unit)}"

    def as_dict(self) -> dict:
        return {
            "case": self.case,
            "figure": self.figure,
            "unit": self.unit,
            "stat": self.stat,
            "value": self.value,
            "samples": self.samples.values,
            "error": self.samples.error,
            "target": self.target.label if self.target else None,
            "text": self.text,
            "mark": self.mark,
            "note": self.note,
        }


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        if value >= 1:
            return f"{value:.2f} s"
        ms = value * 1000
        return f"{ms:.0f} ms" if ms >= 100 else f"{ms:.1f} ms"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "B/rec":
        return f"{value:.4f} B" if value < 0.1 else f"{value:.2f} B"
    if unit == "rec/s":
        return f"{value / 1e6:.1f} M rec/s" if value >= 1e6 else f"{value / 1e3:.0f} k rec/s"
    if unit == "ns/rec":
        return f"{value:.0f} ns/rec"
    return f"{value:g} {unit}"


HEADERS = ("case", "figure", "median", "spread (min - max)", "target", "mark")


def _cells(row: Row) -> tuple[str, ...]:
    return (row.case, row.figure, row.shown_value(), row.spread(), row.target.label if row.target else "-", row.mark)


def text_table(rows: list[Row]) -> str:
    table = [HEADERS, *(_cells(r) for r in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADERS))]
    lines = []
    for number, line in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    notes = [f"  {r.case} / {r.figure}: {r.note}" for r in rows if r.note]
    if notes:
        lines += ["", "notes:", *notes]
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    for row in rows:
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in _cells(row)) + " |")
    notes = [f"- {r.case} / {r.figure}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def write_json(path: Path, meta: dict, rows: list[Row]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "rows": [r.as_dict() for r in rows]}, indent=2) + "\n")
