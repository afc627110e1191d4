"""Crosswalks between boundary versions: diffs and reassigning aggregate tables.

Point data is always recounted exactly (``counts``); crosswalks are only for tables that arrive
without points (a partner's counts by 2013 ward), and every output says which method was used.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from app.errors import BadRequest, NotFound
from app.ingest.locate import to_float
from app.ingest.reader import SourceFile, read_table
from app.ingest.report import refuse_malformed
from app.services.areas import AreaCatalogue
from app.services.counts import boundary_meta
from app.services.denominators import Denominators
from app.store import Store
from app.store.records import AreaLayer
from geo.crosswalk import (
    Crosswalk,
    VersionDiff,
    area_crosswalk,
    diff_versions,
    reassign,
    weighted_crosswalk,
)

Weights = Literal["area", "population"]
#: Pieces under 1% of a source area are generalisation slivers between differently drawn layers.
POPULATION_MIN_SHARE = 0.01


@dataclass(frozen=True)
class AggregateTable:
    codes: np.ndarray
    values: np.ndarray


class Crosswalks:
    """Builds and caches crosswalks between held versions."""

    def __init__(self, store: Store, areas: AreaCatalogue, denominators: Denominators) -> None:
        self.store = store
        self.areas = areas
        self.denominators = denominators
        self._cache: dict[tuple[object, ...], Crosswalk] = {}
        self._diffs: dict[tuple[int, int], VersionDiff] = {}
        self._lock = threading.Lock()

    def get(self, from_id: int, to_id: int, weights: Weights) -> tuple[Crosswalk, str]:
        """The crosswalk and a description of its weights (cached by everything it depends on)."""
        src, dst = self.areas.layer(from_id), self.areas.layer(to_id)
        if weights == "area":
            key: tuple[object, ...] = (from_id, to_id, "area")
            note = "area-weighted"

            def build() -> Crosswalk:
                return area_crosswalk(src.geometries, dst.geometries)

        else:
            fine, year = self._finest_population(from_id)
            key = (from_id, to_id, "population", fine.version.id, year)
            note = f"population-weighted through {fine.version.selector} population {year}"

            def build() -> Crosswalk:
                weight = self._population(fine, year)
                return weighted_crosswalk(
                    src.geometries,
                    dst.geometries,
                    fine.geometries,
                    weight,
                    min_share=POPULATION_MIN_SHARE,
                )

        with self._lock:
            cw = self._cache.get(key)
        if cw is None:
            cw = build()
            with self._lock:
                self._cache[key] = cw
        return cw, note

    def _finest_population(self, from_id: int) -> tuple[AreaLayer, int]:
        """The finest population layer of the latest year that covers the from-version."""
        version = self.areas.layer(from_id).version
        try:
            year = self.denominators.covering_years(version)[-1]
        except NotFound as exc:
            raise NotFound(
                "population weights need a population layer: `atlas population import`"
            ) from exc
        pick = self.denominators.choose(version, year)
        return self.areas.layer(pick.version_id), year

    def _population(self, layer: AreaLayer, year: int) -> np.ndarray:
        table = self.store.population.get(layer.version.id, year)
        lookup = dict(zip(table.codes.tolist(), table.values.tolist(), strict=True))
        return np.array([lookup.get(c, 0.0) for c in layer.codes.tolist()], dtype=np.float64)

    def version_diff(self, from_id: int, to_id: int) -> VersionDiff:
        """How one held version's areas relate to another's (cached).

        The one classification of split, merged, redrawn, recoded, removed and unchanged areas,
        shared by ``boundaries diff`` and ``reassign``.
        """
        key = (from_id, to_id)
        with self._lock:
            found = self._diffs.get(key)
        if found is None:
            a, b = self.areas.layer(from_id), self.areas.layer(to_id)
            found = diff_versions(a.codes.tolist(), a.geometries, b.codes.tolist(), b.geometries)
            with self._lock:
                self._diffs[key] = found
        return found

    def diff(self, sel_a: str, sel_b: str) -> dict[str, Any]:
        """How version A relates to version B (pairs, unchanged, change per area)."""
        va, vb = self.areas.resolve(sel_a), self.areas.resolve(sel_b)
        d = self.version_diff(va.id, vb.id)
        return {
            "from": boundary_meta(va),
            "to": boundary_meta(vb),
            "pairs": [{"from_code": f, "to_code": t, "share": round(s, 6)} for f, t, s in d.pairs],
            "unchanged": d.unchanged,
            "changes": d.change,
            "summary": change_summary(d),
        }

    def reassign_table(
        self, table: AggregateTable, sel_from: str, sel_to: str, weights: Weights
    ) -> dict[str, Any]:
        """Move a table of values by area from one version to another, conserving the total."""
        vf, vt = self.areas.resolve(sel_from), self.areas.resolve(sel_to)
        src, dst = self.areas.layer(vf.id), self.areas.layer(vt.id)
        per_src, unknown = _align(table, src.codes)
        integer = bool(np.all(np.mod(table.values, 1) == 0))
        cw, note = self.get(vf.id, vt.id, weights)
        moved = reassign(per_src.astype(np.int64) if integer else per_src, cw, integer=integer)
        rows = [
            {"area_code": c, "area_name": n, "value": int(v) if integer else round(float(v), 6)}
            for c, n, v in zip(
                dst.codes.tolist(), dst.names.tolist(), moved.values.tolist(), strict=True
            )
        ]
        total_in = float(table.values.sum())
        return {
            "rows": rows,
            "meta": {
                "method": "crosswalk",
                "weights": note,
                "from": boundary_meta(vf),
                "to": boundary_meta(vt),
                "total_in": total_in,
                "total_out": float(np.sum(moved.values)),
                "unallocated": float(moved.unallocated),
                "unmatched_codes": unknown,
                "unmatched_total": float(sum(v for _, v in unknown)) if unknown else 0.0,
                "integer": integer,
                "changes": self._changes(vf.id, vt.id),
                "note": "aggregate input: use `atlas counts` for point data (exact recount)",
            },
        }

    def _changes(self, from_id: int, to_id: int) -> dict[str, Any]:
        """What changed between the versions, as ``boundaries diff`` classifies it."""
        d = self.version_diff(from_id, to_id)
        return {"summary": change_summary(d), "areas": d.change}


def change_summary(d: VersionDiff) -> dict[str, int]:
    """Areas of the from-version per kind of change, most frequent first."""
    return dict(Counter(d.change.values()).most_common())


def _align(table: AggregateTable, codes: np.ndarray) -> tuple[np.ndarray, list[tuple[str, float]]]:
    """Values in the layer's area order; codes the layer does not have are returned aside."""
    index = {c: i for i, c in enumerate(codes.tolist())}
    out = np.zeros(len(codes), dtype=np.float64)
    unknown: list[tuple[str, float]] = []
    seen: set[str] = set()
    for code, value in zip(table.codes.tolist(), table.values.tolist(), strict=True):
        if code in seen:
            raise BadRequest(f"area code {code!r} appears twice in the table")
        seen.add(code)
        if code in index:
            out[index[code]] = value
        else:
            unknown.append((code, value))
    if not seen - {c for c, _ in unknown}:
        raise BadRequest("no code in the table belongs to the --from boundary version")
    return out, unknown


def read_aggregate(
    path: Path | None, data: bytes | None, code_field: str, value_field: str
) -> AggregateTable:
    """An aggregate table from a CSV file or uploaded bytes."""
    source = (
        SourceFile(path.name, path.read_bytes())
        if path is not None
        else SourceFile("upload.csv", data or b"")
    )
    raw = read_table(source)
    refuse_malformed(raw.malformed)
    for name in (code_field, value_field):
        if name not in raw.columns:
            raise BadRequest(f"no column {name!r} (the table has: {', '.join(raw.header)})")
    values = to_float(raw.columns[value_field])
    if not np.isfinite(values).all() or (values < 0).any():
        bad = np.flatnonzero(~np.isfinite(values) | (values < 0))[:5] + 1
        raise BadRequest(f"values must be non-negative numbers (rows {bad.tolist()})")
    return AggregateTable(raw.columns[code_field], values)
