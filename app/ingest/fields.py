"""Vectorised parsing of dates, times and categories from string columns.

Every function returns values plus a reason array: ``""`` where the row is fine, otherwise the
rejection reason slug that goes into the batch report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.ingest.profiles import Dates, Profile
from app.ingest.reader import RawTable

NAT = np.datetime64("NaT", "s")
#: Excel's 1900 date system counts days from 1899-12-30 (it wrongly keeps 1900-02-29).
EXCEL_EPOCH = np.datetime64("1899-12-30T00:00:00", "s")
#: Serial numbers accepted as Excel dates: 1954-10-03 .. 2119-01-14.
EXCEL_SERIAL_RANGE = (20_000.0, 80_000.0)


@dataclass(frozen=True)
class When:
    """When each row happened."""

    month: np.ndarray  # object "YYYY-MM" ("" when rejected)
    start: np.ndarray  # datetime64[s]; NaT when only the month is known
    end: np.ndarray  # datetime64[s]; == start for an exact time, later for a window [start, end)
    reason: np.ndarray  # object: "" or a rejection reason
    kind: str  # "month", "date", "datetime" or "window"


#: strptime directives that carry a time of day; a format without any gives a date only.
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%T", "%R", "%X", "%c", "%s")
_DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class Parsed:
    """Parsed values: ``ts`` (NaT where no format fits) and whether each carried a time of day."""

    ts: np.ndarray
    timed: np.ndarray


def parse_formats(values: np.ndarray, formats: Sequence[str], excel: bool) -> Parsed:
    """datetime64[s] for each string, trying each format in turn (NaT where none fits).

    A value read by a format without a time directive, or an Excel serial without a fraction
    of a day, is a date only: ``timed`` is False for it.
    """
    arr = pa.array(values, type=pa.string())
    out = np.full(len(values), NAT)
    timed = np.zeros(len(values), dtype=bool)
    todo = np.ones(len(values), dtype=bool)
    for fmt in formats:
        if not todo.any():
            break
        parsed = pc.strptime(arr, format=fmt, unit="s", error_is_null=True)
        got = parsed.is_valid().to_numpy(zero_copy_only=False) & todo
        out[got] = parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")[got]
        timed[got] = any(d in fmt for d in _TIME_DIRECTIVES)
        todo &= ~got
    if excel and todo.any():
        serial = _excel_serials(values)
        got = todo & ~np.isnat(serial)
        out[got] = serial[got]
        timed[got] = serial[got] != serial[got].astype("datetime64[D]")
    return Parsed(out, timed)


def _excel_serials(values: np.ndarray) -> np.ndarray:
    nums = pc.cast(
        pc.if_else(
            pc.match_substring_regex(pa.array(values, pa.string()), r"^\d+(\.\d+)?$"),
            pa.array(values, pa.string()),
            pa.scalar(None, pa.string()),
        ),
        pa.float64(),
    ).to_numpy(zero_copy_only=False)
    nums = np.asarray(nums, dtype=np.float64)
    lo, hi = EXCEL_SERIAL_RANGE
    ok = (nums >= lo) & (nums <= hi)
    seconds = np.where(ok, np.round(nums * 86_400.0), 0).astype(np.int64)
    out = EXCEL_EPOCH + seconds.astype("timedelta64[s]")
    return np.where(ok, out, NAT)


def _whole_days(parsed: Parsed) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) of each value: an exact time stays one instant; a date only becomes the
    window of its whole day, [00:00, next 00:00) (windows are half-open), so the day is kept
    and no hour is invented."""
    start = parsed.ts
    end = np.where(parsed.timed, start, start + _DAY)
    return start, end


def _months(ts: np.ndarray) -> np.ndarray:
    """``YYYY-MM`` of each time ("" for NaT), formatting each distinct month once."""
    out = np.full(len(ts), "", dtype=object)
    ok = ~np.isnat(ts)
    distinct, which = np.unique(ts[ok].astype("datetime64[M]"), return_inverse=True)
    labels = np.datetime_as_string(distinct, unit="M").astype(object)
    out[ok] = labels[which]
    return out


def _reasons(values: np.ndarray, parsed: np.ndarray, empty_reason: str) -> np.ndarray:
    reason = np.full(len(values), "", dtype=object)
    blank = np.asarray(values == "", dtype=bool)
    reason[np.isnat(parsed) & ~blank] = "invalid_date"
    reason[blank] = empty_reason
    return reason


