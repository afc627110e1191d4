"""Resident population per area of one boundary version and year."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BadRequest
from app.ingest.locate import to_float
from app.ingest.reader import collect_sources, read_table
from app.ingest.report import refuse_malformed
from app.store import Store
from app.store.records import AreaLayer


def import_population(
    store: Store, layer: AreaLayer, path: Path, code_field: str, value_field: str, year: int
) -> dict[str, Any]:
    """Load a population CSV for ``layer``'s areas; report unknown codes and missing areas.

    Raises BadRequest when the columns are missing, values are not numbers, or no code matches.
    """
    if not 1800 <= year <= 2200:
        raise BadRequest(f"year {year} is not plausible")
    source = collect_sources([path], max_bytes=2**30)[0]
    table = read_table(source)
    refuse_malformed(table.malformed)
    for name in (code_field, value_field):
        if name not in table.columns:
            raise BadRequest(
                f"no column {name!r} in {path.name} (it has: {', '.join(table.header)})"
            )
    codes = table.columns[code_field]
    values = to_float(
        np.char.replace(table.columns[value_field].astype(str), ",", "").astype(object)
    )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 1).tolist()
        raise BadRequest(
            f"{int(bad.sum())} population values are not non-negative numbers (rows {rows}...)"
        )
    known = np.isin(codes, layer.codes)
    if not known.any():
        raise BadRequest(
            f"no code in {code_field!r} matches an area of {layer.version.selector} "
            f"(e.g. file has {codes[:3].tolist()}, layer has {layer.codes[:3].tolist()})"
        )
    if len(np.unique(codes[known])) != int(known.sum()):
        raise BadRequest(f"codes repeat in {code_field!r}: one population per area please")
    store.population.put(layer.version.id, year, codes[known], values[known], path.name)
    missing = layer.codes[~np.isin(layer.codes, codes)]
    return {
        "boundary": layer.version.selector,
        "year": year,
        "areas": int(known.sum()),
        "total": float(values[known].sum()),
        "unknown_codes": codes[~known].tolist()[:20],
        "unknown_code_count": int((~known).sum()),
        "areas_without_population": missing.tolist()[:20],
        "areas_without_population_count": len(missing),
    }
