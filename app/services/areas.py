"""Boundary versions as the engine sees them: selectors, cached layers and area indexes."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import date

import numpy as np
import scipy.sparse
import shapely

from app.errors import BadRequest, NotFound
from app.services.geojson import LonLatFn, to_wgs84
from app.store import Store
from app.store.records import AreaLayer, BoundaryVersionRecord
from geo.assign import AreaIndex
from geo.plausibility import AreaDistance
from geo.weights import polygon_queen

_SELECTOR = re.compile(r"^(?P<set>[A-Za-z0-9_.\-]+)(?:(?P<sep>[:@])(?P<rest>[A-Za-z0-9_.\-]+))?$")


@dataclass(frozen=True)
class Partnership:
    """The partnership area: a boundary version whose union outlines it."""

    version: BoundaryVersionRecord
    index: AreaIndex
    outline: shapely.Geometry
    distance_m: AreaDistance


def parse_selector(selector: str) -> tuple[str, str | None, date | None]:
    """(set, version, date) from ``set:version``, ``set@YYYY-MM-DD`` or ``set``."""
    m = _SELECTOR.match(selector.strip())
    if not m:
        raise BadRequest(f"{selector!r} is not a boundary selector (set:version, set@date or set)")
    if m["sep"] == "@":
        try:
            return m["set"], None, date.fromisoformat(m["rest"])
        except ValueError as exc:
            raise BadRequest(f"{m['rest']!r} in {selector!r} is not a date (YYYY-MM-DD)") from exc
    return m["set"], m["rest"], None


def in_force(version: BoundaryVersionRecord, on: date) -> bool:
    """True when ``on`` falls in the version's validity (valid_to inclusive, open when None)."""
    return version.valid_from <= on and (version.valid_to is None or on <= version.valid_to)


class AreaCatalogue:
    """Resolves selectors and caches each version's layer and AreaIndex (thread-safe)."""

    def __init__(self, store: Store, partnership_set: str) -> None:
        self.store = store
        self.partnership_set = partnership_set
        self._layers: dict[int, AreaLayer] = {}
        self._indexes: dict[int, AreaIndex] = {}
        self._wgs84: dict[int, np.ndarray] = {}
        self._queen: dict[int, scipy.sparse.csr_matrix] = {}
        self._partnership: Partnership | None = None
        self._lock = threading.Lock()

    def versions(self) -> list[BoundaryVersionRecord]:
        return self.store.boundaries.all()

    def resolve(self, selector: str) -> BoundaryVersionRecord:
        """The version a selector names. Raises NotFound naming what exists."""
        set_name, version, on = parse_selector(selector)
        candidates = [v for v in self.versions() if v.set_name == set_name]
        if not candidates:
            known = sorted({v.set_name for v in self.versions()})
            raise NotFound(f"no boundary set {set_name!r} (sets: {', '.join(known) or 'none'})")
        if version is not None:
            found = [v for v in candidates if v.version == version]
        elif on is not None:
            found = [v for v in candidates if in_force(v, on)]
        else:
            found = candidates
        if not found:
            have = ", ".join(
                f"{v.version} ({v.valid_from}..{v.valid_to or ''})" for v in candidates
            )
            raise NotFound(f"no version of {set_name!r} matches {selector!r} (versions: {have})")
        return max(found, key=lambda v: (v.valid_from, v.id))

    def layer(self, version_id: int) -> AreaLayer:
        with self._lock:
            if version_id not in self._layers:
                self._layers[version_id] = self.store.boundaries.layer(version_id)
            return self._layers[version_id]

    def positions(self, version_id: int, codes: tuple[str, ...] | None) -> np.ndarray:
        """Layer positions (ascending) of the areas ``codes`` names; every area when None.

        Raises
        ------
        NotFound
            A code that is not an area of the version.
        BadRequest
            An empty list of codes.
        """
        layer = self.layer(version_id)
        if codes is None:
            return np.arange(layer.codes.size)
        if not codes:
            raise BadRequest("the area filter is empty")
        wanted = np.array(codes, dtype=str)
        unknown = sorted(set(wanted.tolist()) - set(layer.codes.astype(str).tolist()))
        if unknown:
            raise NotFound(f"unknown area codes: {', '.join(unknown[:5])}")
        return np.flatnonzero(np.isin(layer.codes.astype(str), wanted))

    def index(self, version_id: int) -> AreaIndex:
        layer = self.layer(version_id)
        with self._lock:
            if version_id not in self._indexes:
                data = self.store.boundaries.area_index(version_id)
                self._indexes[version_id] = AreaIndex.from_bytes(data, layer.geometries)
            return self._indexes[version_id]

    def wgs84(self, version_id: int, to_lonlat: LonLatFn) -> np.ndarray:
        """The version's geometries in lon/lat (6 decimals), converted once."""
        layer = self.layer(version_id)
        with self._lock:
            if version_id not in self._wgs84:
                self._wgs84[version_id] = to_wgs84(layer.geometries, to_lonlat)
            return self._wgs84[version_id]

    def queen(self, version_id: int, include_self: bool = False) -> scipy.sparse.csr_matrix:
        """Binary queen contiguity of the version's areas (cached), optionally with self."""
        with self._lock:
            found = self._queen.get(version_id)
        if found is None:
            found = polygon_queen(self.layer(version_id).geometries)
            with self._lock:
                self._queen[version_id] = found
        if include_self:
            return (found + scipy.sparse.identity(found.shape[0], format="csr")).tocsr()
        return found

    def forget(self, version_id: int) -> None:
        with self._lock:
            self._layers.pop(version_id, None)
            self._indexes.pop(version_id, None)
            self._wgs84.pop(version_id, None)
            self._queen.pop(version_id, None)
            self._partnership = None

    def partnership(self) -> Partnership | None:
        """The latest version of the partnership set, or None when it is not loaded."""
        try:
            version = self.resolve(self.partnership_set)
        except NotFound:
            return None
        cached = self._partnership
        if cached is not None and cached.version.id == version.id:
            return cached
        outline = shapely.union_all(self.layer(version.id).geometries)
        self._partnership = Partnership(
            version, self.index(version.id), outline, AreaDistance(outline)
        )
        return self._partnership

    def assign_all(self, easting: np.ndarray, northing: np.ndarray) -> dict[int, np.ndarray]:
        """Area index of each point in every held boundary version (-1 outside or unlocated)."""
        return {v.id: self.index(v.id).assign(easting, northing) for v in self.versions()}

    def locate(self, easting: float, northing: float, on: date) -> list[dict[str, str | None]]:
        """For each set, the area containing the point in the version in force ``on`` that day."""
        latest: dict[str, BoundaryVersionRecord] = {}
        for v in self.versions():
            held = latest.get(v.set_name)
            if in_force(v, on) and (held is None or v.valid_from > held.valid_from):
                latest[v.set_name] = v
        out: list[dict[str, str | None]] = []
        for set_name, v in sorted(latest.items()):
            idx = int(self.index(v.id).assign(np.array([easting]), np.array([northing]))[0])
            layer = self.layer(v.id)
            out.append(
                {
                    "set": set_name,
                    "version": v.version,
                    "area_code": str(layer.codes[idx]) if idx >= 0 else None,
                    "area_name": str(layer.names[idx]) if idx >= 0 else None,
                }
            )
        return out
