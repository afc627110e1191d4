"""Validate and repair a boundary layer before it is registered; reproject layers to EPSG:27700.

A boundary layer is one version of one boundary set (wards 2019, LSOA 2011, districts...): codes,
names and (Multi)Polygons. :func:`validate_layer` rejects what cannot be used (missing or duplicate
codes, empty or non-areal geometries), repairs invalid polygons with ``shapely.make_valid`` keeping
only their areal part, and reports what a reviewer should know: repairs, gaps inside the layer's
outline and overlaps between features. Gaps and overlaps are reported, not fixed: boundary sets
such as police beats may legitimately overlap, and :mod:`geo.assign` has a rule for both.

:func:`ensure_bng` (from :mod:`geo.reproject`) reprojects layers to EPSG:27700.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from geo.errors import InvalidGeometry, InvalidInput
from geo.reproject import GeomArray, ToBng, as_geometry_array, ensure_bng

__all__ = [
    "GeomArray",
    "LayerReport",
    "ToBng",
    "ValidatedLayer",
    "as_geometry_array",
    "check_areal",
    "check_codes",
    "ensure_bng",
    "validate_layer",
]

_POLYGONAL = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
_MAX_NAMED = 10
#: Uncovered parts of a set's coverage thinner than twice this (metres) are generalisation slivers.
SLIVER_HALF_WIDTH_M = 5.0


@dataclass(frozen=True)
class LayerReport:
    """What validation found in a layer (areas in m², coordinates EPSG:27700 metres)."""

    features: int
    repaired: list[tuple[str, float]]
    gaps: list[tuple[float, float, float]]
    overlaps: list[tuple[str, str, float]]
    total_area_m2: float
    bounds: tuple[float, float, float, float]


@dataclass(frozen=True)
class ValidatedLayer:
    """A layer ready to register: valid MultiPolygons in EPSG:27700 with unique codes."""

    codes: npt.NDArray[np.str_]
    names: npt.NDArray[np.str_]
    geometries: GeomArray
    report: LayerReport


def _named(labels: Sequence[str] | npt.NDArray[Any], mask: npt.NDArray[np.bool_]) -> str:
    picked = [str(v) for v in np.asarray(labels, dtype=object)[mask][:_MAX_NAMED]]
    more = int(mask.sum()) - len(picked)
    return ", ".join(picked) + (f" (+{more} more)" if more > 0 else "")


def check_areal(geometries: Any, labels: Sequence[str] | None = None) -> GeomArray:
    """Check every geometry is a non-empty, valid Polygon or MultiPolygon.

    Parameters
    ----------
    geometries : array of shapely geometries (any CRS; nothing is reprojected).
    labels : names of the features for messages (codes); positions are used when omitted.

    Returns
    -------
    The geometries as a 1-D object array.

    Raises
    ------
    InvalidGeometry
        Naming the offending features: empty/missing, not areal, or invalid (repair the layer
        with :func:`validate_layer` first).
    """
    arr = as_geometry_array(geometries)
    names = labels if labels is not None else [f"#{i}" for i in range(arr.size)]
    if arr.size == 0:
        raise InvalidGeometry("no geometries given")
    missing = shapely.is_missing(arr) | shapely.is_empty(arr)
    if missing.any():
        raise InvalidGeometry(f"empty or missing geometry: {_named(names, missing)}")
    non_areal = ~np.isin(shapely.get_type_id(arr), _POLYGONAL)
    if non_areal.any():
        raise InvalidGeometry(f"not a Polygon/MultiPolygon: {_named(names, non_areal)}")
    invalid = ~shapely.is_valid(arr)
    if invalid.any():
        raise InvalidGeometry(
            f"invalid geometry (repair with validate_layer): {_named(names, invalid)}"
        )
    return arr


def check_codes(codes: Sequence[str], n: int) -> npt.NDArray[np.str_]:
    """Return ``n`` feature codes as stripped strings.

    Raises
    ------
    InvalidInput
        Not ``n`` codes, a code is missing or blank (positions named), or codes repeat (named).
    """
    raw = np.asarray(codes, dtype=object).reshape(-1)
    if raw.size != n:
        raise InvalidInput(f"{raw.size} codes for {n} geometries")
    blank = np.array(
        [c is None or (isinstance(c, float) and math.isnan(c)) for c in raw], dtype=bool
    )
    text = np.array(["" if b else str(c).strip() for c, b in zip(raw, blank, strict=True)])
    missing = text == ""
    if missing.any():
        positions = np.flatnonzero(missing)[:_MAX_NAMED].tolist()
        raise InvalidInput(f"missing code at feature positions {positions}")
    uniq, counts = np.unique(text, return_counts=True)
    if (counts > 1).any():
        raise InvalidInput(f"duplicate codes: {_named(uniq, counts > 1)}")
    return text.astype(str)


def _areal_part(geoms: GeomArray) -> GeomArray:
    """The polygonal part of each geometry as one MultiPolygon (empty when there is none)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # make_valid nests collections one level (GeometryCollection of MultiPolygons): flatten twice.
    parts, sub = shapely.get_parts(parts, return_index=True)
    owner = owner[sub]
    keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    keep &= ~shapely.is_empty(parts)
    out = np.array([shapely.MultiPolygon()] * geoms.size, dtype=object)
    if keep.any():
        merged = shapely.multipolygons(parts[keep], indices=owner[keep])
        out[np.unique(owner[keep])] = merged
    return out


