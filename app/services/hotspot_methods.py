"""Hotspot methods beyond the default Gi*: kernel density, local Moran's I on rates, and
emerging hotspots over months. Each returns features with the method named in ``meta``."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse
import shapely
from scipy.spatial import cKDTree

from app.errors import BadRequest
from geo.aggregate import count_by_area, count_by_area_month, month_number
from geo.emerging import emerging_hotspots
from geo.grid import CellGrid, grid_counts
from geo.hotspots import local_moran
from geo.kde import kde_grid

#: Most cells one request may analyse, and most permutation draws x cells (CPU and memory caps).
MAX_CELLS = 250_000
MAX_PERMUTATION_WORK = 50_000_000

QUADRANTS = {1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"}
MIN_EMERGING_MONTHS = 12


def check_work(n_features: int, permutations: int) -> None:
    """Refuse requests whose size would exhaust a shared server (BadRequest says how to shrink)."""
    if n_features > MAX_CELLS:
        raise BadRequest(f"{n_features:,} cells is more than {MAX_CELLS:,}: use larger cells")
    if n_features * permutations > MAX_PERMUTATION_WORK:
        most = MAX_PERMUTATION_WORK // max(n_features, 1)
        raise BadRequest(f"at most {most} permutations for {n_features:,} features")


def cell_boxes(grid: CellGrid) -> np.ndarray:
    b = grid.cell_bounds()
    return np.asarray(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]), dtype=object)


def cell_ids(grid: CellGrid) -> list[str]:
    i, j = grid.feature_ij()
    return [f"{a}_{b}" for a, b in zip(i.tolist(), j.tolist(), strict=True)]


def kde_features(
    easting: np.ndarray,
    northing: np.ndarray,
    cell_m: float,
    bandwidth_m: float,
    kernel: str,
    region: shapely.Geometry | None,
    min_support: int = 0,
) -> tuple[np.ndarray, list[dict[str, Any]], list[str], dict[str, Any]]:
    """Density per km² on the cells of the study region (cells with no density omitted).

    With ``min_support`` (public and partner views) a cell is published only when at least that
    many incidents lie within the kernel's reach of it: an isolated bump integrates to its
    incident count, so a surface shown everywhere would publish small counts with a location.
    """
    if bandwidth_m < cell_m:
        raise BadRequest(
            f"bandwidth ({bandwidth_m:g} m) must be at least the cell size ({cell_m:g} m)"
        )
    grid = grid_counts(easting, northing, cell_m, region=region)
    check_work(grid.n_features, 0)
    extent = (
        grid.i0 * cell_m,
        grid.j0 * cell_m,
        (grid.i0 + grid.mask.shape[1]) * cell_m,
        (grid.j0 + grid.mask.shape[0]) * cell_m,
    )
    surface = kde_grid(easting, northing, cell_m, bandwidth_m, kernel, extent=extent)  # type: ignore[arg-type]
    density = surface.density_per_km2[grid.mask]
    keep = density > 1e-9
    if min_support > 0:
        reach_m = bandwidth_m if kernel == "quartic" else 2.0 * bandwidth_m
        bounds = grid.cell_bounds()
        centres = np.column_stack([bounds[:, 0] + bounds[:, 2], bounds[:, 1] + bounds[:, 3]]) / 2
        keep &= _support_counts(easting, northing, centres, reach_m) >= min_support
    geoms = cell_boxes(grid)[keep]
    ids = [c for c, k in zip(cell_ids(grid), keep.tolist(), strict=True) if k]
    props = [{"density_per_km2": round(float(d), 4)} for d in density[keep].tolist()]
    meta = {
        "method": "kde",
        "method_detail": surface.method,
        "params": {"cell_m": cell_m, "bandwidth_m": bandwidth_m, "kernel": kernel},
        "units": "incidents per km2",
        "n_features": len(props),
        "cells_in_region": int(grid.mask.sum()),
    }
    if min_support == 0:  # public views publish no total beside a surface of small supports
        meta["in_analysis"] = int(grid.counts.sum())
    if min_support > 0:
        meta["suppression"] = {
            "rule": f"cells with fewer than {min_support} incidents within the kernel's reach"
            " are not published",
        }
    return geoms, props, ids, meta


def _support_counts(
    easting: np.ndarray, northing: np.ndarray, centres: np.ndarray, reach_m: float
) -> np.ndarray:
    """Incidents within ``reach_m`` of each cell centre, by exact distance (KD-tree)."""
    if len(easting) == 0:
        return np.zeros(len(centres))
    tree = cKDTree(np.column_stack([easting, northing]))
    return np.asarray(tree.query_ball_point(centres, reach_m, return_length=True), dtype=np.float64)


def local_moran_features(
    counts: np.ndarray,
    population: np.ndarray,
    queen: scipy.sparse.csr_matrix,
    permutations: int,
    seed: int | None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Local Moran's I of rates per 1,000 (areas without population are refused)."""
    if not np.all(np.isfinite(population) & (population > 0)):
        raise BadRequest("local Moran's I on rates needs a population for every area")
    rate = 1000.0 * counts / population
    r = local_moran(rate, queen, permutations, seed)
    props = []
    for i in range(len(rate)):
        sig = bool(r.q_value[i] < 0.05)
        props.append(
            {
                "count": int(counts[i]),
                "rate_per_1000": round(float(rate[i]), 4),
                "local_i": round(float(r.Is[i]), 6),
                "z": round(float(r.z[i]), 6),
                "p_value": float(r.p_value[i]),
                "q_value": float(r.q_value[i]),
                "quadrant": QUADRANTS.get(int(r.quadrant[i]), "none"),
                "cluster": QUADRANTS.get(int(r.quadrant[i]), "none") if sig else "not significant",
                **({"p_sim": float(r.p_sim[i])} if r.p_sim is not None else {}),
            }
        )
    meta = {
        "method": "local_moran",
        "method_detail": r.method + "; row-standardised queen weights; BH q; cluster at q < 0.05",
        "params": {"permutations": permutations, "seed": seed},
        "in_analysis": int(counts.sum()),
    }
    return props, meta


