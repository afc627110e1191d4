"""Hotspots of a dataset: Getis–Ord Gi* on BNG grid cells or on areas, with FDR control.

The method is the one in INTERFACE.md: queen contiguity with the feature itself, binary weights,
two-sided normal p, Benjamini–Hochberg q over every feature of the result, bins ±3/±2/±1. Grid
cells cover the partnership area (cells intersecting its outline), so empty cells inside the study
region count; points outside it are not in the analysis.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from typing import Any

import numpy as np
import scipy.sparse
import shapely

from app.access.principal import Principal
from app.errors import BadRequest
from app.services.areas import AreaCatalogue
from app.services.cache import LRU
from app.services.counts import NO_INCIDENTS, boundary_meta
from app.services.coverage import add_coverage
from app.services.denominators import Denominators
from app.services.geojson import BNG, feature_collection
from app.services.hotspot_disclosure import suppress_hotspots
from app.services.hotspot_extent import outside_caveat, study_extent
from app.services.hotspot_methods import (
    area_counts,
    cell_boxes,
    cell_ids,
    check_work,
    emerging_features,
    grid_feature_index,
    kde_features,
    local_moran_features,
    month_columns,
)
from app.services.incidents import IncidentCache, IncidentFrame
from app.store.records import DatasetRecord
from geo.aggregate import count_by_area
from geo.grid import grid_counts
from geo.hotspots import HotspotResult, gi_star, gi_star_grid

MIN_CELL_M = 100.0
METHODS = ("gi_star", "kde", "local_moran", "emerging")
MAX_PERMUTATIONS = 9999


@dataclass(frozen=True)
class HotspotQuery:
    """One hotspot request: the dataset, then every option by name."""

    dataset: str
    _: KW_ONLY
    grid_m: float | None = None
    by: str | None = None
    first: str | None = None
    last: str | None = None
    category: str | None = None
    permutations: int = 0
    seed: int | None = None
    method: str = "gi_star"
    bandwidth_m: float | None = None
    kernel: str = "quartic"
    #: Only these areas of ``by`` (Gi* over them alone, neighbours outside not used); None: all.
    areas: tuple[str, ...] | None = None
    #: Grid methods: "partnership" (default), "data" or a boundary selector (hotspot_extent).
    extent: str | None = None

    def check(self) -> None:
        if self.method not in METHODS:
            raise BadRequest(f"method must be one of {', '.join(METHODS)}")
        if (self.grid_m is None) == (self.by is None):
            raise BadRequest("give exactly one of --grid METRES or --by SEL")
        if self.method == "kde" and self.grid_m is None:
            raise BadRequest("kde needs --grid (cell size in metres)")
        if self.method == "local_moran" and self.by is None:
            raise BadRequest("local_moran works on areas: give --by SEL")
        if self.kernel not in ("quartic", "gaussian"):
            raise BadRequest("kernel must be quartic or gaussian")
        if self.grid_m is not None and not MIN_CELL_M <= self.grid_m <= 50_000:
            raise BadRequest(f"grid cell size must be between {MIN_CELL_M:g} m and 50 km")
        if not 0 <= self.permutations <= MAX_PERMUTATIONS:
            raise BadRequest(f"permutations must be 0..{MAX_PERMUTATIONS}")
        if self.areas is not None and (self.by is None or self.method != "gi_star"):
            raise BadRequest("an area filter works with Gi* area hotspots only (by=SEL)")
        if self.extent is not None and self.grid_m is None:
            raise BadRequest(
                "--extent is for grid hotspots (--grid); with --by the areas are the extent"
            )


@dataclass(frozen=True)
class HotspotOutput:
    """Features (EPSG:27700 geometries), per-feature properties and the run's metadata."""

    geometries: np.ndarray
    properties: list[dict[str, Any]]
    ids: list[Any]
    meta: dict[str, Any]
    #: For features that are a part of a geography (an area filter): the whole geography's
    #: counts and the features' positions in it, whose suppression the features must follow.
    whole: tuple[np.ndarray, np.ndarray] | None = None

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

    def __init__(
        self, areas: AreaCatalogue, cache: IncidentCache, denominators: Denominators, threshold: int
    ) -> None:
        self.areas = areas
        self.cache = cache
        self.denominators = denominators
        self.threshold = threshold
        self._results = LRU(32)

    def run(self, dataset: DatasetRecord, q: HotspotQuery, principal: Principal) -> HotspotOutput:
        """Hotspots of one dataset; results are reused until the store's data version moves on."""
        q.check()
        frame = self.cache.frame(dataset)
        key = (dataset.id, q, frame.data_version, principal.suppressed)
        found = self._results.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        out = self._compute(frame, q, principal)
        self._results.put(key, out)
        return out

    def _compute(
        self, frame: IncidentFrame, q: HotspotQuery, principal: Principal
    ) -> HotspotOutput:
        mask = frame.select(q.first, q.last, q.category)
        if q.method == "kde":
            out = self._kde(frame, mask, q, self.threshold if principal.suppressed else 0)
        elif q.method == "local_moran":
            out = self._moran(frame, mask, q)
        elif q.method == "emerging":
            out = self._emerging(frame, mask, q)
        elif q.grid_m is not None:
            out = self._grid(frame, mask, q)
        else:
            out = self._areas(frame, mask, q)
        add_coverage(out.meta, frame.months())
        # A list of areas is the extent by choice: nothing outside it is mentioned.
        caveat = (
            None
            if q.areas is not None
            else outside_caveat(
                out.meta, int((mask & frame.located).sum()), not principal.suppressed
            )
        )
        if caveat:
            out.meta.setdefault("caveats", []).append(caveat)
        if principal.suppressed:
            suppress_hotspots(out, self.threshold)
        return out

    def _region(
        self, q: HotspotQuery, e: np.ndarray, n: np.ndarray
    ) -> tuple[shapely.Geometry | None, str]:
        assert q.grid_m is not None
        extent = study_extent(self.areas, q.extent, e, n, q.grid_m)
        return extent.region, extent.name

    def _kde(
        self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery, min_support: int
    ) -> HotspotOutput:
        assert q.grid_m is not None
        use = mask & frame.located
        region, name = self._region(q, frame.easting[use], frame.northing[use])
        bandwidth = q.bandwidth_m or 3.0 * q.grid_m
        geoms, props, ids, extra = kde_features(
            frame.easting[use],
            frame.northing[use],
            q.grid_m,
            bandwidth,
            q.kernel,
            region,
            min_support,
        )
        meta = _base_meta(frame, mask, q, f"grid {q.grid_m:g} m cells intersecting {name}")
        meta.update(extra)
        return HotspotOutput(geoms, props, ids, meta)

    def _moran(self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery) -> HotspotOutput:
        assert q.by is not None
        version = self.areas.resolve(q.by)
        layer = self.areas.layer(version.id)
        counts = area_counts(self.cache.area_idx(frame, version.id), layer.codes.size, mask)
        meta = _base_meta(frame, mask, q, f"areas of {version.selector}")
        period = meta["period"]
        denom = self.denominators.for_period(version, period["from"], period["to"])
        queen = self.areas.queen(version.id)
        props, extra = local_moran_features(counts, denom.values, queen, q.permutations, q.seed)
        for p, code, name in zip(props, layer.codes.tolist(), layer.names.tolist(), strict=True):
            p["area_code"], p["area_name"] = code, name
        meta.update(extra)
        meta["population"] = {"year": denom.year, "source": denom.source, "method": denom.method}
        meta["boundary"] = boundary_meta(version)
        return HotspotOutput(layer.geometries, props, layer.codes.tolist(), meta)

    def _emerging(self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery) -> HotspotOutput:
        held = frame.months()
        first, last = q.first or (held[0] if held else ""), q.last or (held[-1] if held else "")
        month_col, n_months = month_columns(frame.month_no, first, last, held)
        use = mask & frame.located
        if q.grid_m is not None:
            region, name = self._region(q, frame.easting[use], frame.northing[use])
            grid = grid_counts(frame.easting[use], frame.northing[use], q.grid_m, region=region)
            check_work(grid.n_features, 0)
            feature = grid_feature_index(grid, frame.easting, frame.northing)
            props, extra = emerging_features(
                feature, month_col, grid.n_features, n_months, grid.mask, use
            )
            geoms, ids, features = (
                cell_boxes(grid),
                cell_ids(grid),
                f"grid {q.grid_m:g} m in {name}",
            )
        else:
            assert q.by is not None
            version = self.areas.resolve(q.by)
            layer = self.areas.layer(version.id)
            feature = self.cache.area_idx(frame, version.id).astype(np.int64)
            w = self._area_weights(version.id)
            props, extra = emerging_features(feature, month_col, layer.codes.size, n_months, w, use)
            for p, code, nm in zip(props, layer.codes.tolist(), layer.names.tolist(), strict=True):
                p["area_code"], p["area_name"] = code, nm
            geoms, ids, features = (
                layer.geometries,
                layer.codes.tolist(),
                f"areas of {version.selector}",
            )
        meta = _base_meta(frame, mask, q, features)
        meta["period"] = {"from": first, "to": last}
        meta.update(extra)
        meta["params"] = {"grid_m": q.grid_m, "by": q.by, "alpha": 0.05, "min_months": 12}
        # Months of the period not held have no time slice: meta.months (add_coverage) lists
        # them, with its caveat.
        return HotspotOutput(geoms, props, ids, meta)

    def _grid(self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery) -> HotspotOutput:
        assert q.grid_m is not None
        use = mask & frame.located
        region, name = self._region(q, frame.easting[use], frame.northing[use])
        grid = grid_counts(frame.easting[use], frame.northing[use], q.grid_m, region=region)
        check_work(grid.n_features, q.permutations)
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
        meta = _meta(
            frame, mask, q, result, f"grid {q.grid_m:g} m, cells intersecting {name}", len(props)
        )
        meta["in_analysis"] = int(grid.counts.sum())
        return HotspotOutput(geoms, props, ids, meta)

    def _areas(self, frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery) -> HotspotOutput:
        """Gi* of area counts; with ``q.areas`` over those areas and their incidents only."""
        assert q.by is not None
        version = self.areas.resolve(q.by)
        layer = self.areas.layer(version.id)
        keep = self.areas.positions(version.id, q.areas)
        area_idx = self.cache.area_idx(frame, version.id)
        features = f"areas of {version.selector}"
        whole = None
        if q.areas is not None:
            if keep.size < 2:
                raise BadRequest("Gi* needs at least two areas")
            whole = (count_by_area(area_idx, layer.codes.size, mask=mask), keep)
            mask = mask & np.isin(area_idx, keep)
            features += f": the {keep.size} listed areas only, neighbours outside them not used"
        counts = count_by_area(area_idx, layer.codes.size, mask=mask)[keep]
        weights = self._area_weights(version.id)[keep][:, keep]
        result = gi_star(counts, weights, q.permutations, q.seed)
        props = _properties(counts, result)
        codes = layer.codes[keep].tolist()
        for p, code, name in zip(props, codes, layer.names[keep].tolist(), strict=True):
            p["area_code"], p["area_name"] = code, name
        meta = _meta(frame, mask, q, result, features, len(props))
        meta["boundary"] = boundary_meta(version)
        meta["in_analysis"] = int(counts.sum())
        return HotspotOutput(layer.geometries[keep], props, codes, meta, whole)

    def _area_weights(self, version_id: int) -> scipy.sparse.csr_matrix:
        return self.areas.queen(version_id, include_self=True)


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


