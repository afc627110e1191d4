"""Hotspots of a dataset: Getis–Ord Gi* on BNG grid cells or on areas, with FDR control.

The method is the one in INTERFACE.md: queen contiguity with the feature itself, binary weights,
two-sided normal p, Benjamini–Hochberg q over every feature of the result, bins ±3/±2/±1. Grid
cells cover the partnership area (cells intersecting its outline), so empty cells inside the study
region count; points outside it are not in the analysis.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
import shapely

from app.access.principal import Principal
from app.errors import BadRequest
from app.services.areas import AreaCatalogue
from app.services.counts import boundary_meta
from app.services.geojson import BNG, feature_collection
from app.services.incidents import IncidentCache, IncidentFrame
from app.store.records import DatasetRecord
from geo.aggregate import count_by_area
from geo.disclosure import suppression_mask
from geo.grid import grid_counts
from geo.hotspots import HotspotResult, gi_star, gi_star_grid
from geo.weights import polygon_queen

MIN_CELL_M = 50.0
MAX_PERMUTATIONS = 9999


@dataclass(frozen=True)
class HotspotQuery:
    dataset: str
    grid_m: float | None = None
    by: str | None = None
    first: str | None = None
    last: str | None = None
    category: str | None = None
    permutations: int = 0
    seed: int | None = None

    def check(self) -> None:
        if (self.grid_m is None) == (self.by is None):
            raise BadRequest("give exactly one of --grid METRES or --by SEL")
        if self.grid_m is not None and not MIN_CELL_M <= self.grid_m <= 50_000:
            raise BadRequest(f"grid cell size must be between {MIN_CELL_M:g} m and 50 km")
        if not 0 <= self.permutations <= MAX_PERMUTATIONS:
            raise BadRequest(f"permutations must be 0..{MAX_PERMUTATIONS}")


@dataclass(frozen=True)
class HotspotOutput:
    """Features (EPSG:27700 geometries), per-feature properties and the run's metadata."""

    geometries: np.ndarray
    properties: list[dict[str, Any]]
    ids: list[Any]
    meta: dict[str, Any]

    def geojson(self) -> str:
        return feature_collection(
            self.geometries, self.properties, self.ids, crs=BNG, extra={"meta": self.meta}
        )

    def rows(self) -> list[dict[str, Any]]:
        """One row per feature with its id and centroid (EPSG:27700 metres), for CSV."""
        centre = shapely.centroid(self.geometries)
        x, y = shapely.get_x(centre), shapely.get_y(centre)
        return [
            {
                "id": i,
                "centroid_easting": round(float(a)),
                "centroid_northing": round(float(b)),
                **p,
            }
            for i, a, b, p in zip(self.ids, x.tolist(), y.tolist(), self.properties, strict=True)
        ]


