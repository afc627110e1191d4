"""Analysis over HTTP: counts, change, summaries, time profiles, hotspots, crosswalks.

The same engine as the ``atlas`` commands; handlers parse, call it and render.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.errors import PayloadTooLarge
from app.http.deps import AtlasDep, PrincipalDep
from app.services.counts import CountQuery
from app.services.crosswalks import read_aggregate
from app.services.export import csv_export
from app.services.hotspots import HotspotQuery

router = APIRouter(tags=["analysis"])
#: A calendar month, YYYY-MM with MM in 01..12 (a bad month is a 400 problem, never a 500).
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
#: The largest aggregate table accepted by /reassign.
REASSIGN_MAX_BYTES = 50 * 2**20


@router.get("/counts", response_model=None)
def counts(
    atlas: AtlasDep,
    principal: PrincipalDep,
    dataset: Annotated[str, Query(description="Dataset name")],
    by: Annotated[str, Query(description="Boundary selector: set:version, set@date or set")],
    first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
    category: str | None = None,
    rates: bool = False,
    smooth: Literal["eb_global", "eb_local"] | None = None,
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """One row per area with its count (and rates); ``meta`` gives the provenance."""
    data = atlas.counts(CountQuery(dataset, by, first, last, category, rates, smooth), principal)
    return _csv_or_json(data, format, f"{dataset}-{by.replace(':', '-')}-counts.csv")


def _csv(rows: list[dict[str, Any]], meta: dict[str, Any], filename: str | None) -> Response:
    """The one way an analysis CSV is served: provenance columns and ``Atlas-*`` headers."""
    export = csv_export(rows, meta)
    headers = dict(export.headers)
    if filename:
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return Response(export.text, media_type="text/csv; charset=utf-8", headers=headers)


def _csv_or_json(data: dict[str, Any], fmt: str, filename: str) -> dict[str, Any] | Response:
    if fmt == "csv":
        return _csv(data["rows"], data["meta"], filename)
    return data


@router.get("/crosswalks")
def crosswalk_diff(
    atlas: AtlasDep,
    principal: PrincipalDep,
    sel_from: Annotated[str, Query(alias="from", description="From version, e.g. wards:2013")],
    sel_to: Annotated[str, Query(alias="to", description="To version, e.g. wards:2019")],
) -> dict[str, Any]:
    """How two boundary versions relate: pairs with area shares, unchanged areas, changes."""
    del principal  # boundaries are open data
    return atlas.crosswalks.diff(sel_from, sel_to)


@router.post("/reassign", response_model=None)
async def reassign(
    atlas: AtlasDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="CSV aggregate table by area")],
    sel_from: Annotated[str, Form(alias="from")],
    sel_to: Annotated[str, Form(alias="to")],
    code_field: Annotated[str, Form()],
    value_field: Annotated[str, Form()],
    weights: Annotated[Literal["area", "population"], Form()] = "area",
    format: Annotated[Literal["json", "csv"], Form()] = "json",
) -> dict[str, Any] | Response:
    """Convert an aggregate table between versions through the crosswalk (totals conserved)."""
    del principal  # the caller supplies the data; nothing stored is revealed
    data = await file.read(REASSIGN_MAX_BYTES + 1)
    if len(data) > REASSIGN_MAX_BYTES:
        raise PayloadTooLarge(f"the table is larger than {REASSIGN_MAX_BYTES // 2**20} MB")

    def work() -> dict[str, Any]:
        table = read_aggregate(None, data, code_field, value_field)
        return atlas.crosswalks.reassign_table(table, sel_from, sel_to, weights)

    out = await run_in_threadpool(work)
    return _csv_or_json(out, format, "reassigned.csv")


@router.get("/hotspots", response_model=None)
def hotspots(
    atlas: AtlasDep,
    principal: PrincipalDep,
    dataset: Annotated[str, Query(description="Dataset name")],
    grid: Annotated[float | None, Query(description="Cell size in metres")] = None,
    by: Annotated[str | None, Query(description="Boundary selector for area hotspots")] = None,
    first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
    category: str | None = None,
    permutations: Annotated[int, Query(ge=0, le=9999)] = 0,
    seed: Annotated[int | None, Query(ge=0, le=2**32 - 1)] = None,
    method: Literal["gi_star", "kde", "local_moran", "emerging"] = "gi_star",
    bandwidth: Annotated[float | None, Query(gt=0, description="kde bandwidth, metres")] = None,
    kernel: Literal["quartic", "gaussian"] = "quartic",
    extent: Annotated[
        str | None,
        Query(description="Grid: partnership (default), data, or a boundary selector"),
    ] = None,
    format: Literal["geojson", "csv"] = "geojson",
) -> Response:
    """Hotspots (Gi* by default) as GeoJSON in EPSG:27700 (``crs`` member) or CSV."""
    q = HotspotQuery(
        dataset,
        grid_m=grid,
        by=by,
        first=first,
        last=last,
        category=category,
        permutations=permutations,
        seed=seed,
        method=method,
        bandwidth_m=bandwidth,
        kernel=kernel,
        extent=extent,
    )
    out = atlas.hotspots(q, principal)
    if format == "csv":
        return _csv(out.rows(), out.meta, None)
    return Response(out.geojson(), media_type="application/geo+json")


@router.get("/datasets/{dataset}/categories")
def categories(dataset: str, atlas: AtlasDep, principal: PrincipalDep) -> dict[str, Any]:
    """Categories held in the dataset (with counts) and the months held."""
    return atlas.categories(dataset, principal)


@router.get("/change", response_model=None)
def change(
    atlas: AtlasDep,
    principal: PrincipalDep,
    dataset: str,
    by: str,
    first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
    category: str | None = None,
    compare: Literal["previous", "last_year"] = "last_year",
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """Per area: this period vs the previous one or the same period last year (exact test)."""
    out = atlas.change(dataset, by, first, last, category, compare, principal)
    return _csv_or_json(out, format, f"{dataset}-change.csv")


@router.get("/areas/summary")
def area_summary(
    atlas: AtlasDep,
    principal: PrincipalDep,
    dataset: str,
    by: str,
    area: Annotated[str, Query(description="Area code")],
    first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
    category: str | None = None,
) -> dict[str, Any]:
    """One area's monthly series with its seasonal baseline; change vs before and last year.

    Each series month has a ``status``: ``held`` (count published), ``not_held`` (no data for
    the month) or ``suppressed`` (hidden small number); ``meta.series_status`` says so. In a
    suppressed view a comparison side that includes a suppressed month is null, and the
    comparison then gives no verdict: ``direction`` is null and ``withheld`` says why.
    """
    return atlas.area_summary(dataset, by, area, first, last, category, principal)


@router.get("/timeprofile")
def timeprofile(
    atlas: AtlasDep,
    principal: PrincipalDep,
    dataset: str,
    first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
    category: str | None = None,
) -> dict[str, Any]:
    """Incidents by day of week x hour of day (aoristic for time windows)."""
    return atlas.time_profile(dataset, first, last, category, principal)
