"""Boundary versions: list, one version as GeoJSON, and which area contains a point."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from app.http.deps import AtlasDep, PrincipalDep
from app.services.boundaries import version_summary
from app.services.geojson import BNG, CRS84, feature_collection, rounded_bng

router = APIRouter(tags=["boundaries"])
GEOJSON = "application/geo+json"


def version_doc(v: Any) -> dict[str, Any]:
    return {
        **version_summary(v),
        "title": v.title,
        "label": v.label,
        "source": v.source,
        "licence": v.licence,
        "attribution": v.attribution,
    }


@router.get("/boundaries")
def list_boundaries(atlas: AtlasDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Sets, versions, validity dates and feature counts."""
    del principal  # boundaries are open data
    return [version_doc(v) for v in atlas.areas.versions()]


@router.get("/boundaries/{set_name}/{version}", response_class=Response)
def get_boundary(
    set_name: str,
    version: str,
    atlas: AtlasDep,
    principal: PrincipalDep,
    crs: Annotated[Literal["CRS84", "EPSG:4326", "EPSG:27700"], Query()] = "CRS84",
) -> Response:
    """One version's areas as a GeoJSON FeatureCollection (WGS84, or EPSG:27700 on request)."""
    del principal
    v = atlas.areas.resolve(f"{set_name}:{version}")
    layer = atlas.areas.layer(v.id)
    if crs == "EPSG:27700":
        geoms, crs_uri = rounded_bng(layer.geometries), BNG
    else:
        geoms, crs_uri = atlas.areas.wgs84(v.id, atlas.geocoder.ostn15.to_lonlat), CRS84
    props = [
        {"code": c, "name": n, "area_km2": round(a / 1e6, 4)}
        for c, n, a in zip(
            layer.codes.tolist(), layer.names.tolist(), layer.area_m2.tolist(), strict=True
        )
    ]
    body = feature_collection(
        geoms, props, ids=layer.codes.tolist(), crs=crs_uri, extra={"boundary": version_doc(v)}
    )
    return Response(body, media_type=GEOJSON)


@router.get("/locate")
def locate(
    atlas: AtlasDep,
    principal: PrincipalDep,
    easting: Annotated[float, Query(ge=0, le=700_000, description="metres, EPSG:27700")],
    northing: Annotated[float, Query(ge=0, le=1_300_000, description="metres, EPSG:27700")],
    on: Annotated[
        date | None, Query(alias="date", description="Versions in force on (default today)")
    ] = None,
) -> dict[str, Any]:
    """The area of every boundary set containing the point, in the version in force on ``date``."""
    del principal
    day = on or date.today()
    return {
        "easting": easting,
        "northing": northing,
        "date": day.isoformat(),
        "areas": atlas.areas.locate(easting, northing, day),
    }
