"""Change over time, monthly series with seasonal baselines, and time-of-day profiles.

Is it getting worse? Each comparison uses the exact conditional test for the ratio of two Poisson
counts, adjusted for the number of months held in each period, and labels the direction of
travel. police.uk gives the month only: time profiles say so rather than inventing times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from app.access.principal import Principal
from app.errors import BadRequest, NotFound
from app.services.areas import AreaCatalogue
from app.services.counts import boundary_meta
from app.services.incidents import IncidentCache, IncidentFrame
from app.store.records import DatasetRecord
from geo.aggregate import count_by_area, count_by_area_month, month_label, month_number
from geo.change import Change, compare_periods, seasonal_baseline
from geo.disclosure import protect_total, suppression_mask
from geo.timeprofile import hour_dow_profile, month_only_caveat

Compare = Literal["previous", "last_year"]
#: A comparison needs at least this share of each period's months held (rates are per month held).
MIN_COVERAGE = 0.75
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Period:
    first: str
    last: str

    @property
    def months(self) -> list[str]:
        lo, hi = month_number(self.first), month_number(self.last)
        return [month_label(m) for m in range(lo, hi + 1)]

    def shifted(self, compare: Compare) -> Period:
        """The comparison period: the one just before, or the same months a year earlier."""
        lo, hi = month_number(self.first), month_number(self.last)
        back = 12 if compare == "last_year" else hi - lo + 1
        return Period(month_label(lo - back), month_label(hi - back))

    def doc(self) -> dict[str, str]:
        return {"from": self.first, "to": self.last}


def resolve_period(frame: IncidentFrame, first: str | None, last: str | None) -> Period:
    """The requested period; by default the latest month held."""
    held = frame.months()
    if not held:
        raise BadRequest(f"dataset {frame.dataset.name!r} holds no incidents")
    last = last or (first if first and first > held[-1] else held[-1])
    first = first or last
    if month_number(first) > month_number(last):
        raise BadRequest(f"--from {first} is after --to {last}")
    return Period(first, last)


def _held(frame: IncidentFrame, period: Period) -> list[str]:
    held = set(frame.months())
    return [m for m in period.months if m in held]


def _counts(
    frame: IncidentFrame, area_idx: np.ndarray, n: int, period: Period, category: str | None
) -> np.ndarray:
    mask = frame.select(period.first, period.last, category)
    return count_by_area(area_idx, n, mask=mask)


def change_for(
    frame: IncidentFrame,
    area_idx: np.ndarray,
    n_areas: int,
    period: Period,
    compare: Compare,
    category: str | None,
) -> tuple[Change, Period, dict[str, Any]]:
    """Per-area change between ``period`` and its comparison period, months held accounted."""
    other = period.shifted(compare)
    held_now, held_then = _held(frame, period), _held(frame, other)
    for p, held in ((period, held_now), (other, held_then)):
        if len(held) < MIN_COVERAGE * len(p.months):
            raise NotFound(
                f"only {len(held)} of the {len(p.months)} months {p.first}..{p.last} are held: "
                "too little to compare"
            )
    current = _counts(frame, area_idx, n_areas, period, category)
    previous = _counts(frame, area_idx, n_areas, other, category)
    ratio = len(held_now) / len(held_then)
    change = compare_periods(current, previous, exposure_ratio=ratio)
    caveats = []
    missing = sorted(set(other.months) - set(held_then)) + sorted(
        set(period.months) - set(held_now)
    )
    if missing:
        caveats.append(
            f"months with no data held ({', '.join(missing)}): rates compared per month held"
        )
    meta = {
        "compare": compare,
        "period": period.doc(),
        "comparison_period": other.doc(),
        "months_held": {"period": len(held_now), "comparison": len(held_then)},
        "exposure_ratio": round(ratio, 6),
        "test": "exact conditional test of two Poisson rates (binomial), two-sided, alpha 0.05",
        "caveats": caveats,
    }
    return change, other, meta


def _num(v: float, digits: int = 4) -> float | None:
    return round(float(v), digits) if np.isfinite(v) else None


def change_rows(codes: list[str], names: list[str], c: Change) -> list[dict[str, Any]]:
    return [
        {
            "area_code": codes[i],
            "area_name": names[i],
            "current": int(c.current[i]),
            "previous": int(c.previous[i]),
            "pct_change": _num(c.pct_change[i], 2),
            "ratio": _num(c.ratio[i]),
            "ratio_ci_low": _num(c.ratio_ci_low[i]),
            "ratio_ci_high": _num(c.ratio_ci_high[i]),
            "p_value": _num(c.p_value[i], 6),
            "direction": str(c.direction[i]),
        }
        for i in range(len(codes))
    ]


#: Figures of a comparison computed from both of its counts.
DERIVED = ("pct_change", "ratio", "ratio_ci_low", "ratio_ci_high", "p_value")
#: Series entry ``status``: why a month's ``count`` is what it is (documented in ``meta``).
SERIES_STATUS = {
    "held": "the month is held: count published",
    "not_held": "no data is held for the month: count null (unknown, not zero)",
    "suppressed": "held but hidden (small numbers, or secondary suppression): count null",
}


def withhold(row: dict[str, Any], reason: str) -> None:
    """No verdict on a comparison with a hidden side: derived figures and direction go."""
    for derived in DERIVED:
        row[derived] = None
    row["direction"] = None
    row["suppressed"] = True
    row["withheld"] = reason


def suppress_change(rows: list[dict[str, Any]], threshold: int) -> int:
    """Hide small current/previous counts and every figure (and verdict) derived from them."""
    hidden = 0
    for key in ("current", "previous"):
        values = np.array([r[key] for r in rows], dtype=np.int64)
        for i in np.flatnonzero(suppression_mask(values, threshold)).tolist():
            rows[i][key] = None
            withhold(rows[i], f"no verdict: the {key} count is suppressed (small numbers)")
            hidden += 1
    return hidden


def suppress_comparison(c: dict[str, Any], period: Period, hidden_months: set[str]) -> None:
    """Hide a side whose months include a hidden one (its total would give that month back,
    less the visible ones); a side of visible months is just their sum and stays. A comparison
    with a hidden side gives no verdict."""
    other = Period(c["comparison_period"]["from"], c["comparison_period"]["to"])
    gaps = {
        key: sorted(set(p.months) & hidden_months)
        for key, p in (("current", period), ("previous", other))
    }
    for key, months in gaps.items():
        if months:
            c[key] = None
    if any(gaps.values()):
        which = ", ".join(m for months in gaps.values() for m in months)
        withhold(c, f"no verdict: a compared month is suppressed ({which})")


class Trends:
    """Change tables, area summaries and time profiles over a dataset's incidents."""

    def __init__(self, areas: AreaCatalogue, cache: IncidentCache, threshold: int) -> None:
        self.areas = areas
        self.cache = cache
        self.threshold = threshold

    def change(
        self,
        dataset: DatasetRecord,
        by: str,
        first: str | None,
        last: str | None,
        category: str | None,
        compare: Compare,
        principal: Principal,
    ) -> dict[str, Any]:
        """One row per area: current and comparison counts, % change, exact test, direction."""
        version = self.areas.resolve(by)
        layer = self.areas.layer(version.id)
        frame = self.cache.frame(dataset)
        period = resolve_period(frame, first, last)
        area_idx = self.cache.area_idx(frame, version.id)
        change, _other, meta = change_for(
            frame, area_idx, layer.codes.size, period, compare, category
        )
        rows = change_rows(layer.codes.tolist(), layer.names.tolist(), change)
        meta.update(
            {
                "dataset": dataset.name,
                "boundary": boundary_meta(version),
                "category": category,
                "method": "point recount",
            }
        )
        if principal.suppressed:
            meta["suppression"] = {
                "threshold": self.threshold,
                "cells_hidden": suppress_change(rows, self.threshold),
            }
        return {"rows": rows, "meta": meta}

    def area_summary(
        self,
        dataset: DatasetRecord,
        by: str,
        code: str,
        first: str | None,
        last: str | None,
        category: str | None,
        principal: Principal,
    ) -> dict[str, Any]:
        """One area's monthly series with seasonal baseline; change vs before and last year."""
        version = self.areas.resolve(by)
        layer = self.areas.layer(version.id)
        hits = np.flatnonzero(layer.codes == code)
        if hits.size == 0:
            raise NotFound(f"no area {code!r} in {version.selector}")
        idx = int(hits[0])
        frame = self.cache.frame(dataset)
        area_idx = self.cache.area_idx(frame, version.id)
        period = resolve_period(frame, first, last)
        series = self._series(frame, area_idx, idx, category)
        out: dict[str, Any] = {
            "area": {"code": code, "name": str(layer.names[idx]), "boundary": version.selector},
            "period": period.doc(),
            "series": series,
        }
        comparisons: tuple[tuple[str, Compare], ...] = (
            ("vs_previous", "previous"),
            ("vs_last_year", "last_year"),
        )
        unavailable: dict[str, str] = {}
        for key, compare in comparisons:
            try:
                change, other, _meta = change_for(
                    frame, area_idx, layer.codes.size, period, compare, category
                )
            except NotFound as exc:
                out[key] = None
                unavailable[key] = exc.detail
                continue
            row = change_rows([code], [str(layer.names[idx])], _take(change, idx))[0]
            out[key] = {**row, "comparison_period": other.doc()}
        if principal.suppressed:
            self._suppress_summary(out)
        out["meta"] = {
            "dataset": dataset.name,
            "category": category,
            "boundary": boundary_meta(version),
            "baseline": "mean of the same calendar month in earlier years held",
            "series_status": SERIES_STATUS,
            "comparisons_unavailable": unavailable,
        }
        return out

    def _series(
        self, frame: IncidentFrame, area_idx: np.ndarray, idx: int, category: str | None
    ) -> list[dict[str, Any]]:
        held = frame.months()
        if not held:
            return []
        months = Period(held[0], held[-1]).months
        month_idx = (frame.month_no - month_number(months[0])).astype(np.int64)
        mask = frame.select(None, None, category) & (area_idx == idx)
        counts = count_by_area_month(
            np.zeros(len(frame), dtype=np.int64), month_idx, 1, len(months), mask=mask
        )
        # Only months held are history: a month never loaded is unknown, not zero.
        held_set = set(held)
        held_cols = np.array([m in held_set for m in months])
        base = seasonal_baseline(counts[:, held_cols], held)
        expected = np.full(len(months), np.nan)
        flag = np.zeros(len(months), dtype=np.int64)
        expected[held_cols], flag[held_cols] = base.expected[0], base.flag[0]
        return [
            {
                "month": m,
                "count": int(counts[0, j]) if held_cols[j] else None,
                "status": "held" if held_cols[j] else "not_held",
                "expected": _num(expected[j], 2),
                "flag": int(flag[j]),
            }
            for j, m in enumerate(months)
        ]

    def _suppress_summary(self, out: dict[str, Any]) -> None:
        series = out["series"]
        counts = np.array([s["count"] or 0 for s in series], dtype=np.int64)
        hide = _protect_periods(series, counts, _published_periods(out), self.threshold)
        hidden_months = {series[i]["month"] for i in np.flatnonzero(hide).tolist()}
        for s in series:
            if s["month"] in hidden_months:
                s["count"], s["flag"], s["status"] = None, 0, "suppressed"
            # A baseline averages the same calendar month of earlier years: it would give a
            # hidden count back (exactly, with one year of history), so it goes too.
            earlier = {m for m in hidden_months if m[5:] == s["month"][5:] and m < s["month"]}
            if earlier:
                s["expected"], s["flag"] = None, 0
        period = Period(out["period"]["from"], out["period"]["to"])
        for key in ("vs_previous", "vs_last_year"):
            if out.get(key):
                suppress_comparison(out[key], period, hidden_months)

    def time_profile(
        self,
        dataset: DatasetRecord,
        first: str | None,
        last: str | None,
        category: str | None,
        principal: Principal,
    ) -> dict[str, Any]:
        """Incidents by day of week x hour (aoristic for windows); month-only data says so."""
        frame = self.cache.frame(dataset)
        mask = frame.select(first, last, category)
        profile = hour_dow_profile(frame.occurred_from[mask], frame.occurred_to[mask])
        # Nine decimals keep the published table summing to the incidents (aoristic shares).
        table = np.round(profile.table, 9)
        caveats = []
        if profile.method == "none":
            caveats.append(month_only_caveat())
        day_only = _day_only(frame.occurred_from[mask], frame.occurred_to[mask])
        if day_only:
            caveats.append(
                f"{day_only} incidents are known only to the day (no time of day was given); "
                "each is spread evenly over the 24 hours of its day."
            )
        if principal.suppressed:
            cells = np.round(profile.table).astype(np.int64).ravel()
            hide = suppression_mask(cells, self.threshold).reshape(7, 24)
            table = np.where(hide, np.nan, table)
        return {
            "dataset": dataset.name,
            "days": list(DAYS),
            "hours": list(range(24)),
            "table": [[None if not np.isfinite(v) else float(v) for v in row] for row in table],
            "method": profile.method,
            "n_exact": profile.n_exact,
            "n_window": profile.n_window,
            "n_untimed": profile.n_untimed,
            "n_day_only": day_only,
            "period": _period_of(frame, mask, first, last),
            "category": category,
            "caveats": caveats,
        }