def _repair(
    codes: npt.NDArray[np.str_], geoms: GeomArray
) -> tuple[GeomArray, list[tuple[str, float]]]:
    collection = shapely.get_type_id(geoms) == shapely.GeometryType.GEOMETRYCOLLECTION
    todo = ~shapely.is_valid(geoms) | collection
    out = geoms.copy()
    repaired: list[tuple[str, float]] = []
    if todo.any():
        fixed = _areal_part(shapely.make_valid(geoms[todo]))
        # Polygons pulled out of a collection may overlap one another: one more pass unions them.
        again = ~shapely.is_valid(fixed)
        fixed[again] = _areal_part(shapely.make_valid(fixed[again]))
        lost = shapely.is_empty(fixed) | ~shapely.is_valid(fixed)
        if lost.any():
            raise InvalidGeometry(
                f"cannot repair to an areal geometry: {_named(codes[todo], lost)}"
            )
        change = shapely.area(fixed) - shapely.area(geoms[todo])
        out[todo] = fixed
        repaired = [(str(c), float(a)) for c, a in zip(codes[todo], change, strict=True)]
    return _areal_part(out), repaired


def _gaps(
    union: shapely.Geometry, min_sliver_m2: float, coverage: shapely.Geometry | None
) -> list[tuple[float, float, float]]:
    """Holes in the layer's union, and parts of ``coverage`` outside the layer's outline."""
    parts = shapely.get_parts(union)
    rings, owner = shapely.get_rings(parts, return_index=True)
    # get_rings lists each polygon's exterior first, then its holes.
    exterior = np.r_[True, owner[1:] != owner[:-1]]
    pieces = shapely.polygons(rings[~exterior])
    if coverage is not None:
        outline = shapely.union_all(shapely.polygons(shapely.get_exterior_ring(parts)))
        bays = shapely.get_parts(shapely.difference(coverage, outline))
        # Hair-lines along a differently generalised outline are not territory left out.
        wide = ~shapely.is_empty(shapely.buffer(bays, -SLIVER_HALF_WIDTH_M))
        pieces = np.concatenate([pieces, bays[wide]])
    area = shapely.area(pieces)
    keep = area > min_sliver_m2
    rep = shapely.point_on_surface(pieces[keep])
    xs, ys, kept = shapely.get_x(rep), shapely.get_y(rep), area[keep]
    order = np.argsort(-kept, kind="stable")
    return [(float(kept[i]), float(xs[i]), float(ys[i])) for i in order]


