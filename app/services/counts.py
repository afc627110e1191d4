"""Counts (and rates) of a dataset's incidents on any boundary version, with provenance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.access.principal import Principal
from app.errors import BadRequest, Forbidden
from app.services.areas import AreaCatalogue
from app.services.coverage import add_coverage
from app.services.denominators import Denominator, Denominators
from app.services.incidents import IncidentCache, IncidentFrame
from app.store.records import BoundaryVersionRecord, DatasetRecord
from geo.aggregate import count_by_area
from geo.disclosure import suppression_mask, total_is_safe
from geo.rates import MIN_STABLE_COUNT, rates_per_1000
from geo.smoothing import eb_global, eb_local
from geo.wording import count_of

RATE_FIELDS = ("population", "rate_per_1000", "ci_low", "ci_high")
#: The caveat of any table or map of a selection without incidents (counts, rates, hotspots).
NO_INCIDENTS = "no incidents in this selection"


@dataclass(frozen=True)
class CountQuery:
    dataset: str
    by: str
    first: str | None = None
    last: str | None = None
    category: str | None = None
    rates: bool = False
    #: Empirical Bayes smoothed rates for maps of small areas: "eb_global" or "eb_local".
    smooth: str | None = None
    #: Only these areas (codes of the ``by`` version); None for all. Nothing outside them
    #: informs the table: its incidents, totals, caveats, rates and suppression are theirs.
    areas: tuple[str, ...] | None = None


def boundary_meta(v: BoundaryVersionRecord) -> dict[str, Any]:
    return {
        "selector": v.selector,
        "set": v.set_name,
        "version": v.version,
        "valid_from": v.valid_from.isoformat(),
        "valid_to": v.valid_to.isoformat() if v.valid_to else None,
    }


def period_of(frame: IncidentFrame, mask: np.ndarray, q: CountQuery) -> tuple[str, str]:
    first, last = frame.period(mask, q.first, q.last)
    return first or "", last or ""


def counts_table(
    areas: AreaCatalogue,
    cache: IncidentCache,
    denominators: Denominators,
    dataset: DatasetRecord,
    q: CountQuery,
    principal: Principal,
    threshold: int,
) -> dict[str, Any]:
    """``{"rows": [...], "meta": {...}}``: one row per area of the selected version.

    With ``q.areas`` only those areas' rows, in layer order, and only their incidents count
    anywhere in the table or its metadata (so a scoped view reveals nothing about other areas).
    """
    version = areas.resolve(q.by)
    layer = areas.layer(version.id)
    keep = areas.positions(version.id, q.areas)
    frame = cache.frame(dataset)
    area_idx = cache.area_idx(frame, version.id)
    selected = frame.select(q.first, q.last, q.category)
    mask = selected & np.isin(area_idx, keep) if q.areas is not None else selected
    counts = count_by_area(area_idx, layer.codes.size, mask=mask)[keep]
    first, last = period_of(frame, mask, q)
    rows: list[dict[str, Any]] = [
        {"area_code": str(c), "area_name": str(n), "count": int(k)}
        for c, n, k in zip(
            layer.codes[keep].tolist(), layer.names[keep].tolist(), counts.tolist(), strict=True
        )
    ]
    meta = _meta(dataset, version, frame, mask, area_idx, q, first, last)
    add_coverage(meta, frame.months())
    if q.areas is not None:
        meta["areas"] = {"filter": len(rows), "detail": "only the listed areas' incidents"}
    if q.rates or q.smooth:
        _add_rates(rows, counts, denominators, version, keep, (first, last), meta)
    if q.smooth:
        if principal.suppressed:
            raise Forbidden(
                "smoothed rates are for analysts: they are computed from the small counts that "
                "public and partner views hide, and would give them back"
            )
        _add_smoothed(rows, counts, areas, version, keep, q.smooth, meta)
    if principal.suppressed:
        # A list of areas hides what the whole geography's table hides: suppression worked out
        # on a chosen few areas could be differenced against the full table.
        whole = count_by_area(area_idx, layer.codes.size, mask=selected)
        hide = suppression_mask(whole, threshold)[keep]
        _suppress(rows, counts, hide, meta, threshold, part=q.areas is not None)
    return {"rows": rows, "meta": meta}


def _meta(
    dataset: DatasetRecord,
    version: BoundaryVersionRecord,
    frame: IncidentFrame,
    mask: np.ndarray,
    area_idx: np.ndarray,
    q: CountQuery,
    first: str,
    last: str,
) -> dict[str, Any]:
    located = frame.located & mask
    caveats = _caveats(frame, mask)
    return {
        "dataset": dataset.name,
        "boundary": boundary_meta(version),
        "method": "point recount",
        "method_detail": (
            "every incident's stored grid reference assigned to this boundary version "
            "(points on a shared edge belong to exactly one area)"
        ),
        "period": {"from": first, "to": last},
        "category": q.category,
        "incidents": int(mask.sum()),
        "in_areas": int((mask & (area_idx >= 0)).sum()),
        "outside": int((located & (area_idx < 0)).sum()),
        "unlocated": int((mask & ~frame.located).sum()),
        "data_version": frame.data_version,
        "caveats": caveats,
    }


def _caveats(frame: IncidentFrame, mask: np.ndarray) -> list[str]:
    """Plain-language cautions: month-only data, a large unlocated share, a partial last month."""
    out: list[str] = []
    n = int(mask.sum())
    if n == 0:
        return [NO_INCIDENTS]
    if np.isnat(frame.occurred_from[mask]).all():
        out.append("month only: the source gives no dates or times within the month")
    unlocated = int((mask & ~frame.located).sum())
    if unlocated / n > 0.02:
        out.append(f"{100 * unlocated / n:.1f}% of incidents have no location and are in no area")
    timed = frame.occurred_from[mask]
    timed = timed[~np.isnat(timed)]
    if len(timed):
        last = timed.max()
        month_end = (last.astype("datetime64[M]") + 1).astype("datetime64[s]")
        if month_end - last > np.timedelta64(3, "D"):
            out.append(
                f"the latest month may be partial: the last incident is dated {str(last)[:10]}"
            )
    return out


def _add_rates(
    rows: list[dict[str, Any]],
    counts: np.ndarray,
    denominators: Denominators,
    version: BoundaryVersionRecord,
    keep: np.ndarray,
    period: tuple[str, str],
    meta: dict[str, Any],
) -> None:
    denom = denominators.for_period(version, *period)
    population = denom.values[keep]
    table = rates_per_1000(counts, population)
    for i, row in enumerate(rows):
        pop = population[i]
        row["population"] = None if not np.isfinite(pop) else round(float(pop), 1)
        for f in ("rate_per_1000", "ci_low", "ci_high"):
            v = float(getattr(table, f)[i])
            row[f] = None if not np.isfinite(v) else round(v, 4)
        row["unstable"] = bool(table.unstable[i])
    unknown = ~np.isfinite(population)  # of the rows shown (population is cut to keep)
    if unknown.any():
        meta["caveats"].append(_unknown_population(rows, unknown, denom))
    unstable = int(table.unstable.sum())
    if unstable:
        meta["caveats"].append(
            f"{count_of(unstable, 'area')} with fewer than {MIN_STABLE_COUNT} incidents: "
            "rates unstable there"
        )
    meta["rates"] = {
        "per": 1000,
        "interval": "exact Poisson 95% (Garwood)",
        "population_year": denom.year,
        "population_source": denom.source,
        "population_method": denom.method,
        "population_choice": denom.choice,
        "unstable_below": MIN_STABLE_COUNT,
    }


def _unknown_population(rows: list[dict[str, Any]], unknown: np.ndarray, denom: Denominator) -> str:
    """Caveat naming the areas whose population (and so rate) is null."""
    names = [str(rows[i]["area_name"] or rows[i]["area_code"]) for i in np.flatnonzero(unknown)]
    shown = ", ".join(names[:10]) + (f" (+{len(names) - 10} more)" if len(names) > 10 else "")
    why = (
        f"not covered by the population layer {denom.source}"
        if denom.uncovered
        else f"without a population in {denom.source}"
    )
    return (
        f"{count_of(len(names), 'area')} {why} ({denom.year}): population and rate are null "
        f"for {shown}"
    )


def _add_smoothed(
    rows: list[dict[str, Any]],
    counts: np.ndarray,
    areas: AreaCatalogue,
    version: BoundaryVersionRecord,
    keep: np.ndarray,
    smooth: str,
    meta: dict[str, Any],
) -> None:
    """Empirical Bayes smoothed rates per 1,000 (Marshall 1991; esda's formulae)."""
    if smooth not in ("eb_global", "eb_local"):
        raise BadRequest("smooth must be eb_global or eb_local")
    population = np.array([np.nan if r["population"] is None else r["population"] for r in rows])
    if smooth == "eb_global":
        smoothed = eb_global(counts, population)
    else:
        smoothed = eb_local(counts, population, areas.queen(version.id)[keep][:, keep])
    for row, v in zip(rows, (1000.0 * smoothed).tolist(), strict=True):
        row["rate_smoothed_per_1000"] = None if not np.isfinite(v) else round(v, 4)
    meta["smoothing"] = {
        "method": smooth,
        "detail": "Empirical Bayes shrinkage towards the "
        + (
            "overall rate"
            if smooth == "eb_global"
            else "rate of each area with its queen neighbours"
        ),
    }


def _suppress(
    rows: list[dict[str, Any]],
    counts: np.ndarray,
    hide: np.ndarray,
    meta: dict[str, Any],
    threshold: int,
    part: bool,
) -> None:
    """Hide the cells ``hide`` marks, what derives from them, and unsafe totals. A ``part`` of
    the geography publishes its total only when none of its cells is hidden (the total less the
    shown cells would be the hidden ones)."""
    for i in np.flatnonzero(hide).tolist():
        rows[i]["count"] = None
        rows[i]["suppressed"] = True
        for f in ("rate_per_1000", "ci_low", "ci_high", "rate_smoothed_per_1000", "unstable"):
            if f in rows[i]:
                rows[i][f] = None
    safe = not hide.any() if part else total_is_safe(counts, hide, threshold)
    if not safe:
        meta["in_areas"] = None
        meta["incidents"] = None
    small = [k for k in ("outside", "unlocated") if meta.get(k) and 0 < meta[k] < threshold]
    if small:
        # Either one could be derived from the total and the other: hide both and the total.
        meta["outside"] = meta["unlocated"] = meta["incidents"] = None
    meta["suppression"] = {
        "threshold": threshold,
        "rule": f"counts 1-{threshold - 1} hidden, plus secondary cells so none can be derived",
        "cells_hidden": int(hide.sum()),
    }
