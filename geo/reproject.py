"""Reprojecting geometry arrays to EPSG:27700 (British National Grid), refusing what cannot be.

:func:`ensure_bng` accepts any geographic or projected CRS pyproj knows. It refuses, with a reason
a user can act on: no CRS or an unknown one; CRSs that cannot be related to the grid at all
(engineering/local CRSs); coordinates outside the CRS's valid range (lon/lat beyond ±180/±90,
typically projected metres under a wrong CRS label); coordinates the transformation cannot take;
and layers that land outside Great Britain. It never falls back to a Helmert transformation when
the OSTN15 grid is missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pyproj
import shapely
from pyproj.exceptions import CRSError, ProjError
from pyproj.transformer import TransformerGroup

from geo.errors import CRSMismatch, GridFileMissing, InvalidInput, OutsideGridExtent

GeomArray = npt.NDArray[np.object_]
ToBng = Callable[[npt.NDArray[np.float64], npt.NDArray[np.float64]], tuple[Any, Any]]
Project = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]

_BNG = pyproj.CRS.from_epsg(27700)
#: Extent of the National Grid's lettered squares (metres): Great Britain and its islands.
GB_EXTENT_M = (0.0, 0.0, 700_000.0, 1_300_000.0)


def as_geometry_array(geometries: Any) -> GeomArray:
    """Return ``geometries`` as a 1-D object array of shapely geometries (None kept).

    Raises
    ------
    InvalidInput
        When an element is not a shapely geometry or None.
    """
    arr = np.asarray(geometries, dtype=object).reshape(-1)
    if not all(g is None or isinstance(g, shapely.Geometry) for g in arr):
        raise InvalidInput("geometries must be shapely geometries")
    return arr


def resolve_crs(crs: Any) -> pyproj.CRS:
    """The pyproj CRS of a layer, if it is one that can be reprojected to EPSG:27700.

    Raises
    ------
    CRSMismatch
        ``crs`` is None, unknown to pyproj, or neither geographic nor projected (an engineering
        or local CRS, a vertical CRS): such coordinates have no relation to the grid.
    """
    if crs is None:
        raise CRSMismatch("the layer has no CRS; say which one it is in (e.g. EPSG:27700)")
    try:
        source = pyproj.CRS.from_user_input(crs)
    except CRSError as exc:
        raise CRSMismatch(f"unknown CRS {crs!r}: {exc}") from exc
    if not (source.is_geographic or source.is_projected):
        raise CRSMismatch(
            f"unsupported CRS {source.name!r} ({source.type_name}): only geographic (lon/lat) "
            "or projected CRSs can be reprojected to British National Grid"
        )
    return source


def _span(xy: npt.NDArray[np.float64]) -> str:
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return f"x {lo[0]:.6g}..{hi[0]:.6g}, y {lo[1]:.6g}..{hi[1]:.6g}"


def _check_range(source: pyproj.CRS, xy: npt.NDArray[np.float64]) -> None:
    """Lon/lat of a geographic CRS must be within ±180/±90 (else the CRS label is wrong)."""
    if not source.is_geographic or xy.size == 0:
        return
    if (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all():
        return
    hint = ""
    east, north = xy[:, 0], xy[:, 1]
    if (east >= GB_EXTENT_M[0]).all() and (east <= GB_EXTENT_M[2]).all() and (north >= 0).all():
        hint = "; they look like British National Grid metres: is the layer's CRS EPSG:27700?"
    raise OutsideGridExtent(
        f"coordinates outside the valid range of {source.name} (lon/lat must lie within "
        f"±180/±90; found {_span(xy)}){hint}"
    )


def _pyproj_projection(source: pyproj.CRS) -> Project:
    try:
        with warnings.catch_warnings():
            # pyproj warns when the best operation's grid is missing; we raise instead.
            warnings.simplefilter("ignore", UserWarning)
            group = TransformerGroup(source, _BNG, always_xy=True)
    except ProjError as exc:
        raise CRSMismatch(f"no transformation from {source.name!r} to EPSG:27700: {exc}") from exc
    if not group.best_available or not group.transformers:
        raise GridFileMissing(
            f"the best transformation {source.to_string()} -> EPSG:27700 needs a grid "
            "that is not installed (OSTN15); pass to_bng"
        )
    transformer = group.transformers[0]

    def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))

    return project


def _injected(fn: ToBng) -> Project:
    def project(xy: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        easting, northing = fn(xy[:, 0].copy(), xy[:, 1].copy())
        return np.column_stack([np.asarray(easting, float), np.asarray(northing, float)])

    return project


def _check_in_gb(en: npt.NDArray[np.float64]) -> None:
    if not np.isfinite(en).all():
        raise OutsideGridExtent(
            "some coordinates lie outside the extent of the transformation to EPSG:27700 "
            "(outside Great Britain, or the layer's CRS is wrong)"
        )
    x0, y0, x1, y1 = GB_EXTENT_M
    inside = (en[:, 0] >= x0) & (en[:, 0] <= x1) & (en[:, 1] >= y0) & (en[:, 1] <= y1)
    if en.size and not inside.all():
        raise OutsideGridExtent(
            f"the layer lies outside Great Britain in EPSG:27700 ({_span(en)} metres; the "
            "National Grid covers 0..700 km east, 0..1300 km north): is the layer's CRS right?"
        )


def ensure_bng(geometries: Any, crs: Any, to_bng: ToBng | None = None) -> GeomArray:
    """Return the geometries in EPSG:27700 (British National Grid, metres), as 2-D geometries.

    Parameters
    ----------
    geometries : shapely geometries in ``crs``.
    crs : anything ``pyproj.CRS.from_user_input`` accepts (``"EPSG:4326"``, 27700, WKT, a CRS).
    to_bng : optional ``(x, y) -> (easting, northing)`` used instead of pyproj when ``crs`` is not
        already EPSG:27700; the application injects its exact OSTN15 transform here for
        ETRS89/WGS84 (lon, lat) sources.

    Raises
    ------
    CRSMismatch
        ``crs`` is None, unknown to pyproj, not geographic or projected, or has no
        transformation to EPSG:27700.
    GridFileMissing
        pyproj's best transformation to EPSG:27700 needs a grid (OSTN15) that is not installed; a
        Helmert fallback would be metres out, so we refuse (pass ``to_bng`` instead).
    OutsideGridExtent
        Lon/lat beyond ±180/±90, a coordinate the transformation cannot take (not finite), or
        one outside Great Britain after reprojection.
    """
    geoms = shapely.force_2d(as_geometry_array(geometries))
    source = resolve_crs(crs)
    xy = shapely.get_coordinates(geoms)
    if source.equals(_BNG, ignore_axis_order=True):
        _check_in_gb(xy)
        return np.asarray(geoms, dtype=object)
    _check_range(source, xy)
    project = _pyproj_projection(source) if to_bng is None else _injected(to_bng)
    en = project(xy) if xy.size else xy
    _check_in_gb(en)
    # Coordinates are replaced only once they are known to be finite: GEOS refuses rings of NaN.
    out: GeomArray = np.asarray(shapely.set_coordinates(geoms.copy(), en), dtype=object)
    return out
