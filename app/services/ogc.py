"""OGC API - Features (Part 1 core + GeoJSON, Part 2 CRS): catalogue, items, paging and links.

The HTTP layer only adapts. Every value a client sees comes from the engine's own outputs
(``Atlas.counts`` and ``Atlas.hotspots`` called with the caller's principal), so access control
and small-count suppression are the engine's, never recomputed here. Geometries stay in
EPSG:27700 inside and are converted at the edge: CRS84 (OSTN15, 6 decimals) by default, British
National Grid (1 m) on request.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import numpy as np
import shapely

from app.access.principal import Principal
from app.errors import NotFound
from app.services.counts import CountQuery
from app.services.geojson import BNG, CRS84, feature_collection, rounded_bng, to_wgs84
from app.services.hotspots import HotspotQuery
from app.store.records import BoundaryVersionRecord, DatasetRecord

if TYPE_CHECKING:
    from app.atlas import Atlas

from app.services.ogc_params import (
    GEOJSON,
    GRID_CELLS_M,
    JSON,
    SUPPORTED_CRS,
    TRS,
    ItemsQuery,
    Kind,
    month_days,
)

# -- collections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Collection:
    """One feature collection: a boundary version, or a dataset's counts or hotspots."""

    id: str
    kind: Kind
    version: BoundaryVersionRecord | None = None  # None only for grid hotspots
    dataset: DatasetRecord | None = None
    grid_m: int | None = None

    @property
    def title(self) -> str:
        where = f"{self.grid_m} m grid cells" if self.version is None else self.version.selector
        if self.kind == "boundaries":
            return f"{self.version.title if self.version else ''} ({where})"
        what = "Incident counts" if self.kind == "counts" else "Gi* hotspots"
        return f"{what} of {self.dataset.name if self.dataset else ''} by {where}"


_DESCRIPTIONS: dict[Kind, str] = {
    "boundaries": "Areas of this boundary version: code, name and area_km2.",
    "counts": (
        "Incidents per area: count, and with population loaded population, rate_per_1000, ci_low "
        "and ci_high. datetime (or from/to) and category narrow the months and category counted; "
        "public and partner views suppress small counts."
    ),
    "hotspots": (
        "Getis-Ord Gi* hotspots: count, gi_z, p_value, q_value (Benjamini-Hochberg), hotspot_bin. "
        "datetime (or from/to) and category narrow the incidents analysed. A period without "
        "incidents still gives every feature (count 0, hotspot_bin 0), as counts give every area "
        "with 0, and meta.caveats says 'no incidents in this selection'."
    ),
}


def catalogue(atlas: Atlas, datasets: list[DatasetRecord]) -> dict[str, Collection]:
    """Every collection of the boundary versions and the given datasets, by id (first id wins)."""
    versions = sorted(atlas.areas.versions(), key=lambda v: (v.set_name, v.valid_from, v.id))
    found: list[Collection] = [
        Collection(f"boundaries-{v.set_name}-{v.version}", "boundaries", v) for v in versions
    ]
    for d in sorted(datasets, key=lambda d: d.name):
        found += [
            Collection(f"counts-{d.name}-{v.set_name}-{v.version}", "counts", v, d)
            for v in versions
        ]
        found += [
            Collection(f"hotspots-{d.name}-grid-{m}", "hotspots", None, d, m) for m in GRID_CELLS_M
        ]
        found += [
            Collection(f"hotspots-{d.name}-{v.set_name}-{v.version}", "hotspots", v, d)
            for v in versions
        ]
    out: dict[str, Collection] = {}
    for c in found:
        out.setdefault(c.id, c)
    return out


def collections(atlas: Atlas, principal: Principal) -> list[Collection]:
    """The collections ``principal`` may see (datasets it cannot read are left out)."""
    readable = [d for d in atlas.store.datasets.all() if principal.can_read(d)]
    return list(catalogue(atlas, readable).values())


def find_collection(atlas: Atlas, principal: Principal, collection_id: str) -> Collection:
    """The named collection. Raises NotFound, or Unauthorized/Forbidden like the rest of the API."""
    found = catalogue(atlas, atlas.store.datasets.all()).get(collection_id)
    if found is None:
        raise NotFound(f"no collection {collection_id!r} (GET /collections lists them)")
    if found.dataset is not None:
        principal.check_read(found.dataset)
    return found


