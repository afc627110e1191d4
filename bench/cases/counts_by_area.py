"""Counting ten million incidents by ward and month: one bincount vs a pandas group-by.

Inputs are what the atlas holds per incident once assigned: a ward index (int32, -1 outside
Surrey) and a month index (int32). They are resampled from the demo incidents (their real ward
and month) and spread over five years (a random year offset of 0-4 per incident), so the table
is 187 wards x 61 months with realistic skew. The peer groups the same two columns; dropping its
``area == -1`` group is left outside its timing (it is a few rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.harness import Context, Side, check, measure, record, warm_up
from geo.aggregate import count_by_area_month

NAME = "counts_by_area"
TARGET = 5.0
PEER = "pandas.DataFrame({area, month}).groupby(['area', 'month']).size()"
OURS = "geo.aggregate.count_by_area_month(area_idx, month_idx, n_areas, n_months)"
YEARS = 5


def pending() -> str | None:
    return None


def incidents(ctx: Context, n: int, salt: str = NAME) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``n`` (ward, month) pairs resampled from the demo incidents, and the table size."""
    rows = ctx.inputs.sample(n, salt)
    n_months_base = len(ctx.inputs.base.months)
    year = ctx.inputs.rng(salt + ":year").integers(0, YEARS, n).astype(np.int32)
    month = ctx.inputs.base.month[rows] + 12 * year
    area = ctx.inputs.base_ward[rows]
    n_months = 12 * (YEARS - 1) + n_months_base
    return area, month.astype(np.int32), ctx.inputs.wards.geometries.size, n_months


def dense(series: Any, n_areas: int, n_months: int) -> np.ndarray:
    """A group-by size Series (MultiIndex area, month) as an ``[n_areas, n_months]`` table."""
    area = series.index.get_level_values(0).to_numpy()
    month = series.index.get_level_values(1).to_numpy()
    keep = area >= 0
    out = np.zeros((n_areas, n_months), dtype=np.int64)
    out[area[keep], month[keep]] = series.to_numpy()[keep]
    return out


def compare(ours: np.ndarray, peer: np.ndarray) -> dict[str, Any]:
    """Integer counts: every cell of the table equal."""
    diff = np.abs(np.asarray(ours, dtype=np.int64) - peer)
    return check(
        bool((diff == 0).all()),
        "count of every (ward, month) cell",
        "exact",
        cells=int(peer.size),
        differing_cells=int((diff != 0).sum()),
        total=int(peer.sum()),
    )


def run(ctx: Context) -> dict[str, Any]:
    import pandas as pd  # noqa: PLC0415

    n = 100_000 if ctx.quick else 10_000_000
    area, month, n_areas, n_months = incidents(ctx, n)
    ours = Side(lambda: count_by_area_month(area, month, n_areas, n_months))
    peer = Side(
        lambda: pd.DataFrame({"area": area, "month": month}).groupby(["area", "month"]).size()
    )
    t_ours, out_ours, t_peer, out_peer = warm_up(ours, peer)
    verdict = compare(out_ours, dense(out_peer, n_areas, n_months))
    timing = measure(ours, peer, t_ours, t_peer, ctx.quick)
    notes = [
        f"{n_areas} wards x {n_months} months; {float(np.mean(area < 0)):.1%} of incidents outside"
        " every ward (area -1, not counted)",
        "peer_s includes building the DataFrame from the two int32 arrays",
    ]
    return record(NAME, n, PEER, timing, verdict, TARGET, notes, ours=OURS)
