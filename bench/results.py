"""What a benchmark reports: its tables, its targets and its raw numbers (a :class:`Report`,
for bench/results/latest.json), and the tables rendered as text."""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool


@dataclass
class Report:
    name: str
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


_NUMBER = re.compile(r"^[-+]?[\d,.]*( ?%)?$")


def fmt(value: Any, digits: int = 1) -> str:
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(table: Table) -> str:
    cells = [[fmt(c) for c in row] for row in table.rows]
    numeric = [
        all(isinstance(row[i], (int, float)) or _NUMBER.match(str(row[i])) for row in table.rows)
        for i in range(len(table.headers))
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(table.headers)
    ]
    line = "  ".join("-" * w for w in widths)
    out = [table.title, line]
    out.append("  ".join(h.ljust(w) for h, w in zip(table.headers, widths, strict=True)))
    out.append(line)
    for row in cells:
        out.append(
            "  ".join(
                c.rjust(w) if numeric[i] else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    out.append(line)
    if table.note:
        out.append(table.note)
    return "\n".join(out)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0