class Hotspots:
    """Gi* over a dataset's incidents; area weights cached per boundary version."""

    def __init__(self, areas: AreaCatalogue, cache: IncidentCache, threshold: int) -> None:
        self.areas = areas
        self.cache = cache
        self.threshold = threshold
        self._weights: dict[int, scipy.sparse.csr_matrix] = {}
        self._lock = threading.Lock()

    def run(self, dataset: DatasetRecord, q: HotspotQuery, principal: Principal) -> HotspotOutput:
        q.check()
        frame = self.cache.frame(dataset)
        mask = frame.select(q.first, q.last, q.category)
        out = self._grid(frame, mask, q) if q.grid_m is not None else self._areas(frame, mask, q)
        if principal.suppressed:
            _suppress(out, self.threshold)
        return out

    def _grid(self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery) -> HotspotOutput:
        assert q.grid_m is not None
        use = mask & frame.located
        partnership = self.areas.partnership()
        region = partnership.outline if partnership is not None else None
        grid = grid_counts(frame.easting[use], frame.northing[use], q.grid_m, region=region)
        if grid.n_features < 2:
            raise BadRequest("too few grid cells with this cell size for a hotspot analysis")
        result = gi_star_grid(grid, q.permutations, q.seed)
        bounds = grid.cell_bounds()
        geoms = shapely.box(bounds[:, 0], bounds[:, 1], bounds[:, 2], bounds[:, 3])
        i, j = grid.feature_ij()
        ids = [f"{a}_{b}" for a, b in zip(i.tolist(), j.tolist(), strict=True)]
        props = _properties(grid.feature_counts(), result)
        for p, a, b in zip(props, i.tolist(), j.tolist(), strict=True):
            p["cell_i"], p["cell_j"] = a, b
        study = "cells intersecting " + (
            partnership.version.selector if partnership else "the data extent"
        )
        meta = _meta(frame, mask, q, result, f"grid {q.grid_m:g} m, {study}", len(props))
        meta["in_analysis"] = int(grid.counts.sum())
        return HotspotOutput(geoms, props, ids, meta)

    def _areas(self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery) -> HotspotOutput:
        assert q.by is not None
        version = self.areas.resolve(q.by)
        layer = self.areas.layer(version.id)
        area_idx = self.cache.area_idx(frame, version.id)
        counts = count_by_area(area_idx, layer.codes.size, mask=mask)
        result = gi_star(counts, self._area_weights(version.id), q.permutations, q.seed)
        props = _properties(counts, result)
        for p, code, name in zip(props, layer.codes.tolist(), layer.names.tolist(), strict=True):
            p["area_code"], p["area_name"] = code, name
        meta = _meta(frame, mask, q, result, f"areas of {version.selector}", len(props))
        meta["boundary"] = boundary_meta(version)
        meta["in_analysis"] = int(counts.sum())
        return HotspotOutput(layer.geometries, props, layer.codes.tolist(), meta)

    def _area_weights(self, version_id: int) -> scipy.sparse.csr_matrix:
        with self._lock:
            if version_id in self._weights:
                return self._weights[version_id]
        queen = polygon_queen(self.areas.layer(version_id).geometries)
        w = (queen + scipy.sparse.identity(queen.shape[0], format="csr")).tocsr()
        with self._lock:
            self._weights[version_id] = w
        return w


def _properties(counts: np.ndarray, r: HotspotResult) -> list[dict[str, Any]]:
    cols = {
        "count": counts.astype(np.int64).tolist(),
        "gi_z": np.round(r.gi_z, 6).tolist(),
        "p_value": r.p_value.tolist(),
        "q_value": r.q_value.tolist(),
        "hotspot_bin": r.hotspot_bin.astype(int).tolist(),
    }
    if r.p_sim is not None:
        cols["p_sim"] = r.p_sim.tolist()
    names = list(cols)
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


def _meta(
    frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery, r: HotspotResult, features: str, n: int
) -> dict[str, Any]:
    months = frame.month[mask]
    bins = np.bincount(r.hotspot_bin.astype(np.int64) + 3, minlength=7)
    return {
        "dataset": frame.dataset.name,
        "method": "gi_star",
        "method_detail": (
            "Getis-Ord Gi* z of counts; queen contiguity including the feature itself, binary "
            "weights; two-sided normal p; Benjamini-Hochberg q over all features; bins +-3/2/1 at "
            "q < 0.01/0.05/0.10"
        ),
        "params": {"grid_m": q.grid_m, "by": q.by, "permutations": q.permutations, "seed": q.seed},
        "features": features,
        "n_features": n,
        "period": {
            "from": q.first or (min(months.tolist()) if len(months) else None),
            "to": q.last or (max(months.tolist()) if len(months) else None),
        },
        "category": q.category,
        "incidents": int(mask.sum()),
        "unlocated": int((mask & ~frame.located).sum()),
        "bins": {str(b - 3): int(c) for b, c in enumerate(bins.tolist()) if c},
        "crs": "EPSG:27700",
        "caveats": [
            "police.uk locations are anonymised snap points: cells smaller than ~200 m mostly "
            "measure the snap-point layout"
        ],
    }


def _suppress(out: HotspotOutput, threshold: int) -> None:
    counts = np.array([p["count"] for p in out.properties], dtype=np.int64)
    hide = suppression_mask(counts, threshold)
    for i in np.flatnonzero(hide).tolist():
        out.properties[i]["count"] = None
    for p in out.properties:
        # Full-precision z-scores of every cell would let the counts be solved back.
        p["gi_z"] = round(p["gi_z"], 2)
    out.meta["suppression"] = {"threshold": threshold, "cells_hidden": int(hide.sum())}
