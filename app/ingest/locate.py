"""Locating each row: lon/lat (OSTN15), easting/northing, OS grid reference or postcode.

The profile lists location methods in order; a row takes the first method whose columns it fills.
A supplied location that cannot be used gets a reason (rejected, or kept unlocated, by profile);
a row that supplies no location at all is an unlocated incident, kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from app.ingest.profiles import Location, Profile
from app.ingest.reader import RawTable
from app.services.geocoding import POSTCODE_PRECISION_M, Geocoder
from geo.gridref import parse_gridrefs
from geo.plausibility import LocationIssue, check_bng, check_lonlat, swap_lonlat
from geo.postcodes import normalise_postcodes

ISSUE_REASON = {
    LocationIssue.ZERO: "zero_coordinates",
    LocationIssue.SWAPPED_LONLAT: "swapped_lonlat",
    LocationIssue.OUTSIDE_GB: "outside_great_britain",
    LocationIssue.BEYOND_DISTANCE: "beyond_max_distance",
    LocationIssue.NOT_A_NUMBER: "invalid_coordinates",
}

FLAG_SWAPPED_FIXED = 4
FLAG_TERMINATED_POSTCODE = 8


@dataclass
class Located:
    """Per-row location; NaN easting/northing when unlocated."""

    easting: np.ndarray
    northing: np.ndarray
    precision_m: np.ndarray
    method: np.ndarray
    text: np.ndarray
    reason: np.ndarray
    flags: np.ndarray

    @classmethod
    def empty(cls, n: int) -> Located:
        return cls(
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.full(n, np.nan),
            np.full(n, "none", dtype=object),
            np.full(n, "", dtype=object),
            np.full(n, "", dtype=object),
            np.zeros(n, dtype=np.int64),
        )

    def set(
        self,
        rows: np.ndarray,
        e: np.ndarray,
        n: np.ndarray,
        precision: np.ndarray | float,
        method: str,
    ) -> None:
        """Fill a location for the rows selected by the boolean mask ``rows``."""
        self.easting[rows] = e[rows]
        self.northing[rows] = n[rows]
        self.precision_m[rows] = precision[rows] if isinstance(precision, np.ndarray) else precision
        self.method[rows] = method


def to_float(values: np.ndarray) -> np.ndarray:
    """float64 per string; NaN for blank or non-numeric text."""
    arr = pa.array(values, type=pa.string())
    numeric = pc.match_substring_regex(arr, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    cleaned = pc.if_else(numeric, arr, pa.scalar(None, pa.string()))
    return np.asarray(
        pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
    )


def locate(table: RawTable, profile: Profile, geocoder: Geocoder) -> Located:
    """Locate every row of ``table`` by the profile's location methods, in order."""
    out = Located.empty(table.n_rows)
    todo = np.ones(table.n_rows, dtype=bool)
    for spec in profile.locations:
        supplied = _supplied(table, spec) & todo
        if not supplied.any():
            continue
        _LOCATORS[spec.kind](table, spec, supplied, out, geocoder, profile)
        todo &= ~supplied
    return out


def _supplied(table: RawTable, spec: Location) -> np.ndarray:
    filled = np.zeros(table.n_rows, dtype=bool)
    for name in spec.source_columns():
        filled |= table.columns[name] != ""
    return filled


def _record_text(out: Located, rows: np.ndarray, *parts: np.ndarray) -> None:
    """The location as supplied (``lon,lat`` or ``easting,northing``), joined in Arrow."""
    columns = [pa.array(p, type=pa.string(), from_pandas=True) for p in parts]
    joined = pc.binary_join_element_wise(*columns, ",")
    out.text[rows] = np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)[rows]


def _issues_to_reasons(out: Located, rows: np.ndarray, issues: np.ndarray) -> np.ndarray:
    bad = rows & (issues != LocationIssue.OK)
    for issue, reason in ISSUE_REASON.items():
        out.reason[bad & (issues == issue)] = reason
    return np.asarray(rows & ~bad, dtype=bool)


def _lonlat(
    table: RawTable, spec: Location, rows: np.ndarray, out: Located, gc: Geocoder, profile: Profile
) -> None:
    assert spec.lon is not None and spec.lat is not None
    lon, lat = to_float(table.columns[spec.lon]), to_float(table.columns[spec.lat])
    _record_text(out, rows, table.columns[spec.lon], table.columns[spec.lat])
    issues = check_lonlat(lon, lat)
    swapped = rows & (issues == LocationIssue.SWAPPED_LONLAT)
    if profile.fix_swapped_lonlat and swapped.any():
        lon[swapped], lat[swapped] = swap_lonlat(lon[swapped], lat[swapped])
        issues[swapped] = LocationIssue.OK
        out.flags[swapped] |= FLAG_SWAPPED_FIXED
    good = _issues_to_reasons(out, rows, issues)
    e, n = gc.ostn15.to_bng(np.where(good, lon, np.nan), np.where(good, lat, np.nan))
    outside = good & ~np.isfinite(e)
    out.reason[outside] = "outside_great_britain"
    out.set(good & ~outside, e, n, 1.0, "lonlat")


def _en(
    table: RawTable, spec: Location, rows: np.ndarray, out: Located, _gc: Geocoder, _p: Profile
) -> None:
    assert spec.easting is not None and spec.northing is not None
    e, n = to_float(table.columns[spec.easting]), to_float(table.columns[spec.northing])
    _record_text(out, rows, table.columns[spec.easting], table.columns[spec.northing])
    good = _issues_to_reasons(out, rows, check_bng(e, n))
    out.set(good, e, n, 1.0, "easting-northing")


def _gridref(
    table: RawTable, spec: Location, rows: np.ndarray, out: Located, _gc: Geocoder, _p: Profile
) -> None:
    assert spec.gridref is not None
    texts = table.columns[spec.gridref]
    out.text[rows] = texts[rows]
    parsed = parse_gridrefs(np.where(rows, texts, ""))
    bad = rows & ~parsed.valid
    out.reason[bad] = "invalid_grid_reference"
    out.set(
        rows & parsed.valid,
        parsed.easting,
        parsed.northing,
        parsed.precision_m.astype(np.float64),
        "gridref",
    )


def _postcode(
    table: RawTable, spec: Location, rows: np.ndarray, out: Located, gc: Geocoder, _p: Profile
) -> None:
    assert spec.postcode is not None
    texts = table.columns[spec.postcode]
    out.text[rows] = texts[rows]
    normalised = normalise_postcodes(np.where(rows, texts, ""))
    out.reason[rows & (normalised == "")] = "invalid_postcode"
    hits = gc.postcodes(np.where(rows, normalised, ""))
    out.reason[rows & (normalised != "") & ~hits.found] = "unknown_postcode"
    good = rows & hits.found
    out.flags[good & (hits.terminated != None)] |= FLAG_TERMINATED_POSTCODE  # noqa: E711
    out.set(good, hits.easting, hits.northing, float(POSTCODE_PRECISION_M), "postcode")


_LOCATORS = {"lonlat": _lonlat, "en": _en, "gridref": _gridref, "postcode": _postcode}