def _take(c: Change, i: int) -> Change:
    return Change(*(np.asarray(getattr(c, f))[i : i + 1] for f in c.__dataclass_fields__))


def _period_of(
    frame: IncidentFrame, mask: np.ndarray, first: str | None, last: str | None
) -> dict[str, str | None]:
    """The period asked for, or the months the selection covers."""
    lo, hi = frame.period(mask, first, last)
    return {"from": lo, "to": hi}


def _day_only(start: np.ndarray, end: np.ndarray) -> int:
    """Incidents whose window is one whole day (a date without a time of day)."""
    midnight = start == start.astype("datetime64[D]")
    whole_day = (end - start) == np.timedelta64(1, "D")
    return int((midnight & whole_day).sum())


def _published_periods(out: dict[str, Any]) -> list[Period]:
    """Periods whose total for the area is published beside the series (the period itself in
    the counts table, each comparison period in the change table)."""
    periods = [Period(out["period"]["from"], out["period"]["to"])]
    for key in ("vs_previous", "vs_last_year"):
        if out.get(key):
            other = out[key]["comparison_period"]
            periods.append(Period(other["from"], other["to"]))
    return periods


def _protect_periods(
    series: list[dict[str, Any]], counts: np.ndarray, periods: list[Period], threshold: int
) -> np.ndarray:
    """Months to hide: the small ones (with secondary cells over the series), and more within
    any period whose total is published, until no hidden month there is derivable from that
    total less the months shown (months 0, 5 and a hidden 1 in a period of 6 would give 1)."""
    hide = suppression_mask(counts, threshold)
    where = {s["month"]: i for i, s in enumerate(series)}
    groups = [np.array([where[m] for m in p.months if m in where], dtype=np.int64) for p in periods]
    for _ in range(len(groups) + 1):  # overlapping periods: until nothing more is hidden
        before = int(hide.sum())
        for g in groups:
            if g.size:
                hide[g] = protect_total(counts[g], hide[g], threshold)
        if int(hide.sum()) == before:
            break
    return hide
