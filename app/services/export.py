"""Rendering tables as CSV (spreadsheet-safe) for downloads and the CLI."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from app.ingest.report import safe_cell


def rows_to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text with a header; None becomes an empty cell; formula-like text is neutralised."""
    cols = list(columns or (rows[0].keys() if rows else []))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(str(value))