def _overlaps(
    codes: npt.NDArray[np.str_], geoms: GeomArray, min_sliver_m2: float
) -> list[tuple[str, str, float]]:
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    big = area > min_sliver_m2
    return [
        (str(codes[a]), str(codes[b]), float(s))
        for a, b, s in zip(left[big], right[big], area[big], strict=True)
    ]


def validate_layer(
    codes: Sequence[str],
    names: Sequence[str],
    geometries: Any,
    min_sliver_m2: float = 1.0,
    coverage: shapely.Geometry | None = None,
) -> ValidatedLayer:
    """Validate, repair and describe one boundary layer (geometries already in EPSG:27700).

    Parameters
    ----------
    codes : one unique, non-blank code per feature (GSS code or the set's own identifier).
    names : one name per feature (None is stored as "").
    geometries : shapely Polygons/MultiPolygons (or collections holding polygons), EPSG:27700.
    min_sliver_m2 : gaps and pairwise overlaps of at most this area (m²) are not reported.
    coverage : optional area the layer should cover (EPSG:27700), e.g. the union of the other
        versions of its set; parts of it outside the layer's outline are gaps too (a deleted edge
        ward leaves a bay, not a hole), except hair-lines narrower than 2 × SLIVER_HALF_WIDTH_M.

    Returns
    -------
    ValidatedLayer
        Codes, names, valid 2-D MultiPolygons and a :class:`LayerReport`. ``repaired`` gives the
        signed change of GEOS area (m²) for each repaired feature (an invalid input's own area is
        GEOS's shoelace figure, e.g. 0 for a symmetric bow-tie). ``gaps`` are holes in the union of
        the layer (parts of the plane enclosed by the layer but covered by no feature) and the
        uncovered parts of ``coverage``, as ``(area_m2, x, y)`` with (x, y) a point inside the
        gap, largest first. ``overlaps`` are ``(code_a, code_b, area_m2)`` for each intersecting
        pair, ``code_a`` earlier in the layer.
        ``total_area_m2`` is the area of the union (overlaps counted once).

    Raises
    ------
    InvalidInput
        Lengths differ, a code is missing or duplicated (the message names them), or
        ``min_sliver_m2`` is negative.
    InvalidGeometry
        A geometry is missing, empty, not areal, or has no areal part left after repair.
    """
    geoms = as_geometry_array(geometries)
    if geoms.size == 0:
        raise InvalidInput("the layer has no features")
    if not np.isfinite(min_sliver_m2) or min_sliver_m2 < 0:
        raise InvalidInput("min_sliver_m2 must be a non-negative number")
    code_arr = check_codes(codes, geoms.size)
    name_arr = np.array(["" if v is None else str(v) for v in names], dtype=str).reshape(-1)
    if name_arr.size != geoms.size:
        raise InvalidInput(f"{name_arr.size} names for {geoms.size} geometries")
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        raise InvalidGeometry(f"empty or missing geometry: {_named(code_arr, missing)}")
    polygonal = np.isin(shapely.get_type_id(geoms), _POLYGONAL)
    non_areal = ~polygonal & ~(shapely.area(_areal_part(geoms)) > 0)
    if non_areal.any():
        raise InvalidGeometry(f"not an areal geometry: {_named(code_arr, non_areal)}")
    fixed, repaired = _repair(code_arr, shapely.force_2d(geoms))
    union = shapely.union_all(fixed)
    xmin, ymin, xmax, ymax = (float(v) for v in shapely.total_bounds(fixed))
    report = LayerReport(
        features=int(fixed.size),
        repaired=repaired,
        gaps=_gaps(union, min_sliver_m2, coverage),
        overlaps=_overlaps(code_arr, fixed, min_sliver_m2),
        total_area_m2=float(shapely.area(union)),
        bounds=(xmin, ymin, xmax, ymax),
    )
    return ValidatedLayer(codes=code_arr, names=name_arr, geometries=fixed, report=report)
