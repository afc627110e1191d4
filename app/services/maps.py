"""Thematic maps: what a layer shows, classified once per map (never per tile).

A map is a layer (``areas``, ``counts``, ``rates``, ``hotspots``) with its dataset, geography,
period, category and classification. It is built once per store data version and caller class
(public/partner views are suppressed, analysts' are not) and cached, so colours agree across tiles
and a new batch, boundary version or population never leaves a stale map behind.

Features of the counts, rates and hotspots layers carry ``value`` (what is coloured), ``class``
(the index of the feature's item in the legend's ``items``) and ``label`` (its text); whole
numbers (counts, classes, bins) are integers, so vector tiles encode them as int values.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from app.access.principal import Principal
from app.errors import BadRequest
from app.services.counts import CountQuery
from app.services.hotspots import HotspotQuery
from app.services.map_style import FILL_ALPHA, style_choropleth, whole
from geo.palettes import hex_to_rgba
from geo.tiles.legend import HOTSPOT_LABELS, SUPPRESSED_COLOUR, LegendItem, hotspot_legend
from geo.tiles.webmercator import mercator_to_lonlat, to_mercator

if TYPE_CHECKING:
    from app.atlas import Atlas

LAYERS: tuple[str, ...] = ("areas", "counts", "rates", "hotspots")
#: Hotspot methods drawn as tiles (their legend is the seven Gi* bins).
TILE_METHODS: tuple[str, ...] = ("gi_star",)


@dataclass(frozen=True)
class MapSpec:
    """What a map shows; these are also the query parameters of its tile URLs."""

    layer: str
    dataset: str | None = None
    by: str | None = None
    grid: float | None = None
    first: str | None = None
    last: str | None = None
    category: str | None = None
    classes: str = "quantiles"
    k: int = 5
    breaks: tuple[float, ...] | None = None
    palette: str = "YlOrRd"
    #: Only these areas of ``by``: classified, suppressed and analysed over them alone.
    areas: tuple[str, ...] | None = None
    #: Hotspot method; tiles are cut of Gi* only (None: the default, Gi*).
    method: str | None = None

    def check(self) -> None:
        if self.layer not in LAYERS:
            raise BadRequest(f"unknown layer {self.layer!r} (layers: {', '.join(LAYERS)})")
        if self.layer == "hotspots":
            if (self.grid is None) == (self.by is None):
                raise BadRequest("the hotspots layer needs exactly one of grid=METRES or by=SEL")
        elif self.by is None or self.grid is not None:
            raise BadRequest(f"the {self.layer} layer needs by=<boundary selector> (and no grid)")
        if self.layer != "areas" and not self.dataset:
            raise BadRequest(f"the {self.layer} layer needs dataset=<name>")
        if self.areas is not None and (self.layer == "areas" or self.by is None):
            raise BadRequest("areas=<codes> needs a counts, rates or hotspots layer with by=SEL")
        self._check_method()

    def _check_method(self) -> None:
        """Refuse, never ignore, a method the tiles do not draw."""
        if self.method is None:
            return
        if self.layer != "hotspots":
            raise BadRequest("method= applies to the hotspots layer only")
        if self.method not in TILE_METHODS:
            raise BadRequest(
                f"hotspot tiles and legends support method={', '.join(TILE_METHODS)} only, "
                f"not {self.method!r}; kde, local_moran and emerging results are served as "
                "GeoJSON by /api/v1/hotspots?method=..."
            )

    def query(self) -> dict[str, str]:
        """The spec as URL query parameters (only those set)."""
        out: dict[str, str] = {}
        for name, value in asdict(self).items():
            if name == "layer" or value is None:
                continue
            key = {"first": "from", "last": "to"}.get(name, name)
            if name == "breaks":
                out[key] = ",".join(f"{b:g}" for b in value)
            elif name == "areas":
                out[key] = ",".join(value)
            else:
                out[key] = f"{value}"
        return out


@dataclass
class ThematicMap:
    """Features in EPSG:3857 with attributes, fill colours and the legend of one map."""

    spec: MapSpec
    key: str
    geometries: np.ndarray
    ids: np.ndarray
    properties: dict[str, np.ndarray]
    fill_rgba: np.ndarray
    legend: list[LegendItem]
    legend_title: str
    meta: dict[str, Any]
    simplified: dict[int, np.ndarray] = field(default_factory=dict)

    def bounds_lonlat(self) -> tuple[float, float, float, float]:
        minx, miny, maxx, maxy = shapely.total_bounds(self.geometries)
        lon, lat = mercator_to_lonlat(np.array([minx, maxx]), np.array([miny, maxy]))
        return (float(lon[0]), float(lat[0]), float(lon[1]), float(lat[1]))

    def field_types(self) -> dict[str, str]:
        """TileJSON ``vector_layers`` field types: ``Number`` or ``String`` per property."""
        return {name: _field_type(column) for name, column in self.properties.items()}

    def legend_doc(self) -> dict[str, Any]:
        return {
            "title": self.legend_title,
            "items": [asdict(i) for i in self.legend],
            "meta": self.meta,
        }


def _column(rows: list[dict[str, Any]], name: str) -> np.ndarray:
    return np.array([np.nan if r.get(name) is None else float(r[name]) for r in rows])


def _field_type(column: np.ndarray) -> str:
    if column.dtype.kind in "fiu":
        return "Number"
    present = [v for v in column.tolist() if v is not None]
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in present)
    return "Number" if present and numeric else "String"


class MapBuilder:
    """Builds and caches thematic maps from the engine's counts, rates and hotspots."""

    def __init__(self, atlas: Atlas, cache_size: int = 16) -> None:
        self.atlas = atlas
        self.cache_size = cache_size
        self._maps: dict[str, ThematicMap] = {}
        self._mercator: dict[int, np.ndarray] = {}
        self._building: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, spec: MapSpec, principal: Principal) -> ThematicMap:
        spec.check()
        version = self.atlas.store.data_version()
        raw = repr((spec, version, principal.suppressed, principal.scope.get("dataset")))
        key = hashlib.sha256(raw.encode()).hexdigest()[:24]
        if spec.dataset:  # every caller must be allowed to see the dataset, cached map or not
            self.atlas.readable_dataset(spec.dataset, principal)
        with self._lock:
            found = self._maps.pop(key, None)
            if found is not None:
                self._maps[key] = found  # most recently used last
            building = self._building.setdefault(key, threading.Lock())
        if found is not None:
            return found
        # One build per map: concurrent tile requests for a new map wait for the first.
        with building:
            with self._lock:
                found = self._maps.get(key)
            try:
                if found is None:
                    found = self._build(spec, principal, key)
                    with self._lock:
                        while len(self._maps) >= self.cache_size:
                            self._maps.pop(next(iter(self._maps)))  # least recently used
                        self._maps[key] = found
            finally:
                with self._lock:
                    self._building.pop(key, None)
        return found

    def _area_mercator(self, version_id: int) -> np.ndarray:
        with self._lock:
            found = self._mercator.get(version_id)
        if found is None:
            layer = self.atlas.areas.layer(version_id)
            found = to_mercator(layer.geometries, self.atlas.geocoder.ostn15.to_lonlat)
            with self._lock:
                self._mercator[version_id] = found
        return found

    def _build(self, spec: MapSpec, principal: Principal, key: str) -> ThematicMap:
        if spec.layer == "areas":
            return self._areas(spec, key)
        if spec.layer == "hotspots":
            return self._hotspots(spec, principal, key)
        return self._choropleth(spec, principal, key)

    def _areas(self, spec: MapSpec, key: str) -> ThematicMap:
        assert spec.by is not None
        version = self.atlas.areas.resolve(spec.by)
        layer = self.atlas.areas.layer(version.id)
        n = layer.codes.size
        props = {
            "code": layer.codes,
            "name": layer.names,
            "area_km2": np.round(layer.area_m2 / 1e6, 3),
        }
        fill = np.tile(np.array(hex_to_rgba("#c6dbef", 120), dtype=np.uint8), (n, 1))
        legend = [LegendItem(f"{version.selector} areas", "#c6dbef", None, None)]
        meta = {"layer": "areas", "boundary": version.selector}
        return ThematicMap(
            spec,
            key,
            self._area_mercator(version.id),
            np.arange(n, dtype=np.uint64),
            props,
            fill,
            legend,
            "Areas",
            meta,
        )

    def _choropleth(self, spec: MapSpec, principal: Principal, key: str) -> ThematicMap:
        assert spec.by is not None and spec.dataset is not None
        rates = spec.layer == "rates"
        q = CountQuery(
            spec.dataset, spec.by, spec.first, spec.last, spec.category, rates, areas=spec.areas
        )
        data = self.atlas.counts(q, principal)
        rows, meta = data["rows"], data["meta"]
        field_name = "rate_per_1000" if rates else "count"
        values = _column(rows, field_name)
        version = self.atlas.areas.resolve(spec.by)
        props: dict[str, np.ndarray] = {
            "code": np.array([r["area_code"] for r in rows], dtype=object),
            "name": np.array([r["area_name"] for r in rows], dtype=object),
            "value": values if rates else whole(values),
            "count": whole(_column(rows, "count")),
        }
        title = "Incidents per 1,000 residents" if rates else "Incidents"
        threshold = self.atlas.settings.suppression_threshold if principal.suppressed else 0
        nothing_held = (meta.get("months") or {}).get("held") == 0
        style = style_choropleth(
            values, spec.classes, spec.k, spec.breaks, spec.palette, title, threshold, nothing_held
        )
        fill, legend = style.fill_rgba, style.legend
        if legend:
            props["class"] = style.classes
            meta["classification"] = style.meta
        hidden = np.array([bool(r.get("suppressed")) for r in rows])
        fill[hidden] = np.array(hex_to_rgba(SUPPRESSED_COLOUR, FILL_ALPHA), dtype=np.uint8)
        props["label"] = np.array(
            [
                "suppressed"
                if h
                else ("no data" if not np.isfinite(v) else f"{v:,.1f}" if rates else f"{v:,.0f}")
                for v, h in zip(values.tolist(), hidden.tolist(), strict=True)
            ],
            dtype=object,
        )
        return ThematicMap(
            spec,
            key,
            self._area_mercator(version.id)[self.atlas.areas.positions(version.id, spec.areas)],
            np.arange(len(rows), dtype=np.uint64),
            props,
            fill,
            legend,
            title,
            meta,
        )

    def _hotspots(self, spec: MapSpec, principal: Principal, key: str) -> ThematicMap:
        assert spec.dataset is not None
        q = HotspotQuery(
            spec.dataset,
            grid_m=spec.grid,
            by=spec.by,
            first=spec.first,
            last=spec.last,
            category=spec.category,
            areas=spec.areas,
        )
        out = self.atlas.hotspots(q, principal)
        bins = np.array([p["hotspot_bin"] for p in out.properties], dtype=np.int64)
        legend = hotspot_legend()
        # Tiles are painted from the legend itself (hot first: bin b is item 3 - b), so they
        # agree; "Not significant" is listed clear and left clear, over the choropleth below.
        table = np.array([hex_to_rgba(i.colour, FILL_ALPHA) for i in legend], np.uint8)
        fill = table[3 - bins]
        if spec.by is not None:
            version = self.atlas.areas.resolve(spec.by)
            geoms = self._area_mercator(version.id)[
                self.atlas.areas.positions(version.id, spec.areas)
            ]
        else:
            geoms = to_mercator(out.geometries, self.atlas.geocoder.ostn15.to_lonlat)
        props: dict[str, np.ndarray] = {
            "id": np.array([str(i) for i in out.ids], dtype=object),
            "value": whole(bins.astype(np.float64)),
            # The legend lists the bins hot first: bin +3 is item 0, bin -3 item 6.
            "class": whole((3 - bins).astype(np.float64)),
            "label": np.array([HOTSPOT_LABELS[b] for b in bins.tolist()], dtype=object),
            "hotspot_bin": whole(bins.astype(np.float64)),
            "gi_z": _column(out.properties, "gi_z"),
            "q_value": _column(out.properties, "q_value"),
            "count": whole(_column(out.properties, "count")),
        }
        if spec.by is not None:
            props["name"] = np.array([p["area_name"] for p in out.properties], dtype=object)
        return ThematicMap(
            spec,
            key,
            geoms,
            np.arange(len(bins), dtype=np.uint64),
            props,
            fill,
            legend,
            "Gi* hotspots",
            out.meta,
        )
