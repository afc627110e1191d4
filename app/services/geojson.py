"""GeoJSON output: WGS84 (RFC 7946, 6 decimals) by default, EPSG:27700 (1 m) on request."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import shapely

LonLatFn = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"


def to_wgs84(geometries: np.ndarray, to_lonlat: LonLatFn, decimals: int = 6) -> np.ndarray:
    """BNG geometries as lon/lat geometries (exact OSTN15 inverse), rounded for publication."""

    def convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = to_lonlat(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lon, lat]), decimals)

    return np.asarray(shapely.transform(geometries, convert), dtype=object)


def rounded_bng(geometries: np.ndarray) -> np.ndarray:
    """BNG geometries rounded to the metre (published precision)."""
    return np.asarray(shapely.transform(geometries, lambda c: np.round(c, 0)), dtype=object)


def feature_collection(
    geometries: np.ndarray,
    properties: Sequence[dict[str, Any]],
    ids: Sequence[Any] | None = None,
    crs: str | None = None,
    extra: dict[str, Any] | None = None,
) -> str:
    """A GeoJSON FeatureCollection as text (geometries serialised by GEOS, not re-parsed)."""
    geoms = shapely.to_geojson(geometries)
    feats = []
    for i, (g, p) in enumerate(zip(geoms.tolist(), properties, strict=True)):
        fid = json.dumps(ids[i] if ids is not None else i)
        feats.append(f'{{"type":"Feature","id":{fid},"geometry":{g},"properties":{json.dumps(p)}}}')
    head: dict[str, Any] = {"type": "FeatureCollection"}
    if crs is not None and crs != CRS84:
        head["crs"] = {"type": "name", "properties": {"name": crs}}
    head.update(extra or {})
    prefix = json.dumps(head)[:-1]
    return f'{prefix},"features":[{",".join(feats)}]}}'
