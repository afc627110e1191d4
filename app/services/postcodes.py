"""Loading a postcode -> grid reference lookup (ONSPD, Code-Point Open, any CSV)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BadRequest
from app.ingest.locate import to_float
from app.ingest.reader import collect_sources, read_table
from app.services.geocoding import Geocoder
from app.store.records import PostcodeTable
from geo.plausibility import LocationIssue, check_bng, check_lonlat
from geo.postcodes import normalise_postcodes


@dataclass(frozen=True)
class PostcodeFields:
    """Which columns hold what; either easting/northing or lat/lon."""

    postcode: str
    easting: str | None = None
    northing: str | None = None
    lat: str | None = None
    lon: str | None = None
    introduced: str | None = None
    terminated: str | None = None

    def validate(self) -> None:
        en = self.easting is not None and self.northing is not None
        ll = self.lat is not None and self.lon is not None
        if en == ll:
            raise BadRequest(
                "give either --easting-field and --northing-field or --lat-field and --lon-field"
            )


def import_postcodes(path: Path, fields: PostcodeFields, geocoder: Geocoder) -> dict[str, Any]:
    """Replace the postcode lookup with the file's contents; returns a load report."""
    fields.validate()
    sources = collect_sources([path], max_bytes=2**31)
    loaded: list[PostcodeTable] = []
    skipped: dict[str, int] = {"invalid_postcode": 0, "invalid_location": 0, "malformed_row": 0}
    rows = 0
    for source in sources:
        table = read_table(source)
        skipped["malformed_row"] += len(table.malformed)
        rows += len(table.malformed)
        _require(table.header, fields)
        cols = table.columns
        postcode = normalise_postcodes(cols[fields.postcode])
        e, n = _locations(cols, fields, geocoder)
        ok_pc = postcode != ""
        ok_loc = np.isfinite(e) & np.isfinite(n)
        skipped["invalid_postcode"] += int((~ok_pc).sum())
        skipped["invalid_location"] += int((ok_pc & ~ok_loc).sum())
        keep = ok_pc & ok_loc
        rows += table.n_rows
        loaded.append(
            PostcodeTable(
                postcode=postcode[keep],
                easting=np.round(e[keep]).astype(np.int64),
                northing=np.round(n[keep]).astype(np.int64),
                precision_m=np.ones(int(keep.sum()), dtype=np.int64),
                introduced=_optional(cols, fields.introduced, keep),
                terminated=_optional(cols, fields.terminated, keep),
            )
        )
    merged = _dedupe(loaded)
    count = geocoder.store.postcodes.replace(merged)
    return {
        "rows_read": rows,
        "loaded": count,
        "skipped": skipped,
        "terminated": int(sum(1 for t in merged.terminated.tolist() if t)),
    }


def _require(header: list[str], fields: PostcodeFields) -> None:
    wanted = [f for f in fields.__dict__.values() if f is not None]
    missing = [f for f in wanted if f not in header]
    if missing:
        raise BadRequest(f"columns {missing} not in the file (it has: {', '.join(header)})")


def _locations(
    cols: Mapping[str, np.ndarray], f: PostcodeFields, geocoder: Geocoder
) -> tuple[np.ndarray, np.ndarray]:
    if f.easting is not None and f.northing is not None:
        e, n = to_float(cols[f.easting]), to_float(cols[f.northing])
        bad = check_bng(e, n) != LocationIssue.OK
    else:
        assert f.lat is not None and f.lon is not None
        lon, lat = to_float(cols[f.lon]), to_float(cols[f.lat])
        bad = check_lonlat(lon, lat) != LocationIssue.OK
        e, n = geocoder.ostn15.to_bng(np.where(bad, np.nan, lon), np.where(bad, np.nan, lat))
    return np.where(bad, np.nan, e), np.where(bad, np.nan, n)


def _optional(cols: Mapping[str, np.ndarray], name: str | None, keep: np.ndarray) -> np.ndarray:
    if name is None:
        return np.full(int(keep.sum()), None, dtype=object)
    values = cols[name][keep].copy()
    values[values == ""] = None
    return np.asarray(values, dtype=object)


def _dedupe(parts: list[PostcodeTable]) -> PostcodeTable:
    """One row per postcode; a live record wins over a terminated one, then the last seen."""
    cat = {
        k: np.concatenate([getattr(p, k) for p in parts])
        for k in PostcodeTable.__dataclass_fields__
    }
    live = np.array([t is None for t in cat["terminated"].tolist()], dtype=bool)
    order = np.lexsort((np.arange(len(live)), live, cat["postcode"].astype(str)))
    keys = cat["postcode"][order].astype(str)
    last = np.append(keys[1:] != keys[:-1], True)
    pick = order[last]
    return PostcodeTable(**{k: v[pick] for k, v in cat.items()})
