"""Resident population for any boundary version, rolled up from the finest population layer."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from app.errors import NotFound
from app.services.areas import AreaCatalogue
from app.store import Store
from app.store.records import BoundaryVersionRecord
from geo.crosswalk import Crosswalk, area_crosswalk, nested, reassign
from geo.rates import nearest_year


@dataclass(frozen=True)
class Denominator:
    """Population per area of a target version, and where it came from."""

    values: np.ndarray  # float64 per area; NaN where unknown
    year: int
    source: str  # selector of the population layer
    method: str  # "direct", or how it was rolled up from the finer layer


class Denominators:
    """Population per area for any version and period; crosswalks cached per version pair."""

    def __init__(self, store: Store, areas: AreaCatalogue) -> None:
        self.store = store
        self.areas = areas
        self._crosswalks: dict[tuple[int, int], Crosswalk] = {}
        self._lock = threading.Lock()

    def for_period(self, target: BoundaryVersionRecord, first: str, last: str) -> Denominator:
        """Population of ``target``'s areas in the year nearest the middle of the period.

        Raises NotFound when no population layer is held.
        """
        layers = self.store.population.layers()
        if not layers:
            raise NotFound("no population is loaded: `atlas population import` (needed for rates)")
        year = nearest_year(sorted({y for _, y in layers}), first, last)
        candidates = [vid for vid, y in layers if y == year]
        if target.id in candidates:
            source_id = target.id
        else:
            source_id = max(candidates, key=lambda vid: self.areas.layer(vid).codes.size)
        table = self.store.population.get(source_id, year)
        src_layer = self.areas.layer(source_id)
        per_src = _align(src_layer.codes, table.codes, table.values)
        if source_id == target.id:
            return Denominator(per_src, year, src_layer.version.selector, "direct")
        cw = self._crosswalk(source_id, target.id)
        known = np.isfinite(per_src)
        moved = reassign(np.where(known, per_src, 0.0), cw).values
        method = (
            f"rolled up from {src_layer.version.selector}: whole areas where they nest,"
            " area shares elsewhere"
        )
        return Denominator(
            np.asarray(moved, dtype=np.float64), year, src_layer.version.selector, method
        )

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
