"""Exact geocoding: OS grid references, postcodes (via the store's lookup) and lon/lat (OSTN15)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import BadRequest, NotFound
from app.store import Store
from geo.errors import InvalidInput, OutsideGridExtent
from geo.gridref import format_gridref
from geo.postcodes import normalise_postcodes
from geo.projection import OSTN15
from geo.query import parse_location_query

#: Postcode unit centroids locate an incident to roughly a street: stated precision in metres.
POSTCODE_PRECISION_M = 100


@dataclass(frozen=True)
class GeocodeResult:
    query: str
    easting: float
    northing: float
    gridref: str
    source: str
    precision_m: int
    lon: float
    lat: float
    note: str = ""

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if v != "" or k == "gridref"}


@dataclass(frozen=True)
class GeocodeFailure:
    """A query that could not be geocoded, and why."""

    query: str
    error: str

    def as_dict(self) -> dict[str, object]:
        return {"query": self.query, "error": self.error}


@dataclass(frozen=True)
class PostcodeHits:
    """Postcode lookup aligned with the input (NaN where not found)."""

    easting: np.ndarray
    northing: np.ndarray
    found: np.ndarray
    terminated: np.ndarray


class Geocoder:
    """Turns locations of every kind into EPSG:27700 metres, exactly (never Helmert)."""

    def __init__(self, grid_path: Path, store: Store) -> None:
        self.ostn15 = OSTN15.load(grid_path)
        self.store = store

    def postcodes(self, normalised: np.ndarray) -> PostcodeHits:
        """Look up normalised postcodes, aligned with the input ("" is never found)."""
        n = len(normalised)
        table = self.store.postcodes.lookup(normalised)
        if len(table.postcode) == 0:
            nan = np.full(n, np.nan)
            return PostcodeHits(nan, nan.copy(), np.zeros(n, bool), np.full(n, None, object))
        order = np.argsort(table.postcode)
        keys = table.postcode[order]
        pos = np.clip(np.searchsorted(keys, normalised), 0, len(keys) - 1)
        found = (keys[pos] == normalised) & (normalised != "")
        idx = order[pos]
        return PostcodeHits(
            np.where(found, table.easting[idx], np.nan),
            np.where(found, table.northing[idx], np.nan),
            found,
            _where_found(found, table.terminated[idx]),
        )

    def geocode_each(self, queries: list[str]) -> list[GeocodeResult | GeocodeFailure]:
        """Every query's result, or its failure: one bad postcode in a list does not lose the
        others. A missing grid or store still fails the whole call."""
        out: list[GeocodeResult | GeocodeFailure] = []
        for q in queries:
            try:
                out.append(self.geocode(q))
            except (BadRequest, NotFound, InvalidInput) as exc:
                out.append(GeocodeFailure(q, getattr(exc, "detail", str(exc))))
        return out

    def geocode(self, text: str) -> GeocodeResult:
        """One free-text query: grid reference, postcode, ``lat,lon`` or ``easting,northing``.

        Raises InvalidInput (unrecognised), NotFound (postcode not held) or OutsideGridExtent.
        """
        q = parse_location_query(text)
        note = ""
        if q.kind == "lonlat":
            e_arr, n_arr = self.ostn15.to_bng(np.array([q.lon]), np.array([q.lat]))
            easting, northing, precision, source = (
                float(e_arr[0]),
                float(n_arr[0]),
                1,
                "lonlat-ostn15",
            )
        elif q.kind == "postcode":
            easting, northing, note = self._postcode(q.postcode or "")
            precision, source = POSTCODE_PRECISION_M, "postcode"
        else:
            easting, northing = float(q.easting or 0.0), float(q.northing or 0.0)
            precision = int(q.precision_m or 1)
            source = "gridref" if q.kind == "gridref" else "easting-northing"
        if not (np.isfinite(easting) and np.isfinite(northing)):
            raise OutsideGridExtent(f"{text!r} lies outside the OSTN15 grid (Great Britain)")
        lon, lat = self.ostn15.to_lonlat(np.array([easting]), np.array([northing]))
        if not np.isfinite(lon[0]):
            raise OutsideGridExtent(f"{text!r} lies outside the OSTN15 grid (Great Britain)")
        return GeocodeResult(
            query=text,
            easting=round(easting, 3),
            northing=round(northing, 3),
            gridref=format_gridref(easting, northing, 10),
            source=source,
            precision_m=precision,
            lon=round(float(lon[0]), 7),
            lat=round(float(lat[0]), 7),
            note=note,
        )

    def _postcode(self, postcode: str) -> tuple[float, float, str]:
        if not postcode:
            raise InvalidInput("not a postcode")
        hits = self.postcodes(normalise_postcodes(np.array([postcode], dtype=object)))
        if not hits.found[0]:
            held = self.store.postcodes.count()
            hint = "" if held else " (no postcode lookup loaded: `atlas postcodes import`)"
            raise NotFound(f"postcode {postcode} is not in the lookup{hint}")
        note = f"terminated {hits.terminated[0]}" if hits.terminated[0] else ""
        return float(hits.easting[0]), float(hits.northing[0]), note


def _where_found(found: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(len(found), None, dtype=object)
    out[found] = values[found]
    return out
