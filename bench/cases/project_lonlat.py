"""lon/lat → British National Grid for a million points: our numpy OSTN15 vs PROJ (pyproj).

Both use the same OSTN15 grid file and the same pipeline (inverse hgridshift, then the National
Grid Transverse Mercator); loading the grid (ours) and creating the Transformer (peer) are
excluded, as both are done once per process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.harness import Context, Side, check, measure, record, timed, warm_up
from geo.projection import OSTN15, pyproj_reference

NAME = "project_lonlat"
TARGET = 1.0
PEER = "pyproj Transformer (PROJ pipeline: +inv +proj=hgridshift OSTN15 grid, tmerc airy)"
OURS = "geo.projection.OSTN15.load(grid).to_bng(lon, lat)"
TOLERANCE_MM = 1.0


def pending() -> str | None:
    return None


def compare(ours: tuple[np.ndarray, np.ndarray], peer: tuple[Any, Any]) -> dict[str, Any]:
    """Largest distance between the two answers must be under 1 mm; NaN/inf only together."""
    e1, n1 = (np.asarray(a, dtype=np.float64) for a in ours)
    e2, n2 = (np.asarray(a, dtype=np.float64) for a in peer)
    ok1 = np.isfinite(e1) & np.isfinite(n1)
    ok2 = np.isfinite(e2) & np.isfinite(n2)
    both = ok1 & ok2
    dist_mm = np.hypot(e1[both] - e2[both], n1[both] - n2[both]) * 1000.0
    max_mm = float(dist_mm.max()) if dist_mm.size else 0.0
    return check(
        bool((ok1 == ok2).all()) and max_mm < TOLERANCE_MM,
        "easting/northing of every point; non-finite (outside the grid) in both or neither",
        f"< {TOLERANCE_MM:g} mm",
        max_diff_mm=max_mm,
        mean_diff_mm=float(dist_mm.mean()) if dist_mm.size else 0.0,
        finite_disagreements=int((ok1 != ok2).sum()),
    )


def run(ctx: Context) -> dict[str, Any]:
    n = 20_000 if ctx.quick else 1_000_000
    lon, lat = ctx.inputs.points_lonlat(n, NAME)
    load_s, ostn = timed(lambda: OSTN15.load(ctx.inputs.grid_path))
    transformer = pyproj_reference(ctx.inputs.grid_path)
    ours = Side(lambda: ostn.to_bng(lon, lat))
    peer = Side(lambda: transformer.transform(lon, lat))
    t_ours, out_ours, t_peer, out_peer = warm_up(ours, peer)
    verdict = compare(out_ours, out_peer)
    timing = measure(ours, peer, t_ours, t_peer, ctx.quick)
    notes = [
        "synthetic points: demo incidents resampled with ±25 m jitter, lon/lat degrees",
        f"excluded from both: loading the grid ({load_s:.2f} s, ours) / creating the Transformer",
    ]
    return record(NAME, n, PEER, timing, verdict, TARGET, notes, ours=OURS, grid_load_s=load_s)
