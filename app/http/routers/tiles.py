"""Tiles: TileJSON, Mapbox Vector Tiles, PNG choropleth tiles and legends, with ETags.

Every route here answers ``HEAD`` and conditional ``GET`` through ``app.http.conditional``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from app.errors import BadRequest
from app.http.conditional import cached_response, json_body
from app.http.deps import AtlasDep, PrincipalDep
from app.http.routers.analysis import MONTH
from app.services.maps import MapSpec, ThematicMap
from app.services.tiles import MAX_ZOOM

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
_TILE = re.compile(r"^(?P<y>\d+)(?P<scale>@2x)?\.(?P<fmt>mvt|png)$")
ATTRIBUTION = (
    "Boundaries: ONS (OGL v3), Contains OS data (c) Crown copyright. Crime: police.uk (OGL v3)."
)


def map_spec(
    layer: Annotated[str, Path(description="areas, counts, rates or hotspots")],
    dataset: str | None = None,
    by: Annotated[str | None, Query(description="Boundary selector")] = None,
    grid: Annotated[float | None, Query(description="Hotspot grid cell, metres")] = None,
    first: Annotated[str | None, Query(alias="from", pattern=MONTH)] = None,
    last: Annotated[str | None, Query(alias="to", pattern=MONTH)] = None,
    category: str | None = None,
    classes: Annotated[
        str, Query(description="quantiles, natural_breaks, equal_interval, fixed")
    ] = "quantiles",
    k: Annotated[int, Query(ge=1, le=9)] = 5,
    breaks: Annotated[
        str | None, Query(description="Comma-separated upper bounds for classes=fixed")
    ] = None,
    palette: str = "YlOrRd",
    areas: Annotated[
        str | None,
        Query(description="Comma-separated area codes of `by`: map (and classify) only these"),
    ] = None,
    method: Annotated[
        str | None, Query(description="Hotspot method: gi_star (others are refused)")
    ] = None,
) -> MapSpec:
    parsed = None
    if breaks:
        try:
            parsed = tuple(float(b) for b in breaks.split(","))
        except ValueError as exc:
            raise BadRequest("breaks must be comma-separated numbers") from exc
    codes = None if areas is None else tuple(c.strip() for c in areas.split(",") if c.strip())
    return MapSpec(
        layer, dataset, by, grid, first, last, category, classes, k, parsed, palette, codes, method
    )


SpecDep = Annotated[MapSpec, Depends(map_spec)]


JSON = "application/json"


@router.get("/tiles/{layer}/tilejson.json", response_class=Response)
def tilejson(request: Request, spec: SpecDep, atlas: AtlasDep, principal: PrincipalDep) -> Response:
    """TileJSON 3.0 of a layer; its query parameters carry through to the tile URLs."""
    doc = tilejson_doc(request, spec, atlas.maps.get(spec, principal))
    return cached_response(json_body(doc), JSON, request, principal)


def tilejson_doc(request: Request, spec: MapSpec, m: ThematicMap) -> dict[str, Any]:
    base = str(request.base_url).rstrip("/") + f"/api/v1/tiles/{spec.layer}"
    query = urlencode(spec.query())
    west, south, east, north = m.bounds_lonlat()
    fields = m.field_types()
    return {
        "tilejson": "3.0.0",
        "name": f"Community Safety Atlas: {spec.layer}",
        "attribution": ATTRIBUTION,
        "scheme": "xyz",
        "tiles": [f"{base}/{{z}}/{{x}}/{{y}}.mvt?{query}"],
        "raster_tiles": [f"{base}/{{z}}/{{x}}/{{y}}.png?{query}"],
        "legend": f"{base}/legend.json?{query}",
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": [round(west, 6), round(south, 6), round(east, 6), round(north, 6)],
        "center": [round((west + east) / 2, 6), round((south + north) / 2, 6), 10],
        "vector_layers": [{"id": spec.layer, "fields": fields, "minzoom": 0, "maxzoom": MAX_ZOOM}],
    }


@router.get("/tiles/{layer}/legend.json", response_class=Response)
def legend_json(
    request: Request, spec: SpecDep, atlas: AtlasDep, principal: PrincipalDep
) -> Response:
    """The map's classes, colours and labels (computed once per map, shared by every tile)."""
    doc = atlas.maps.get(spec, principal).legend_doc()
    return cached_response(json_body(doc), JSON, request, principal)


@router.get("/tiles/{layer}/legend.png")
def legend_png(
    request: Request,
    spec: SpecDep,
    atlas: AtlasDep,
    principal: PrincipalDep,
    scale: Annotated[int, Query(ge=1, le=2)] = 1,
) -> Response:
    m = atlas.maps.get(spec, principal)
    return cached_response(atlas.tiles.legend_png(m, scale), "image/png", request, principal)


@router.get("/tiles/{layer}/{z}/{x}/{tile}")
def tile(
    request: Request,
    spec: SpecDep,
    atlas: AtlasDep,
    principal: PrincipalDep,
    z: int,
    x: int,
    tile: Annotated[str, Path(description="{y}.mvt, {y}.png or {y}@2x.png")],
) -> Response:
    """One XYZ (Web Mercator) tile of the layer as MVT or a 256/512 px PNG choropleth."""
    m_tile = _TILE.match(tile)
    if not m_tile or (m_tile["scale"] and m_tile["fmt"] == "mvt"):
        raise BadRequest("tile must be {y}.mvt, {y}.png or {y}@2x.png")
    y = int(m_tile["y"])
    m = atlas.maps.get(spec, principal)
    if m_tile["fmt"] == "mvt":
        return cached_response(atlas.tiles.mvt(m, z, x, y), MVT, request, principal)
    scale = 2 if m_tile["scale"] else 1
    return cached_response(atlas.tiles.png(m, z, x, y, scale), "image/png", request, principal)
