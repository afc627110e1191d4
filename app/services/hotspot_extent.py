"""The extent a grid hotspot analysis covers, and the caveat when much of the data lies outside.

``--extent partnership`` (the default) is the partnership outline (without one loaded, the
bounding box of the incidents); ``data`` is the cells holding
located incidents of the selection plus their neighbours (another force's data analysed where it
is); any boundary selector (``csp:2022``, ``wards@2022-06-30``) is the union of that version's
areas. Whatever the extent, incidents outside it are not analysed, and when that is a large share
of the located ones the output says so with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from app.errors import BadRequest
from app.services.areas import AreaCatalogue
from geo.grid import occupied_region

#: Named extents; anything else is a boundary selector.
EXTENTS = ("partnership", "data")
#: Above this share of located incidents outside the analysis, a caveat gives the numbers.
OUTSIDE_SHARE_CAVEAT = 0.10


@dataclass(frozen=True)
class StudyExtent:
    """The study region (EPSG:27700; None: the bounding box of the points) and its name."""

    region: shapely.Geometry | None
    name: str


def study_extent(
    areas: AreaCatalogue,
    extent: str | None,
    easting: np.ndarray,
    northing: np.ndarray,
    cell_m: float,
) -> StudyExtent:
    """The region a grid analysis covers (``easting``/``northing``: the located incidents).

    Raises BadRequest for ``data`` without located incidents, NotFound for an unknown selector.
    """
    if extent in (None, "partnership"):
        p = areas.partnership()
        if p is not None:
            return StudyExtent(p.outline, p.version.selector)
        if extent == "partnership":
            raise BadRequest("no partnership boundary is loaded: use --extent data or SEL")
        return StudyExtent(None, "the data extent")  # no partnership: the incidents' bounding box
    if extent == "data":
        if len(easting) == 0:
            raise BadRequest("no located incidents in the selection: the data extent is empty")
        region = occupied_region(easting, northing, cell_m)
        return StudyExtent(region, "the data (cells holding incidents and their neighbours)")
    version = areas.resolve(str(extent))
    outline = shapely.union_all(areas.layer(version.id).geometries)
    return StudyExtent(outline, version.selector)


def outside_caveat(meta: dict[str, Any], located: int, exact: bool) -> str | None:
    """A caveat when more than 10% of the located incidents are not in the analysis.

    ``meta["in_analysis"]`` holds the incidents analysed; ``exact`` False (public and partner
    views) gives the share only, not the counts.
    """
    analysed = meta.get("in_analysis")
    if analysed is None or located <= 0:
        return None
    outside = located - int(analysed)
    share = outside / located
    if share <= OUTSIDE_SHARE_CAVEAT:
        return None
    counts = f"{outside:,} of {located:,} located incidents" if exact else "located incidents"
    return (
        f"{counts} ({100 * share:.0f}%) lie outside the analysed extent "
        f"({meta.get('features')}) and are not in the analysis: choose another with "
        "--extent data or --extent SEL (grid), or a boundary set that covers them (--by)"
    )