def _rfc3339(day: date, end_of_day: bool = False) -> str:
    return f"{day.isoformat()}T{'23:59:59' if end_of_day else '00:00:00'}Z"


def _bounds(geometries: np.ndarray) -> list[float] | None:
    if not len(geometries):
        return None
    return [round(float(b), 6) for b in shapely.total_bounds(geometries)]


def spatial_bbox(atlas: Atlas, c: Collection) -> list[float] | None:
    """CRS84 bounding box of the collection's features (grid cells: the snapped study region)."""
    to_lonlat = atlas.geocoder.ostn15.to_lonlat
    if c.version is not None:
        return _bounds(atlas.areas.wgs84(c.version.id, to_lonlat))
    assert c.grid_m is not None and c.dataset is not None
    partnership = atlas.areas.partnership()
    if partnership is not None:
        minx, miny, maxx, maxy = shapely.bounds(partnership.outline).tolist()
    else:
        frame = atlas.incidents.frame(c.dataset)
        if not frame.located.any():
            return None
        e, n = frame.easting[frame.located], frame.northing[frame.located]
        minx, miny, maxx, maxy = float(e.min()), float(n.min()), float(e.max()), float(n.max())
    s = c.grid_m
    # Whole cells, densified: a BNG rectangle's edges curve in lon/lat.
    cells = shapely.box(
        math.floor(minx / s) * s,
        math.floor(miny / s) * s,
        (math.floor(maxx / s) + 1) * s,
        (math.floor(maxy / s) + 1) * s,
    )
    return _bounds(to_wgs84(np.array([shapely.segmentize(cells, s)]), to_lonlat))


def temporal_interval(atlas: Atlas, c: Collection) -> list[str | None]:
    """Boundaries: the validity; counts and hotspots: the months the dataset holds."""
    if c.kind == "boundaries":
        assert c.version is not None
        v = c.version
        return [_rfc3339(v.valid_from), _rfc3339(v.valid_to, True) if v.valid_to else None]
    assert c.dataset is not None
    months = atlas.incidents.frame(c.dataset).months()
    if not months:
        return [None, None]
    start, end = month_days(months[0], months[-1])
    assert start is not None and end is not None
    return [_rfc3339(start), _rfc3339(end, True)]


def collection_doc(atlas: Atlas, c: Collection, base: str) -> dict[str, Any]:
    """The collection description (``/collections/{id}``), links absolute under ``base``."""
    href = f"{base}/collections/{c.id}"
    extent: dict[str, Any] = {}
    bbox = spatial_bbox(atlas, c)
    if bbox is not None:
        extent["spatial"] = {"bbox": [bbox], "crs": CRS84}
    extent["temporal"] = {"interval": [temporal_interval(atlas, c)], "trs": TRS}
    return {
        "id": c.id,
        "title": c.title,
        "description": _DESCRIPTIONS[c.kind],
        "itemType": "feature",
        "crs": list(SUPPORTED_CRS),
        "storageCrs": BNG,
        "extent": extent,
        "links": [
            {"href": href, "rel": "self", "type": JSON, "title": "This collection"},
            {"href": f"{href}/items", "rel": "items", "type": GEOJSON, "title": "Its features"},
        ],
    }


def collections_doc(atlas: Atlas, principal: Principal, base: str) -> dict[str, Any]:
    """``/collections``: every collection the caller may read."""
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": JSON}],
        "crs": list(SUPPORTED_CRS),
        "collections": [collection_doc(atlas, c, base) for c in collections(atlas, principal)],
    }