def parse_when(table: RawTable, spec: Dates, today: date) -> When:
    """Parse the occurrence date of each row according to the profile's [dates] section.

    Kinds: ``month`` (no date or time is invented), ``date`` (each incident's day, held as the
    window of that day), ``datetime`` (exact times; date-only values among them become day
    windows) and ``window`` (from/to; a date-only ``to`` runs to the end of its day).
    """
    if spec.month is not None:
        values = table.columns[spec.month]
        ts = parse_formats(values, spec.month_formats, excel=False).ts
        reason = _reasons(values, ts, "missing_date")
        # A month is not a time: start/end stay unknown so nothing invents a time of day.
        unknown = np.full(len(ts), NAT)
        return _finish(ts, unknown, unknown.copy(), reason, "month", today)
    if spec.datetime is not None:
        values = table.columns[spec.datetime]
        parsed = parse_formats(
            values, spec.datetime_formats + spec.date_formats, spec.excel_serials
        )
        start, end = _whole_days(parsed)
        reason = _reasons(values, parsed.ts, "missing_date")
        return _finish(parsed.ts, start, end, reason, "datetime", today)
    if spec.date is not None:
        return _date_and_time(table, spec, today)
    return _window(table, spec, today)


def _date_and_time(table: RawTable, spec: Dates, today: date) -> When:
    assert spec.date is not None
    values = table.columns[spec.date]
    parsed = parse_formats(values, spec.date_formats + spec.datetime_formats, spec.excel_serials)
    day = parsed.ts
    reason = _reasons(values, day, "missing_date")
    if spec.time is None:
        start, end = _whole_days(parsed)
        return _finish(day, start, end, reason, "date", today)
    times = table.columns[spec.time]
    tod = parse_formats(times, spec.time_formats, excel=False).ts
    seconds = (tod - tod.astype("datetime64[D]")).astype("timedelta64[s]")
    exact = day.astype("datetime64[D]") + seconds
    # A missing time of day leaves the incident's whole day, as for a date-only column.
    midnight = day.astype("datetime64[D]").astype("datetime64[s]")
    start = np.where(np.isnat(tod), midnight, exact)
    end = np.where(np.isnat(tod), midnight + _DAY, exact)
    bad_time = np.isnat(tod) & (times != "") & (reason == "")
    reason[bad_time] = "invalid_time"
    return _finish(day, start, end, reason, "datetime", today)


def _window(table: RawTable, spec: Dates, today: date) -> When:
    assert spec.from_ is not None
    fmts = spec.datetime_formats + spec.date_formats
    from_values = table.columns[spec.from_]
    first = parse_formats(from_values, fmts, spec.excel_serials)
    start = first.ts
    reason = _reasons(from_values, start, "missing_date")
    if spec.to is None:
        start, end = _whole_days(first)
        return _finish(first.ts, start, end, reason, "datetime", today)
    to_values = table.columns[spec.to]
    last = parse_formats(to_values, fmts, spec.excel_serials)
    end = _whole_days(last)[1]
    # No end given: the window is the start alone (its whole day when the start is a date).
    end = np.where(np.isnat(end) & (to_values == ""), _whole_days(first)[1], end)
    reason[(reason == "") & np.isnat(end)] = "invalid_date"
    # An exact end may equal the start; a date-only end (the next midnight) must pass it.
    before = np.where(last.timed | np.isnat(last.ts), end < start, end <= start)
    reason[(reason == "") & before] = "window_ends_before_start"
    return _finish(start, start, end, reason, "window", today)


def _finish(
    anchor: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    reason: np.ndarray,
    kind: str,
    today: date,
) -> When:
    limit = np.datetime64(today, "s") + np.timedelta64(1, "D")
    reason[(reason == "") & (anchor > limit)] = "date_in_future"
    months = _months(anchor)
    months[reason != ""] = ""
    return When(months, start, end, reason, kind)


def parse_categories(table: RawTable, profile: Profile) -> tuple[np.ndarray, np.ndarray]:
    """Canonical category per row and the rejection reason ("missing_category" when blank)."""
    n = table.n_rows
    name = profile.columns.category
    if name is None:
        values = np.full(n, profile.default_category or "", dtype=object)
    else:
        values = table.columns[name].copy()
        if profile.default_category:
            values[values == ""] = profile.default_category
    if profile.categories:
        mapping = profile.categories
        values = np.array([mapping.get(v, v) for v in _distinct_map(values)], dtype=object)[
            _inverse(values)
        ]
    reason = np.where(values == "", "missing_category", "").astype(object)
    return values, reason


def _distinct_map(values: np.ndarray) -> list[str]:
    return list(np.unique(values.astype(str)))


def _inverse(values: np.ndarray) -> np.ndarray:
    return np.unique(values.astype(str), return_inverse=True)[1]
