"""The benchmark cases, in the order they run and are reported.

Each module has ``NAME``, ``TARGET`` (minimum speedup, or None for a case reported in absolute
terms), ``pending() -> str | None`` (why the case cannot run yet, e.g. a capability that has not
landed) and ``run(ctx) -> dict`` (one ``cases`` entry of results.json; raises
:class:`bench.harness.CaseFailed` when ours and the peer disagree).
"""

from __future__ import annotations

import importlib
from types import ModuleType

CASE_NAMES = (
    "project_lonlat",
    "ingest_police_uk",
    "ingest_pipeline",
    "pip_surrey_wards",
    "counts_by_area",
    "gistar_grid",
    "kde_grid",
    "mvt_tile",
    "tile_server_p95",
)


def load(name: str) -> ModuleType:
    """The module of case ``name``."""
    if name not in CASE_NAMES:
        raise KeyError(f"unknown case {name!r}; cases: {', '.join(CASE_NAMES)}")
    return importlib.import_module(f"bench.cases.{name}")
