"""Getis–Ord Gi* hot spots on a 200 m grid over Surrey (>= 30,000 cells), with its weights.

Both sides start from the same counted grid (cell counts and the study-region mask of cells
overlapping the Surrey outline, made once, untimed) and produce Gi* z-scores including their
weights: ours is ``geo.hotspots.gi_star_grid`` (queen-with-self as 3x3 box sums restricted to
the mask; no weights matrix needed); the peer does what the PySAL workflow does: queen contiguity
on the grid's rectangle (``libpysal.weights.lat2W(rook=False)``), restricted to the masked cells
(``w_subset``), self-weights added (``fill_diagonal``) and ``esda.G_Local(star=True,
transform="B", permutations=0)``. Counting the points into cells and building the mask (ours:
``geo.grid.grid_counts``) is timed separately and reported in the notes.
"""

from __future__ import annotations

import statistics
import warnings
from typing import Any

import numpy as np

from bench.harness import CaseFailed, Context, Side, check, measure, record, timed, warm_up
from geo.grid import CellGrid, grid_counts
from geo.hotspots import HotspotResult, gi_star_grid

NAME = "gistar_grid"
TARGET = 100.0
PEER = (
    "libpysal lat2W(rook=False) + w_subset + fill_diagonal, "
    'esda.G_Local(star=True, transform="B", permutations=0)'
)
OURS = "geo.hotspots.gi_star_grid (weights included) on the counted grid"
MIN_CELLS = 30_000
TOLERANCE_Z = 1e-6


def pending() -> str | None:
    return None


def esda_gi(counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The PySAL workflow: Gi* z-scores of the masked cells (row-major, south row first)."""
    import esda  # noqa: PLC0415
    import libpysal  # noqa: PLC0415

    ny, nx = mask.shape
    ids = np.flatnonzero(mask.ravel()).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # islands and w_subset chatter
        w = libpysal.weights.lat2W(ny, nx, rook=False)
        w = libpysal.weights.w_subset(w, ids, silence_warnings=True)
        w = libpysal.weights.util.fill_diagonal(w, 1.0)
        g = esda.G_Local(counts[mask].astype(float), w, transform="B", star=True, permutations=0)
    return np.asarray(g.Zs)


def compare(ours: HotspotResult, peer_z: np.ndarray) -> dict[str, Any]:
    """Same z-score for every cell, to 1e-6."""
    diff = np.abs(ours.gi_z - peer_z)
    return check(
        ours.gi_z.shape == peer_z.shape and bool(diff.max() <= TOLERANCE_Z),
        "Gi* z-score of every masked cell",
        f"abs difference <= {TOLERANCE_Z:g}",
        max_abs_diff=float(diff.max()),
        cells=int(peer_z.size),
    )


def run(ctx: Context) -> dict[str, Any]:
    n_points, cell_m = (20_000, 1_000.0) if ctx.quick else (1_000_000, 200.0)
    e, n = ctx.inputs.points_bng(n_points, NAME)
    outline = ctx.inputs.outline
    grid: CellGrid = grid_counts(e, n, cell_m, region=outline)
    if not ctx.quick and grid.n_features < MIN_CELLS:
        raise CaseFailed(f"only {grid.n_features} cells; the case needs >= {MIN_CELLS}")
    counts, mask = grid.counts.copy(), grid.mask.copy()
    ours = Side(lambda: gi_star_grid(grid))
    peer = Side(lambda: esda_gi(counts, mask))
    t_ours, out_ours, t_peer, out_peer = warm_up(ours, peer)
    verdict = compare(out_ours, out_peer)
    timing = measure(ours, peer, t_ours, t_peer, ctx.quick)
    # Points to z-scores, counting and masking included (the peer is never charged for these).
    end_to_end = statistics.median(
        timed(lambda: gi_star_grid(grid_counts(e, n, cell_m, region=outline)))[0]
        for _ in timing.ours
    )
    notes = [
        f"{grid.n_features} cells of {cell_m:g} m overlapping the Surrey outline (a"
        f" {mask.shape[1]} x {mask.shape[0]} rectangle); {n_points:,} synthetic incidents",
        "both sides get the same counted grid and mask (untimed); each builds its own weights",
        "points to z-scores including grid_counts (counting + region mask):"
        f" {end_to_end * 1000:.3g} ms, i.e. {timing.peer_s / end_to_end:,.0f}x the peer's"
        " Gi* step alone (speedup_end_to_end)",
    ]
    return record(
        NAME,
        grid.n_features,
        PEER,
        timing,
        verdict,
        TARGET,
        notes,
        ours=OURS,
        cell_m=cell_m,
        points=n_points,
        ours_end_to_end_s=end_to_end,
        speedup_end_to_end=timing.peer_s / end_to_end,
    )
