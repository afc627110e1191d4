"""When does it happen? Day-of-week x hour-of-day profiles with aoristic apportioning.

Many crimes are only known to have happened between two times (a burglary found in the morning
happened some time overnight). Aoristic analysis (Ratcliffe 2002, *Aoristic signatures and the
spatio-temporal analysis of high volume crime patterns*, J. Quantitative Criminology 18(1):23-43)
spreads each such incident's weight of 1 over the hours of its window, in proportion to the time
the window spends in each hour, instead of pinning it to the start or middle.

Times are local clock times as recorded (no time-zone conversion); resolution is one second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from geo.errors import InvalidInput

__all__ = ["TimeProfile", "hour_dow_profile", "month_only_caveat"]

IntArray = npt.NDArray[np.int64]

_HOUR_S: Final = 3600
_WEEK_S: Final = 7 * 24 * _HOUR_S
_BINS: Final = 7 * 24
# 1970-01-05 was a Monday; seconds are counted from it so that second // 3600 % 168 is the
# (day-of-week, hour) bin with 0 = Monday 00:00-01:00.
_MONDAY: Final = np.datetime64("1970-01-05T00:00:00", "s")
# Windows apportioned per step: a (chunk, 168) float64 table of 2.75 MB stays in cache.
_CHUNK: Final = 1 << 11
# Units too coarse to carry a time of day: such values are a date or month only.
_DATE_ONLY_UNITS: Final = frozenset({"Y", "M", "W", "D", "generic"})


@dataclass(frozen=True, eq=False)
class TimeProfile:
    """Incidents by day of week and hour of day.

    Attributes
    ----------
    table : numpy.ndarray of float64, shape (7, 24)
        ``table[d, h]`` = incidents (or aoristic shares of incidents) on day ``d`` (0 = Monday)
        in the hour starting at ``h``:00.
    n_exact : int
        Incidents with one known time, each counted 1 in its bin.
    n_window : int
        Incidents known only to lie in a window, spread over the bins it covers.
    n_untimed : int
        Incidents with no time (unknown start, or a date/month only); not in the table.
    method : str
        ``"exact"`` (every timed incident has an exact time), ``"aoristic"`` (some are windows,
        apportioned in proportion to time; exact times count 1 in their bin) or ``"none"`` (no
        timed incident).
    """

    table: npt.NDArray[np.float64]
    n_exact: int
    n_window: int
    n_untimed: int
    method: str


def month_only_caveat() -> str:
    """The sentence an output carries when its incidents have a month but no date or time."""
    return (
        "These records give only the month of each incident (police.uk publishes no date or "
        "time), so no day-of-week or time-of-day pattern can be shown for them."
    )


def _as_times(values: npt.ArrayLike, name: str) -> npt.NDArray[np.datetime64]:
    arr = np.asarray(values)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.datetime64):
        raise InvalidInput(f"{name} must be a one-dimensional numpy datetime64 array")
    return arr


def _seconds(values: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int64]:
    """Seconds since Monday 1970-01-05 00:00 (floor for finer units); NaT gives garbage, mask it."""
    seconds: npt.NDArray[np.int64] = (values.astype("datetime64[s]") - _MONDAY).astype(np.int64)
    return seconds


def _timed(values: npt.NDArray[np.datetime64]) -> npt.NDArray[np.bool_]:
    unit = np.datetime_data(values.dtype)[0]
    if unit in _DATE_ONLY_UNITS:
        return np.zeros(values.shape, dtype=bool)
    known: npt.NDArray[np.bool_] = ~np.isnat(values)
    return known


def _aoristic(start_s: IntArray, end_s: IntArray) -> npt.NDArray[np.float64]:
    """Sum over windows of each window's share of its weight 1 in each bin, shape (168,).

    With ``F_b(t)`` the seconds spent in weekly bin ``b`` from the epoch to ``t`` (whole weeks x
    3600 plus the part of the current week), a window ``[s, e)`` spends ``F_b(e) - F_b(s)`` seconds
    in bin ``b``: ``(weeks(e) - weeks(s)) * 3600`` in every bin plus the difference of the clipped
    within-week parts. All terms are whole seconds, exact in float64; the shares are those seconds
    divided by the window length, summed over windows as one matrix-vector product per chunk.
    """
    table = np.zeros(_BINS, dtype=np.float64)
    duration = end_s - start_s
    long = duration >= _WEEK_S
    # A week or more covers every hour of the week (about) equally; spread evenly.
    table += np.count_nonzero(long) / _BINS
    start_s, end_s = start_s[~long], end_s[~long]
    inverse = 1.0 / duration[~long]
    bin_start = np.arange(_BINS, dtype=np.float64) * _HOUR_S
    for first in range(0, start_s.size, _CHUNK):
        part = slice(first, first + _CHUNK)
        start_week, start_into = np.divmod(start_s[part], _WEEK_S)
        end_week, end_into = np.divmod(end_s[part], _WEEK_S)
        seconds = np.clip(end_into.astype(np.float64)[:, None] - bin_start, 0, _HOUR_S)
        seconds -= np.clip(start_into.astype(np.float64)[:, None] - bin_start, 0, _HOUR_S)
        table += inverse[part] @ seconds
        table += float(((end_week - start_week) * _HOUR_S) @ inverse[part])
    # A window wrapping the week end subtracts within the week and adds whole weeks back: the
    # sum can land a rounding error below zero (-1e-17) in a bin it never reaches.
    return np.where(np.abs(table) < 1e-12, 0.0, table)


def hour_dow_profile(start: npt.ArrayLike, end: npt.ArrayLike | None = None) -> TimeProfile:
    """Day-of-week x hour-of-day profile of incidents, apportioning time windows aoristically.

    Parameters
    ----------
    start : array_like of numpy.datetime64, shape (n,)
        Earliest time of each incident; ``NaT`` = unknown (the incident is untimed). An array of
        unit ``D``, ``W``, ``M`` or ``Y`` holds dates or months only, so all its incidents are
        untimed.
    end : array_like of numpy.datetime64, shape (n,), optional
        Latest time of each incident. ``NaT``, absent or equal to ``start``: an exact time,
        counted 1 in its bin. After ``start``: the incident's weight 1 is spread over the bins the
        window ``[start, end)`` passes through, in proportion to the time spent in each; windows of
        a week or more are spread evenly over all 168 bins.

    Returns
    -------
    TimeProfile
        ``table.sum() == n_exact + n_window`` (up to floating-point rounding).

    Raises
    ------
    InvalidInput
        If ``start``/``end`` are not one-dimensional datetime64 arrays of the same length, an
        ``end`` is before its ``start``, or ``end`` is date-only while ``start`` has times.
    """
    start_t = _as_times(start, "start")
    timed = _timed(start_t)
    start_s = _seconds(start_t)
    window = np.zeros(start_t.shape, dtype=bool)
    end_s = start_s
    if end is not None:
        end_t = _as_times(end, "end")
        if end_t.shape != start_t.shape:
            raise InvalidInput(f"start {start_t.shape} and end {end_t.shape} differ in length")
        if np.datetime_data(end_t.dtype)[0] in _DATE_ONLY_UNITS and timed.any():
            raise InvalidInput("end holds dates only; give window ends with a time of day")
        end_s = _seconds(end_t)
        with_end = timed & _timed(end_t)
        if np.any(with_end & (end_s < start_s)):
            raise InvalidInput("an incident's end is before its start")
        window = with_end & (end_s > start_s)
    exact = timed & ~window
    bins = (start_s[exact] // _HOUR_S) % _BINS
    table = np.bincount(bins, minlength=_BINS).astype(np.float64)
    table += _aoristic(start_s[window], end_s[window])
    n_exact, n_window = int(exact.sum()), int(window.sum())
    method = "aoristic" if n_window else ("exact" if n_exact else "none")
    return TimeProfile(
        table=table.reshape(7, 24),
        n_exact=n_exact,
        n_window=n_window,
        n_untimed=int(start_t.size - n_exact - n_window),
        method=method,
    )
