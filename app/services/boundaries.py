"""Registering boundary versions from any vector file GDAL reads, and the bundled Surrey sets."""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import pyproj
import shapely
from pyogrio import raw as ogr_raw

from app.errors import BadRequest, Conflict, UnreadableFile
from app.services.areas import AreaCatalogue
from app.services.geocoding import Geocoder
from app.store import Store
from app.store.records import BoundaryVersionRecord
from geo.assign import AreaIndex
from geo.boundaries import ToBng, ensure_bng, validate_layer
from geo.errors import CRSMismatch, GeoError, InvalidGeometry
from geo.reproject import resolve_crs


@dataclass(frozen=True)
class BoundarySpec:
    """How to read and describe one boundary version."""

    path: Path
    set_name: str
    version: str
    valid_from: date
    code_field: str
    name_field: str
    valid_to: date | None = None
    layer: str | None = None
    title: str = ""
    source: str = ""
    licence: str = ""
    attribution: str = ""


def _vsi(path: Path) -> str:
    return f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)


def read_vector(spec: BoundarySpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Codes, names, geometries (source CRS) and the CRS of a vector file's layer."""
    if not spec.path.exists():
        raise BadRequest(f"no such file: {spec.path}")
    try:
        layers = pyogrio.list_layers(_vsi(spec.path))
        layer = spec.layer or (str(layers[0][0]) if len(layers) == 1 else None)
        if layer is None:
            listed = ", ".join(str(row[0]) for row in layers)
            raise BadRequest(
                f"{spec.path.name} has several layers ({listed}): choose one with --layer"
            )
        meta, _fids, wkb, fields = ogr_raw.read(_vsi(spec.path), layer=layer)
    except pyogrio.errors.DataSourceError as exc:
        raise UnreadableFile(f"{spec.path.name}: not a vector file GDAL can read ({exc})") from exc
    except pyogrio.errors.DataLayerError as exc:
        raise BadRequest(f"{spec.path.name}: {exc}") from exc
    if len(wkb) == 0:
        raise UnreadableFile(f"{spec.path.name}: layer {layer!r} has no features")
    columns = [str(f) for f in meta["fields"]]
    for wanted in (spec.code_field, spec.name_field):
        if wanted not in columns:
            raise BadRequest(
                f"no field {wanted!r} in {spec.path.name} (fields: {', '.join(columns)})"
            )
    codes = np.asarray(fields[columns.index(spec.code_field)]).astype(str).astype(object)
    names = np.asarray(fields[columns.index(spec.name_field)]).astype(str).astype(object)
    geoms = shapely.from_wkb(np.asarray(wkb, dtype=object))
    crs = meta.get("crs")
    return codes, names, geoms, None if crs is None else str(crs)


def import_boundary(
    store: Store, areas: AreaCatalogue, geocoder: Geocoder, spec: BoundarySpec
) -> BoundaryVersionRecord:
    """Validate, reproject to EPSG:27700, index and register one version; assign held incidents.

    Raises BadRequest/UnreadableFile for unreadable input, InvalidGeometry or CRSMismatch for bad
    layers, Conflict when the set and version already exist.
    """
    for label, value in (("set", spec.set_name), ("version", spec.version)):
        if not NAME.fullmatch(value):
            raise BadRequest(
                f"{label} {value!r}: use letters, digits, '_', '.' or '-' (it appears in selectors"
                " such as wards:2019 and in URLs)"
            )
    if store.boundaries.find(spec.set_name, spec.version) is not None:
        raise Conflict(f"boundary version {spec.set_name}:{spec.version} already exists")
    if spec.valid_to is not None and spec.valid_to < spec.valid_from:
        raise BadRequest("--valid-to is before --valid-from")
    codes, names, geoms, crs = read_vector(spec)
    held = [v for v in store.boundaries.all() if v.set_name == spec.set_name]
    try:
        bng = ensure_bng(geoms, crs, to_bng=_route_to_bng(crs, geocoder))
        layer = validate_layer(codes.tolist(), names.tolist(), bng, coverage=_coverage(areas, held))
    except GeoError as exc:
        exc.detail = f"{spec.path.name}: {exc.detail}"
        raise
    except shapely.errors.GEOSException as exc:  # a reason, never an internal error
        raise InvalidGeometry(f"{spec.path.name}: geometry GEOS cannot process ({exc})") from exc
    index = AreaIndex.build(layer.geometries)
    assignments = _assign_held(store, index)
    meta = _meta(spec, layer.report.__dict__, crs)
    meta["report"]["warnings"] = validity_overlaps(spec, held)
    record = store.boundaries.add_version(
        meta, layer.codes, layer.names, layer.geometries, index.to_bytes(), assignments
    )
    areas.forget(record.id)
    return record


def _coverage(areas: AreaCatalogue, held: list[BoundaryVersionRecord]) -> shapely.Geometry | None:
    """What the set's versions held so far cover: a new version leaving part of it is gapped."""
    if not held:
        return None
    return shapely.union_all([shapely.union_all(areas.layer(v.id).geometries) for v in held])


def _effective_end(start: date, end: date | None, starts: list[date]) -> date:
    """Last day in force: ``valid_to``, else the day before the set's next valid_from."""
    if end is not None:
        return end
    later = [s for s in starts if s > start]
    return min(later) - timedelta(days=1) if later else date.max


def validity_overlaps(spec: BoundarySpec, held: list[BoundaryVersionRecord]) -> list[str]:
    """Warnings naming each held version of the set whose validity overlaps the new one's.

    A version without ``valid_to`` is taken to run until the set's next ``valid_from`` (it is
    superseded, not overlapped). Where windows overlap, the version with the latest valid_from
    is the one selectors resolve to; the warning says which.
    """
    starts = [v.valid_from for v in held] + [spec.valid_from]
    new_end = _effective_end(spec.valid_from, spec.valid_to, starts)
    new = f"{spec.set_name}:{spec.version} ({_window(spec.valid_from, spec.valid_to)})"
    out = []
    for v in sorted(held, key=lambda v: (v.valid_from, v.id)):
        lo = max(v.valid_from, spec.valid_from)
        hi = min(_effective_end(v.valid_from, v.valid_to, starts), new_end)
        if lo > hi:
            continue
        winner = spec.version if spec.valid_from >= v.valid_from else v.version
        out.append(
            f"validity of {new} overlaps {v.selector} ({_window(v.valid_from, v.valid_to)}) on "
            f"{_window(lo, None if hi == date.max else hi)}: {spec.set_name}:{winner} is used "
            "there (latest valid_from)"
        )
    return out


def _window(start: date, end: date | None) -> str:
    return f"{start.isoformat()}..{end.isoformat() if end else ''}"


#: Set and version names: the characters a selector (``set:version``) and a URL path can carry.
NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

#: Datums whose lon/lat OSTN15 takes as ETRS89 (WGS84 agrees to under a metre in GB).
GPS_DATUMS = ("World Geodetic System 1984", "European Terrestrial Reference System 1989")
ETRS89 = pyproj.CRS.from_epsg(4258)


def _route_to_bng(crs: str | None, geocoder: Geocoder) -> ToBng | None:
    """How a layer's coordinates reach EPSG:27700 exactly.

    OSGB36-based CRSs: pyproj's conversion (same datum, exact), so None. ETRS89/WGS84 lon/lat:
    OSTN15 directly. Projected CRSs on other datums (UTM, Web Mercator): pyproj back to their own
    lon/lat, then OSTN15. A missing CRS is left to ``ensure_bng`` to refuse; unknown and
    unsupported ones (engineering/local CRSs) raise CRSMismatch here.
    """
    if not crs:
        return None
    source = resolve_crs(crs)
    datum = source.datum.name if source.datum else ""
    if "OSGB" in datum:
        return None
    if source.is_geographic and datum in GPS_DATUMS:
        return geocoder.ostn15.to_bng
    # Projected on WGS84/ETRS89: unproject exactly. Another datum: pyproj's datum shift to ETRS89.
    geodetic = source.geodetic_crs if datum in GPS_DATUMS else None
    try:
        to_lonlat = pyproj.Transformer.from_crs(source, geodetic or ETRS89, always_xy=True)
    except pyproj.exceptions.ProjError as exc:
        raise CRSMismatch(f"no transformation from {source.name!r} to ETRS89: {exc}") from exc

    def convert(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = to_lonlat.transform(x, y)
        return geocoder.ostn15.to_bng(np.asarray(lon), np.asarray(lat))

    return convert


def _assign_held(store: Store, index: AreaIndex) -> dict[int, np.ndarray]:
    """Every active batch's incidents assigned to the new version (once, at registration)."""
    out: dict[int, np.ndarray] = {}
    for batch_id in store.batches.all_active_ids():
        e, n = store.batches.batch_locations(batch_id)
        out[batch_id] = index.assign(e, n)
    return out


def _meta(spec: BoundarySpec, report: dict[str, Any], crs: str | None) -> dict[str, Any]:
    return {
        "set_name": spec.set_name,
        "version": spec.version,
        "title": spec.title or f"{spec.set_name} {spec.version}",
        "valid_from": spec.valid_from,
        "valid_to": spec.valid_to,
        "sha256": hashlib.sha256(spec.path.read_bytes()).hexdigest(),
        "source": spec.source or spec.path.name,
        "licence": spec.licence,
        "attribution": spec.attribution,
        "report": {**_jsonable(report), "source_crs": crs},
    }


def _jsonable(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in report.items():
        if isinstance(v, tuple | list):
            out[k] = [list(x) if isinstance(x, tuple) else x for x in v]
        elif isinstance(v, np.generic):
            out[k] = v.item()
        else:
            out[k] = v
    return out


def bundled_specs(root: Path) -> list[BoundarySpec]:
    """The boundary versions shipped under ``boundaries/<set>/<version>/manifest.toml``."""
    specs = []
    for manifest in sorted(root.glob("*/*/manifest.toml")):
        m = tomllib.loads(manifest.read_text(encoding="utf-8"))
        path = manifest.parent / m["file"]
        if hashlib.sha256(path.read_bytes()).hexdigest() != m.get("sha256"):
            raise UnreadableFile(f"{path} does not match the sha256 in its manifest")
        specs.append(
            BoundarySpec(
                path=path,
                set_name=m["set"],
                version=str(m["version"]),
                valid_from=m["valid_from"],
                valid_to=m.get("valid_to"),
                code_field=m["code_field"],
                name_field=m["name_field"],
                layer=m.get("layer"),
                title=m.get("title", ""),
                source=m.get("source", ""),
                licence=m.get("licence", ""),
                attribution=m.get("attribution", ""),
            )
        )
    return specs


def register_bundled(
    store: Store, areas: AreaCatalogue, geocoder: Geocoder, root: Path
) -> list[dict[str, Any]]:
    """Register every bundled version not yet held; report each as registered or present."""
    out = []
    for spec in bundled_specs(root):
        held = store.boundaries.find(spec.set_name, spec.version)
        if held is not None:
            out.append({"boundary": held.selector, "status": "present", "features": held.features})
            continue
        rec = import_boundary(store, areas, geocoder, spec)
        out.append({"boundary": rec.selector, "status": "registered", "features": rec.features})
    return out


def version_summary(v: BoundaryVersionRecord) -> dict[str, Any]:
    """A version as listed by ``atlas boundaries list`` and ``GET /api/v1/boundaries``."""
    return {
        "set": v.set_name,
        "version": v.version,
        "valid_from": v.valid_from.isoformat(),
        "valid_to": v.valid_to.isoformat() if v.valid_to else None,
        "features": v.features,
    }