def month_columns(
    frame_month_no: np.ndarray, first: str, last: str, held: list[str]
) -> tuple[np.ndarray, int]:
    """Column of each incident among the months of the period the dataset holds.

    A month never loaded is unknown, not zero: it gets no slice (an empty last slice would make
    every hot spot "historical"). Returns the column per incident (-1 outside the months held)
    and the number of months held.

    Raises BadRequest when fewer than MIN_EMERGING_MONTHS months of the period are held.
    """
    lo, hi = month_number(first), month_number(last)
    if lo > hi:
        raise BadRequest(f"--from {first} is after --to {last}")
    held_no = np.unique([month_number(m) for m in held])
    held_no = held_no[(held_no >= lo) & (held_no <= hi)].astype(np.int64)
    if held_no.size < MIN_EMERGING_MONTHS:
        raise BadRequest(
            f"emerging hotspots need at least {MIN_EMERGING_MONTHS} months of data; only "
            f"{held_no.size} of the {hi - lo + 1} months {first}..{last} are held"
        )
    pos = np.searchsorted(held_no, frame_month_no)
    found = held_no[np.minimum(pos, held_no.size - 1)] == frame_month_no
    col = np.where(found, pos, -1).astype(np.int64)
    return col, int(held_no.size)


def emerging_features(
    feature_idx: np.ndarray,
    month_col: np.ndarray,
    n_features: int,
    n_months: int,
    weights_or_mask: scipy.sparse.csr_matrix | np.ndarray,
    use: np.ndarray,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Emerging hot spot category per feature from monthly counts."""
    counts = count_by_area_month(
        feature_idx, month_col, n_features, n_months, mask=use & (month_col >= 0)
    )
    r = emerging_hotspots(counts, weights_or_mask)
    props = [
        {
            "category": str(r.category[i]),
            "count": int(counts[i].sum()),
            "trend_z": round(float(r.trend_z[i]), 4),
            "trend_p": float(r.trend_p[i]),
            "months_hot": int(r.slices_hot[i]),
            "months_cold": int(r.slices_cold[i]),
        }
        for i in range(n_features)
    ]
    meta = {
        "method": "emerging",
        "method_detail": (
            "Gi* per month (queen with self, BH q < 0.05) and Mann-Kendall trend of the monthly "
            "z-scores; categories as Esri's emerging hot spot analysis (spatial neighbours only)"
        ),
        "time_slices": n_months,  # one per month held in the period
        "in_analysis": int(counts.sum()),
    }
    return props, meta


def grid_feature_index(grid: CellGrid, easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    """Feature number (row-major masked cell) of each point; -1 outside the mask or unlocated."""
    s = grid.cell_m
    ny, nx = grid.mask.shape
    numbering = np.full(grid.mask.shape, -1, dtype=np.int64)
    numbering[grid.mask] = np.arange(int(grid.mask.sum()))
    ok = np.isfinite(easting) & np.isfinite(northing)
    col = np.full(len(easting), -1, dtype=np.int64)
    row = np.full(len(easting), -1, dtype=np.int64)
    col[ok] = np.floor(easting[ok] / s).astype(np.int64) - grid.i0
    row[ok] = np.floor(northing[ok] / s).astype(np.int64) - grid.j0
    inside = ok & (col >= 0) & (col < nx) & (row >= 0) & (row < ny)
    out = np.full(len(easting), -1, dtype=np.int64)
    out[inside] = numbering[row[inside], col[inside]]
    return out


def area_counts(area_idx: np.ndarray, n: int, mask: np.ndarray) -> np.ndarray:
    return count_by_area(area_idx, n, mask=mask)
