"""Rendering tables as CSV (spreadsheet-safe) for downloads and the CLI, with provenance.

A CSV leaves its JSON ``meta`` behind, so every analysis CSV (counts, change, hotspots,
reassign) goes through :func:`csv_export`: each row carries ``boundary``, ``period_from`` and
``period_to`` columns (ordinary columns, so any CSV reader keeps them), and HTTP responses add
``Atlas-*`` headers with the boundary, period, method and the unlocated/outside totals.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.ingest.report import safe_cell

#: Columns appended to every row of an analysis CSV.
PROVENANCE_COLUMNS = ("boundary", "period_from", "period_to")


@dataclass(frozen=True)
class CsvExport:
    """CSV text and the HTTP headers that go with it."""

    text: str
    headers: dict[str, str]


def rows_to_csv(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """CSV text with a header; None becomes an empty cell; formula-like text is neutralised."""
    cols = list(columns or (rows[0].keys() if rows else []))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in cols])
    return buf.getvalue()


def provenance(meta: dict[str, Any]) -> dict[str, Any]:
    """``boundary``, ``period_from``, ``period_to`` of an output from its ``meta``.

    The boundary is the version counted on (``to`` for a reassigned table); grid hotspots name
    their cells instead. Months are ``YYYY-MM``; a table without a period has empty ones.
    """
    where = meta.get("boundary") or meta.get("to")
    period = meta.get("period") or {}
    return {
        "boundary": where["selector"] if isinstance(where, dict) else meta.get("features"),
        "period_from": period.get("from"),
        "period_to": period.get("to"),
    }


def csv_export(rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> CsvExport:
    """An analysis table as CSV with its provenance in every row and in ``Atlas-*`` headers."""
    prov = provenance(meta)
    # Every key of any row (a suppressed row carries "suppressed"), in order of appearance.
    cols = list(dict.fromkeys(k for r in rows for k in r if k not in PROVENANCE_COLUMNS))
    cols += list(PROVENANCE_COLUMNS)
    text = rows_to_csv([{**r, **prov} for r in rows], cols)
    period = f"{prov['period_from'] or ''}..{prov['period_to'] or ''}"
    weights = meta.get("weights")
    method = f"{meta.get('method')} ({weights})" if weights else meta.get("method")
    headers = {
        "Atlas-Boundary": prov["boundary"],
        "Atlas-Period": period if period != ".." else None,
        "Atlas-Method": method,
        "Atlas-Unlocated": meta.get("unlocated"),
        "Atlas-Outside": meta.get("outside"),
    }
    return CsvExport(text, {k: _header(v) for k, v in headers.items() if v is not None})


def _header(value: Any) -> str:
    """A header value: one line of ASCII (HTTP headers are latin-1; names here are ASCII)."""
    text = " ".join(str(value).split())
    return text.encode("ascii", "replace").decode("ascii")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_cell(str(value))