def _base_meta(
    frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery, features: str
) -> dict[str, Any]:
    first, last = frame.period(mask, q.first, q.last)
    return {
        "dataset": frame.dataset.name,
        "method": q.method,
        "features": features,
        "period": {"from": first, "to": last},
        "category": q.category,
        "incidents": int(mask.sum()),
        "unlocated": int((mask & ~frame.located).sum()),
        "crs": "EPSG:27700",
        "data_version": frame.data_version,
        "caveats": [NO_INCIDENTS] if not mask.any() else [],
    }


def _meta(
    frame: IncidentFrame, mask: np.ndarray, q: HotspotQuery, r: HotspotResult, features: str, n: int
) -> dict[str, Any]:
    bins = np.bincount(r.hotspot_bin.astype(np.int64) + 3, minlength=7)
    meta = _base_meta(frame, mask, q, features)
    meta.update(
        {
            "method_detail": (
                "Getis-Ord Gi* z of counts; queen contiguity including the feature itself, "
                "binary weights; two-sided normal p; Benjamini-Hochberg q over all features; "
                "bins +-3/2/1 at q < 0.01/0.05/0.10"
            ),
            "params": {
                "grid_m": q.grid_m,
                "by": q.by,
                "permutations": q.permutations,
                "seed": q.seed,
                "extent": q.extent,
            },
            "n_features": n,
            "bins": {str(b - 3): int(c) for b, c in enumerate(bins.tolist()) if c},
        }
    )
    if q.grid_m is not None and q.grid_m < 200:
        meta["caveats"].append(
            "police.uk-style anonymised snap points: cells under ~200 m mostly measure "
            "the snap-point layout rather than where incidents happened"
        )
    return meta
