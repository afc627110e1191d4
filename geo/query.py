"""What kind of location is a free-text query: grid reference, postcode, lat,lon or E,N?

The kinds cannot be confused: a grid reference is two letters and digits only ("SU 99417 49731",
"SU9949", "TQ"); a postcode ends with two letters ("GU1 1AA"); a pair of numbers is ``lat,lon``
in degrees when both are at most 180 in magnitude (latitude FIRST, as people type it:
"51.24,-0.58") and ``easting,northing`` in metres (EPSG:27700) when either is larger
("499417,149731"). The numbers may be separated by a comma, a semicolon or spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from geo.errors import InvalidInput, InvalidPostcode, OutsideGridExtent
from geo.gridref import parse_gridref
from geo.plausibility import LocationIssue, check_bng, check_lonlat
from geo.postcodes import normalise_postcode

__all__ = ["LocationQuery", "parse_location_query"]

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_PAIR = re.compile(rf"\s*({_NUMBER})\s*(?:[,;]|\s)\s*({_NUMBER})\s*")
_GRIDREF_SHAPE = re.compile(r"\s*[A-Za-z]{2}[\s0-9]*")
_MAX_DEGREES = 180.0
_EXAMPLES = (
    "an OS grid reference ('SU 99417 49731', 'SU9949', 'TQ'), a postcode ('GU1 1AA'), "
    "'lat,lon' in degrees ('51.24,-0.58') or 'easting,northing' in metres ('499417,149731')"
)


@dataclass(frozen=True)
class LocationQuery:
    """A recognised location query; which fields are set depends on ``kind``.

    ``gridref``: easting/northing of the square's south-west corner and ``precision_m``;
    ``en``: easting/northing (EPSG:27700 metres); ``lonlat``: lon/lat (WGS84/ETRS89 degrees);
    ``postcode``: the normalised postcode (to be looked up by the caller).
    """

    kind: Literal["gridref", "postcode", "lonlat", "en"]
    text: str
    easting: float | None = None
    northing: float | None = None
    precision_m: int | None = None
    lon: float | None = None
    lat: float | None = None
    postcode: str | None = None


def parse_location_query(text: str) -> LocationQuery:
    """Recognise a free-text location.

    Parameters
    ----------
    text : str
        E.g. ``"SU 99417 49731"``, ``"gu1 1aa"``, ``"51.24,-0.58"`` or ``"499417,149731"``.

    Returns
    -------
    LocationQuery
        The kind and its values; ``text`` is the query stripped of surrounding spaces.

    Raises
    ------
    InvalidGridReference
        Two letters and digits that are not a valid grid reference (the reason is given).
    OutsideGridExtent
        Numbers that are not in Great Britain (lat,lon) or the National Grid (easting,northing).
    InvalidInput
        Anything else, including an empty query and ``lon,lat`` typed the wrong way round.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"empty location: give {_EXAMPLES}")
    stripped = text.strip()
    pair = _PAIR.fullmatch(stripped)
    if pair:
        first, second = float(pair[1]), float(pair[2])
        if max(abs(first), abs(second)) > _MAX_DEGREES:
            return _easting_northing(stripped, first, second)
        return _lat_lon(stripped, first, second)
    if _GRIDREF_SHAPE.fullmatch(stripped):
        ref = parse_gridref(stripped)
        return LocationQuery(
            kind="gridref",
            text=stripped,
            easting=float(ref.easting),
            northing=float(ref.northing),
            precision_m=ref.precision_m,
        )
    try:
        postcode = normalise_postcode(stripped)
    except InvalidPostcode as exc:
        hint = f" ({exc.detail})" if re.search("[0-9]", stripped) else ""
        raise InvalidInput(f"{stripped!r} is not a location{hint}: give {_EXAMPLES}") from exc
    return LocationQuery(kind="postcode", text=stripped, postcode=postcode)


def _easting_northing(text: str, easting: float, northing: float) -> LocationQuery:
    issue = check_bng(np.array([easting]), np.array([northing]))[0]
    if issue != LocationIssue.OK:
        raise OutsideGridExtent(
            f"{text!r} read as easting,northing (metres, because a number exceeds 180) is outside "
            "the National Grid: easting 0-700000, northing 0-1300000"
        )
    return LocationQuery(kind="en", text=text, easting=easting, northing=northing)


def _lat_lon(text: str, lat: float, lon: float) -> LocationQuery:
    issue = check_lonlat(np.array([lon]), np.array([lat]))[0]
    if issue == LocationIssue.OK:
        return LocationQuery(kind="lonlat", text=text, lon=lon, lat=lat)
    if issue == LocationIssue.SWAPPED_LONLAT:
        raise InvalidInput(
            f"{text!r} read as lat,lon is not in Great Britain, but {lon:g},{lat:g} is: "
            "give the latitude first"
        )
    if issue == LocationIssue.ZERO:
        raise InvalidInput(f"{text!r}: 0,0 is a blank, not a location in Great Britain")
    raise OutsideGridExtent(
        f"{text!r} read as lat,lon in degrees (latitude first) is not in Great Britain"
    )
