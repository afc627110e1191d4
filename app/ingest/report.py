"""The batch report: what happened to every row, and the downloadable rejects file."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.errors import BadRequest

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas (CSV injection) while leaving negative numbers intact."""
    if value and (value[0] in "=+@\t\r" or (value[0] == "-" and not _NUMBER.match(value))):
        return "'" + value
    return value


@dataclass
class Rejects:
    """Rows not accepted, with their reason, for the rejects file."""

    header: list[str]
    rows: list[tuple[int, str, list[str]]] = field(default_factory=list)

    def add_raw(self, row: int, reason: str, raw: str) -> None:
        self.rows.append((row, reason, [raw]))

    def add_many(self, rows: np.ndarray, reasons: np.ndarray, fields: list[np.ndarray]) -> None:
        for i, r in enumerate(rows.tolist()):
            self.rows.append((int(r), str(reasons[i]), [str(f[i]) for f in fields]))

    def to_csv(self) -> bytes:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(["source_row", "reason", *self.header])
        for row, reason, values in sorted(self.rows, key=lambda r: r[0]):
            w.writerow([row, reason, *(safe_cell(v) for v in values)])
        return buf.getvalue().encode("utf-8")


def count_reasons(reasons: np.ndarray) -> dict[str, int]:
    """{reason: count} over the non-empty reasons, most common first."""
    counted = Counter(r for r in reasons.tolist() if r)
    return dict(counted.most_common())


def merge_counts(*parts: dict[str, int]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for p in parts:
        total.update(p)
    return dict(total.most_common())


def summarise(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """The ingest command's output: one report as is, several summed with ``batches`` listed."""
    if len(reports) == 1:
        return {**reports[0], "batches": [reports[0]]}
    keys = ("rows_read", "accepted", "unlocated", "outside_area", "duplicates", "identical_rows")
    total: dict[str, Any] = {k: sum(int(r.get(k, 0)) for r in reports) for k in keys}
    total["rejected"] = merge_counts(*(r.get("rejected", {}) for r in reports))
    total["files"] = len(reports)
    total["batches"] = reports
    return total


def refuse_malformed(malformed: list[tuple[int, str, str]]) -> None:
    """Reference tables (aggregates, population) must be whole: name the rows that are not.

    Raises BadRequest listing up to ten record numbers and why.
    """
    if malformed:
        shown = "; ".join(f"row {n}: {why}" for n, why, _raw in malformed[:10])
        more = f" (and {len(malformed) - 10} more)" if len(malformed) > 10 else ""
        raise BadRequest(f"{len(malformed)} malformed rows, nothing loaded: {shown}{more}")
