"""Typed errors raised by the pure core.

Each carries a stable ``code`` (a slug used as the RFC 9457 ``type`` suffix and in CLI messages).
The application maps them to HTTP statuses in one table (``app.errors``).
"""

from __future__ import annotations


class GeoError(Exception):
    """Base class of every domain error raised under ``geo/``."""

    code = "geo-error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(GeoError, ValueError):
    """An argument is malformed or out of range (bad parameter, empty input, wrong shape)."""

    code = "invalid-input"


class InvalidGridReference(InvalidInput):
    """Text that is not a valid OS National Grid reference."""

    code = "invalid-grid-reference"


class InvalidPostcode(InvalidInput):
    """Text that cannot be a UK postcode."""

    code = "invalid-postcode"


class GridFileMissing(GeoError):
    """The OSTN15 transformation grid is missing or unreadable; we never fall back to Helmert."""

    code = "ostn15-grid-missing"


class OutsideGridExtent(InvalidInput):
    """A coordinate lies outside the extent a transformation or grid covers."""

    code = "outside-grid-extent"


class CRSMismatch(InvalidInput):
    """Inputs in different or unknown coordinate reference systems were mixed."""

    code = "crs-mismatch"


class InvalidGeometry(InvalidInput):
    """A geometry that is empty, not areal, or cannot be repaired."""

    code = "invalid-geometry"
