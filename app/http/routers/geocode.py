"""``GET /api/v1/geocode``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.http.deps import AtlasDep, PrincipalDep

router = APIRouter(tags=["geocoding"])


@router.get("/geocode")
def geocode(
    atlas: AtlasDep,
    principal: PrincipalDep,
    q: Annotated[
        list[str],
        Query(description="Grid reference, postcode, 'lat,lon' or 'easting,northing'; repeatable"),
    ],
) -> list[dict[str, Any]]:
    """Easting/northing (EPSG:27700 metres) and a 10-figure grid reference for each query."""
    del principal  # geocoding reveals no partner data; every caller may use it
    return [r.as_dict() for r in atlas.geocode(q)]
