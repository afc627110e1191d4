"""Resident population for any boundary version, rolled up from the finest population layer.

Which layer: the population year nearest the period among the years that have a layer covering
at least ``MIN_LAYER_COVERAGE`` of the target version's area, then the finest (smallest mean
area) of that year's covering layers. A
layer is never chosen for its feature count alone: a fine grid over another county covers none
of this one. An area of the target covered less than ``MIN_AREA_COVERAGE`` by the chosen layer
gets no population (NaN, shown as null with a caveat), never a silent 0.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import shapely

from app.errors import NotFound
from app.services.areas import AreaCatalogue
from app.store import Store
from app.store.records import BoundaryVersionRecord
from geo.crosswalk import Crosswalk, area_crosswalk, nested, reassign
from geo.rates import nearest_year

#: A population layer must cover this share of the target version's area to serve it.
MIN_LAYER_COVERAGE = 0.95
#: A target area covered less than this by the population layer has an unknown population.
MIN_AREA_COVERAGE = 0.9


@dataclass(frozen=True)
class Denominator:
    """Population per area of a target version, and where it came from."""

    values: np.ndarray  # float64 per area; NaN where unknown
    year: int
    source: str  # selector of the population layer
    method: str  # "direct", or how it was rolled up from the finer layer
    choice: str = ""  # why this layer, among the layers held for the year
    uncovered: tuple[str, ...] = ()  # target areas the layer does not cover (population NaN)


@dataclass(frozen=True)
class LayerChoice:
    """The population layer chosen for a target version, with its coverage of the target."""

    version_id: int
    coverage: float  # share of the target version's area covered by the layer's areas
    area_coverage: np.ndarray  # the same per target area
    reason: str


class Denominators:
    """Population per area for any version and period; crosswalks cached per version pair."""

    def __init__(self, store: Store, areas: AreaCatalogue) -> None:
        self.store = store
        self.areas = areas
        self._crosswalks: dict[tuple[int, int], Crosswalk] = {}
        self._coverage: dict[tuple[int, int], np.ndarray] = {}
        self._weights: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def for_period(self, target: BoundaryVersionRecord, first: str, last: str) -> Denominator:
        """Population of ``target``'s areas in the year nearest the middle of the period.

        Raises NotFound when no population layer is held.
        """
        years = self.covering_years(target)
        year = nearest_year(years, first, last)
        if (target.id, year) in self.store.population.layers():
            return self._direct(target, year)
        pick = self.choose(target, year)
        src_layer = self.areas.layer(pick.version_id)
        table = self.store.population.get(pick.version_id, year)
        per_src = _align(src_layer.codes, table.codes, table.values)
        cw = self._crosswalk(pick.version_id, target.id)
        known = np.isfinite(per_src)
        moved = np.asarray(reassign(np.where(known, per_src, 0.0), cw).values, dtype=np.float64)
        outside = pick.area_coverage < MIN_AREA_COVERAGE
        moved[outside] = np.nan
        method = (
            f"rolled up from {src_layer.version.selector}: whole areas where they nest,"
            " area shares elsewhere"
        )
        codes = self.areas.layer(target.id).codes[outside]
        return Denominator(
            moved,
            year,
            src_layer.version.selector,
            method,
            pick.reason,
            tuple(str(c) for c in codes),
        )

    def covering_years(self, target: BoundaryVersionRecord) -> list[int]:
        """Years with a population layer covering ``target`` (its own, or one covering at least
        ``MIN_LAYER_COVERAGE`` of its area); every year held when none does (the best cover is
        then used, and its caveat names the areas left without population).

        Raises NotFound when no population is held at all.
        """
        layers = self.store.population.layers()
        if not layers:
            raise NotFound("no population is loaded: `atlas population import` (needed for rates)")
        covering = {y for vid, y in layers if self._share(target.id, vid) >= MIN_LAYER_COVERAGE}
        return sorted(covering or {y for _, y in layers})

    def _share(self, target_id: int, layer_id: int) -> float:
        """Share of the target version's area covered by a layer's areas (cached)."""
        if target_id == layer_id:
            return 1.0
        weight = self._area_weights(target_id)
        return float(np.dot(self._covered(target_id, layer_id), weight) / weight.sum())

    def _area_weights(self, version_id: int) -> np.ndarray:
        with self._lock:
            found = self._weights.get(version_id)
        if found is None:
            found = np.asarray(shapely.area(self.areas.layer(version_id).geometries))
            with self._lock:
                self._weights[version_id] = found
        return found

    def _direct(self, target: BoundaryVersionRecord, year: int) -> Denominator:
        layer = self.areas.layer(target.id)
        table = self.store.population.get(target.id, year)
        values = _align(layer.codes, table.codes, table.values)
        reason = f"population held for {target.selector} itself"
        return Denominator(values, year, target.selector, "direct", reason)

    def choose(self, target: BoundaryVersionRecord, year: int) -> LayerChoice:
        """The finest population layer of ``year`` that covers ``target`` (else the best cover).

        Raises NotFound when no layer is held for ``year``.
        """
        ids = sorted({vid for vid, y in self.store.population.layers() if y == year})
        if not ids:
            raise NotFound(f"no population layer is held for {year}")
        scored = [
            (
                vid,
                self._share(target.id, vid),
                float(self._area_weights(vid).mean()),
                self._covered(target.id, vid),
            )
            for vid in ids
        ]
        covering = [s for s in scored if s[1] >= MIN_LAYER_COVERAGE]
        best = min(covering, key=lambda s: s[2]) if covering else max(scored, key=lambda s: s[1])
        held = "; ".join(
            f"{self.areas.layer(vid).version.selector} covers {100 * share:.1f}%"
            for vid, share, _, _ in scored
        )
        what = "the finest layer covering" if covering else "no layer covers; the best cover of"
        reason = f"{what} {target.selector} among the {year} population layers ({held})"
        return LayerChoice(best[0], best[1], best[3], reason)

    def _covered(self, target_id: int, layer_id: int) -> np.ndarray:
        """Share of each target area's area inside the population layer's areas (cached)."""
        key = (target_id, layer_id)
        with self._lock:
            if key in self._coverage:
                return self._coverage[key]
        tgt, src = self.areas.layer(target_id), self.areas.layer(layer_id)
        cover = 1.0 - area_crosswalk(tgt.geometries, src.geometries).unallocated_share()
        with self._lock:
            self._coverage[key] = cover
        return cover

    def _crosswalk(self, from_id: int, to_id: int) -> Crosswalk:
        key = (from_id, to_id)
        with self._lock:
            if key in self._crosswalks:
                return self._crosswalks[key]
        src, dst = self.areas.layer(from_id), self.areas.layer(to_id)
        cw = nested(area_crosswalk(src.geometries, dst.geometries))
        with self._lock:
            self._crosswalks[key] = cw
        return cw


def _align(layer_codes: np.ndarray, codes: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Values in the layer's area order; NaN for areas without a value."""
    order = np.argsort(codes)
    sorted_codes = codes[order]
    pos = np.clip(np.searchsorted(sorted_codes, layer_codes), 0, max(len(codes) - 1, 0))
    found = sorted_codes[pos] == layer_codes if len(codes) else np.zeros(len(layer_codes), bool)
    return np.where(found, values[order][pos] if len(codes) else np.nan, np.nan)