def landing_doc(base: str, openapi_version: str) -> dict[str, Any]:
    """The landing page: links to itself, the API definition and docs, conformance, data."""
    oas = ".".join(openapi_version.split(".")[:2])
    return {
        "title": "Community Safety Atlas - OGC API Features",
        "description": "Boundaries, incident counts and hotspots of community safety data.",
        "links": [
            {"href": f"{base}/", "rel": "self", "type": JSON, "title": "This document"},
            {
                "href": f"{base}/openapi.json",
                "rel": "service-desc",
                "type": f"application/vnd.oai.openapi+json;version={oas}",
                "title": "The API definition",
            },
            {"href": f"{base}/docs", "rel": "service-doc", "type": "text/html", "title": "Docs"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": JSON},
            {"href": f"{base}/collections", "rel": "data", "type": JSON, "title": "Collections"},
        ],
    }


# -- features -----------------------------------------------------------------------------------


@dataclass
class FeatureSet:
    """A collection's features: EPSG:27700 geometries, properties and ids (aligned)."""

    geometries: np.ndarray
    properties: list[dict[str, Any]]
    ids: list[str]
    crs84: Callable[[np.ndarray], np.ndarray]  # positions -> CRS84 geometries (6 decimals)
    meta: dict[str, Any] = field(default_factory=dict)
    in_period: bool = True


def _overlaps(v: BoundaryVersionRecord, start: date | None, end: date | None) -> bool:
    return (end is None or v.valid_from <= end) and (
        start is None or v.valid_to is None or start <= v.valid_to
    )


def _area_crs84(atlas: Atlas, version_id: int) -> Callable[[np.ndarray], np.ndarray]:
    """Areas: the catalogue's cached conversion of the whole layer."""
    return lambda at: atlas.areas.wgs84(version_id, atlas.geocoder.ostn15.to_lonlat)[at]


def _cell_crs84(atlas: Atlas, geometries: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Grid cells change with every run: convert only the cells asked for (often one page)."""
    return lambda at: to_wgs84(geometries[at], atlas.geocoder.ostn15.to_lonlat)


def _boundary_features(atlas: Atlas, v: BoundaryVersionRecord, q: ItemsQuery) -> FeatureSet:
    layer = atlas.areas.layer(v.id)
    props = [
        {"code": code, "name": name, "area_km2": round(a / 1e6, 4)}
        for code, name, a in zip(
            layer.codes.tolist(), layer.names.tolist(), layer.area_m2.tolist(), strict=True
        )
    ]
    meta = {"boundary": v.selector, "source": v.source, "licence": v.licence}
    in_period = _overlaps(v, q.start, q.end)
    return FeatureSet(
        layer.geometries, props, layer.codes.tolist(), _area_crs84(atlas, v.id), meta, in_period
    )


def _count_features(
    atlas: Atlas, v: BoundaryVersionRecord, d: DatasetRecord, q: ItemsQuery, principal: Principal
) -> FeatureSet:
    rates = bool(atlas.store.population.layers())
    data = atlas.counts(
        CountQuery(d.name, v.selector, q.first, q.last, q.category, rates), principal
    )
    ids = [r["area_code"] for r in data["rows"]]
    geometries = atlas.areas.layer(v.id).geometries  # rows come in the layer's area order
    return FeatureSet(geometries, data["rows"], ids, _area_crs84(atlas, v.id), data["meta"])


def _hotspot_features(
    atlas: Atlas, c: Collection, d: DatasetRecord, q: ItemsQuery, principal: Principal
) -> FeatureSet:
    v = c.version
    grid_m = float(c.grid_m) if c.grid_m is not None else None
    hq = HotspotQuery(
        d.name,
        grid_m=grid_m,
        by=v.selector if v else None,
        first=q.first,
        last=q.last,
        category=q.category,
    )
    out = atlas.hotspots(hq, principal)
    crs84 = _area_crs84(atlas, v.id) if v is not None else _cell_crs84(atlas, out.geometries)
    return FeatureSet(out.geometries, out.properties, [str(i) for i in out.ids], crs84, out.meta)


def features(atlas: Atlas, c: Collection, q: ItemsQuery, principal: Principal) -> FeatureSet:
    """The collection's features for this request (the engine applies access and suppression)."""
    if c.kind == "boundaries":
        assert c.version is not None
        return _boundary_features(atlas, c.version, q)
    assert c.dataset is not None
    if c.kind == "counts":
        assert c.version is not None
        return _count_features(atlas, c.version, c.dataset, q, principal)
    return _hotspot_features(atlas, c, c.dataset, q, principal)


def select(fs: FeatureSet, q: ItemsQuery) -> np.ndarray:
    """Positions of the features matching the request (bbox: geometry intersects the box)."""
    if not fs.in_period:
        return np.empty(0, dtype=np.int64)
    everything = np.arange(len(fs.ids))
    if q.bbox is None:
        return everything
    geometries = fs.geometries if q.bbox_crs == BNG else fs.crs84(everything)
    return np.flatnonzero(shapely.intersects(geometries, shapely.box(*q.bbox)))


def output_geometries(fs: FeatureSet, positions: np.ndarray, crs: str) -> np.ndarray:
    """Geometries at ``positions`` in the output CRS at published precision (1 m or 1e-6 deg)."""
    if crs == BNG:
        return rounded_bng(fs.geometries[positions])
    return np.asarray(fs.crs84(positions), dtype=object)


# -- links and pages ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RequestUrl:
    """Where a request came: ``base`` (no trailing slash), ``path`` and its query parameters."""

    base: str
    path: str
    params: tuple[tuple[str, str], ...] = ()

    def href(self, **changes: str) -> str:
        """This URL with ``changes`` replacing those parameters; every other one is kept."""
        kept = [(k, v) for k, v in self.params if k not in changes]
        query = urlencode(kept + list(changes.items()))
        return f"{self.base}{self.path}" + (f"?{query}" if query else "")


def page_links(
    url: RequestUrl, collection_id: str, offset: int, limit: int, matched: int
) -> list[dict[str, Any]]:
    """self, collection, and next (only when more remain) / prev (when not at the start)."""
    links: list[dict[str, Any]] = [
        {"href": url.href(), "rel": "self", "type": GEOJSON, "title": "This page"},
        {"href": f"{url.base}/collections/{collection_id}", "rel": "collection", "type": JSON},
    ]
    if offset + limit < matched:
        nxt = url.href(offset=str(offset + limit), limit=str(limit))
        links.append({"href": nxt, "rel": "next", "type": GEOJSON, "title": "Next page"})
    if offset > 0:
        prev = url.href(offset=str(max(0, offset - limit)), limit=str(limit))
        links.append({"href": prev, "rel": "prev", "type": GEOJSON, "title": "Previous page"})
    return links


def content_crs(crs: str) -> dict[str, str]:
    """The Part 2 ``Content-Crs`` header of a response in ``crs``."""
    return {"Content-Crs": f"<{crs}>"}


#: Stands for the response's ``timeStamp`` while the page is built: the page without it is what
#: stays the same from one request to the next (the basis of its weak ETag).
_TIME_STAMP = "<timeStamp>"


@dataclass(frozen=True)
class ItemsPage:
    """One page of items: the GeoJSON text and what its weak ETag is computed from."""

    body: str
    version_basis: bytes


def items_page(
    atlas: Atlas, principal: Principal, collection_id: str, q: ItemsQuery, url: RequestUrl
) -> ItemsPage:
    """``/collections/{id}/items`` as a GeoJSON FeatureCollection (text), one page of it."""
    c = find_collection(atlas, principal, collection_id)
    fs = features(atlas, c, q, principal)
    matched = select(fs, q)
    page = matched[q.offset : q.offset + q.limit]
    extra = {
        "numberMatched": int(matched.size),
        "numberReturned": int(page.size),
        "timeStamp": _TIME_STAMP,
        "links": page_links(url, c.id, q.offset, q.limit, int(matched.size)),
        "meta": fs.meta,
    }
    text = feature_collection(
        output_geometries(fs, page, q.crs),
        [fs.properties[i] for i in page.tolist()],
        [fs.ids[i] for i in page.tolist()],
        crs=q.crs,
        extra=extra,
    )
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The member itself (JSON quotes included): text inside a value has its quotes escaped.
    member = f'"timeStamp": "{_TIME_STAMP}"'
    return ItemsPage(text.replace(member, f'"timeStamp": "{now}"', 1), text.encode())


def feature_doc(
    atlas: Atlas,
    principal: Principal,
    collection_id: str,
    feature_id: str,
    q: ItemsQuery,
    url: RequestUrl,
) -> str:
    """``/collections/{id}/items/{featureId}`` as a GeoJSON Feature (text). Raises NotFound."""
    c = find_collection(atlas, principal, collection_id)
    fs = features(atlas, c, q, principal)
    try:
        position = fs.ids.index(feature_id)
    except ValueError as exc:
        raise NotFound(f"no feature {feature_id!r} in collection {collection_id!r}") from exc
    geometry = shapely.to_geojson(output_geometries(fs, np.array([position]), q.crs)[0])
    links = [
        {"href": url.href(), "rel": "self", "type": GEOJSON},
        {"href": f"{url.base}/collections/{c.id}", "rel": "collection", "type": JSON},
    ]
    return (
        f'{{"type":"Feature","id":{json.dumps(feature_id)},"geometry":{geometry},'
        f'"properties":{json.dumps(fs.properties[position])},"links":{json.dumps(links)}}}'
    )
