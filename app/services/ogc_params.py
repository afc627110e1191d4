"""OGC API - Features request parameters: CRS, bbox, datetime, paging (parsed and validated).

Kept apart from the catalogue and items logic (``app.services.ogc``) so each stays small.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from app.errors import BadRequest
from app.services.geojson import BNG, CRS84
from geo.aggregate import month_number

CONFORMANCE: tuple[str, ...] = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)
SUPPORTED_CRS: tuple[str, ...] = (CRS84, BNG)
_CRS_NAMES = {CRS84: CRS84, "CRS84": CRS84, "OGC:CRS84": CRS84, BNG: BNG, "EPSG:27700": BNG}
GRID_CELLS_M: tuple[int, ...] = (250, 500, 1000)
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
JSON = "application/json"
GEOJSON = "application/geo+json"
TRS = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"

Kind = Literal["boundaries", "counts", "hotspots"]


# -- query parameters ---------------------------------------------------------------------------


def parse_crs(text: str | None, param: str = "crs") -> str:
    """The CRS URI a ``crs``/``bbox-crs`` value names (CRS84 when absent). Raises BadRequest."""
    if text is None or not text.strip():
        return CRS84
    found = _CRS_NAMES.get(text.strip().strip("<>"))
    if found is None:
        raise BadRequest(
            f"{param} {text!r} is not supported (use one of {', '.join(SUPPORTED_CRS)})"
        )
    return found


def check_lonlat_bbox(bbox: tuple[float, float, float, float], text: str) -> None:
    """Refuse a CRS84 bbox whose numbers cannot be degrees (most often BNG metres without
    ``bbox-crs``: otherwise it would match nothing, silently)."""
    minx, miny, maxx, maxy = bbox
    if minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90:
        return
    raise BadRequest(
        f"bbox {text!r} is outside longitude -180..180 / latitude -90..90, so it is not CRS84 "
        f"degrees; for British National Grid metres add bbox-crs={BNG}"
    )


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minx,miny,maxx,maxy`` as numbers, lower corner first. Raises BadRequest."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise BadRequest(f"bbox {text!r} must be 4 comma-separated numbers") from exc
    if len(values) == 6:  # 3D form: heights ignored
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadRequest(f"bbox {text!r} must be 4 comma-separated numbers")
    minx, miny, maxx, maxy = values
    if minx > maxx or miny > maxy:
        raise BadRequest(f"bbox {text!r}: the lower corner must come first")
    return minx, miny, maxx, maxy


def _instant(text: str) -> date | None:
    """The UTC calendar day of an RFC 3339 date or date-time; None for an open end."""
    t = text.strip()
    if t in ("", ".."):
        return None
    try:
        if len(t) == 10:
            return date.fromisoformat(t)
        moment = datetime.fromisoformat(t)
    except ValueError as exc:
        raise BadRequest(f"datetime {t!r} is not an RFC 3339 date or date-time") from exc
    try:
        return (moment.astimezone(UTC) if moment.tzinfo else moment).date()
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 falls before year 1 in UTC
        raise BadRequest(f"datetime {t!r} is out of range") from exc


def parse_datetime(text: str) -> tuple[date | None, date | None]:
    """(first day, last day) of an OGC ``datetime`` instant or interval (``..`` = open)."""
    parts = text.split("/")
    if len(parts) == 1:
        day = _instant(parts[0])
        if day is None:
            raise BadRequest("datetime must be an instant or an interval start/end")
        return day, day
    if len(parts) != 2:
        raise BadRequest(f"datetime {text!r} must be one instant or one interval")
    start, end = _instant(parts[0]), _instant(parts[1])
    if start is not None and end is not None and start > end:
        raise BadRequest(f"datetime {text!r}: the interval ends before it starts")
    return start, end


def month_days(first: str | None, last: str | None) -> tuple[date | None, date | None]:
    start = date(int(first[:4]), int(first[5:7]), 1) if first else None
    end = None
    if last:
        year, month = int(last[:4]), int(last[5:7])
        end = date(year, month, calendar.monthrange(year, month)[1])
    return start, end


@dataclass(frozen=True)
class ItemsQuery:
    """The items request: paging, bbox, output CRS and the period/category counted.

    ``first``/``last`` are the months counted (``YYYY-MM``, inclusive) and ``start``/``end`` the
    same period as days (for boundary validity); all None when the request names no period.
    """

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    bbox_crs: str = CRS84
    crs: str = CRS84
    first: str | None = None
    last: str | None = None
    start: date | None = None
    end: date | None = None
    category: str | None = None

    @classmethod
    def parse(
        cls,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
        bbox: str | None = None,
        bbox_crs: str | None = None,
        crs: str | None = None,
        datetime_text: str | None = None,
        first: str | None = None,
        last: str | None = None,
        category: str | None = None,
    ) -> ItemsQuery:
        """Validate raw query values. Raises BadRequest (limit below 1, bad bbox...).

        A ``limit`` above :data:`MAX_LIMIT` is served as :data:`MAX_LIMIT` (OGC API - Features
        Part 1, requirement /req/core/fc-limit-response-1: use the maximum, no error); the
        next link carries the limit used.
        """
        if limit < 1:
            raise BadRequest("limit must be at least 1")
        limit = min(limit, MAX_LIMIT)
        if offset < 0:
            raise BadRequest("offset must not be negative")
        if bbox_crs is not None and bbox is None:
            raise BadRequest("bbox-crs needs a bbox")
        if datetime_text is not None and (first or last):
            raise BadRequest("give either datetime or from/to, not both")
        if datetime_text is not None:
            start, end = parse_datetime(datetime_text)
            first = f"{start:%Y-%m}" if start else None
            last = f"{end:%Y-%m}" if end else None
        else:
            if first and last and month_number(first) > month_number(last):
                raise BadRequest(f"from {first} is after to {last}")
            start, end = month_days(first, last)
        bounds, box_crs, out_crs = parse_bbox(bbox), parse_crs(bbox_crs, "bbox-crs"), parse_crs(crs)
        if bounds is not None and box_crs == CRS84:
            check_lonlat_bbox(bounds, str(bbox))
        return cls(
            limit, offset, bounds, box_crs, out_crs, first, last, start, end, category or None
        )
