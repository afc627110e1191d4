"""Scaling: wall time and peak memory against n for assignment and counting, ours and the peer.

Every (task, side, n) runs in a fresh worker process (``python -m bench.scaling --worker``).
In the worker the inputs are built first (untimed, not counted) and the call is made once on
1,000 points, so lazy imports and our index build stay out of the figures. Then the warm-up call
runs under two memory probes, and ``peak_mib`` is the larger of the two (each can only
under-count): ``peak_traced_mib``, the peak of Python and numpy allocations above the start
(``tracemalloc``; blind to C libraries such as GEOS), and ``peak_rss_mib``, the resident-set
high-water mark (reset through Linux ``/proc/self/clear_refs``) minus the resident set before the
call (it includes GEOS, but misses memory the allocator reuses from freed inputs). Then the call
is timed 3 times (once when the warm-up took over 20 s, which is also slowed by tracemalloc) and
the median is reported. Quick mode (CI) runs everything in one worker.

Tasks: ``pip`` (``AreaIndex.assign`` vs ``points_from_xy`` + ``sjoin`` on the 2019 wards, the
index build excluded) and ``counts`` (``count_by_area_month`` vs pandas group-by), on the inputs
of the ``pip_surrey_wards`` and ``counts_by_area`` cases.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import SLOW_PEER_S, Context, timed

SIZES_FULL = (100_000, 1_000_000, 10_000_000)
SIZES_QUICK = (2_000, 20_000)
TASKS = (("pip", "ours"), ("pip", "peer"), ("counts", "ours"), ("counts", "peer"))
REPEATS = 3
LABELS = {
    ("pip", "ours"): "AreaIndex.assign",
    ("pip", "peer"): "points_from_xy + sjoin",
    ("counts", "ours"): "count_by_area_month",
    ("counts", "peer"): "pandas groupby.size",
}


def _status_kib(field: str) -> int | None:
    try:
        text = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) if found else None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def _peak_kib() -> int:
    hwm = _status_kib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _task(task: str, side: str, ctx: Context, n: int) -> Callable[[], Any]:
    """The call to measure, with its inputs already built."""
    if task == "pip":
        e, nn = ctx.inputs.points_bng(n, f"scaling:{n}")
        if side == "ours":
            index = ctx.inputs.ward_index
            return lambda: index.assign(e, nn)
        import geopandas as gpd  # noqa: PLC0415

        wards = gpd.GeoDataFrame(geometry=ctx.inputs.wards.geometries, crs="EPSG:27700")
        return lambda: gpd.sjoin(
            gpd.GeoDataFrame(geometry=gpd.points_from_xy(e, nn), crs=wards.crs),
            wards,
            predicate="within",
            how="left",
        )
    from bench.cases.counts_by_area import incidents  # noqa: PLC0415

    area, month, n_areas, n_months = incidents(ctx, n, f"scaling:{n}")
    if side == "ours":
        from geo.aggregate import count_by_area_month  # noqa: PLC0415

        return lambda: count_by_area_month(area, month, n_areas, n_months)
    import pandas as pd  # noqa: PLC0415

    return lambda: pd.DataFrame({"area": area, "month": month}).groupby(["area", "month"]).size()


def measure_one(task: str, side: str, ctx: Context, n: int) -> dict[str, Any]:
    """Peak memory of the warm-up call, then the median of the timed calls."""
    _task(task, side, ctx, 1_000)()  # lazy imports and one-off set-up stay out of the peak
    fn = _task(task, side, ctx, n)
    gc.collect()
    before = _status_kib("VmRSS") or 0
    exact = _reset_peak()
    tracemalloc.start()
    first_s, out = timed(fn)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_mib = max(_peak_kib() - before, 0) / 1024
    del out
    repeats = 1 if first_s > SLOW_PEER_S else REPEATS
    runs = [timed(fn)[0] for _ in range(repeats)]
    return {
        "n": n,
        "median_s": statistics.median(runs),
        "runs_s": runs,
        "warmup_s": first_s,
        "peak_mib": max(rss_mib, traced / 2**20),
        "peak_traced_mib": traced / 2**20,
        "peak_rss_mib": rss_mib,
        "rss_method": "VmHWM reset" if exact else "ru_maxrss since process start",
    }


def worker(pairs: list[tuple[str, str]], sizes: list[int], seed: int) -> list[dict[str, Any]]:
    """Measure each (task, side) at each size, in this process, in order."""
    from bench.data import Inputs  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(quick=False, inputs=Inputs(seed), workdir=Path(tmp))
        return [
            {"task": t, "side": s, **measure_one(t, s, ctx, n)} for t, s in pairs for n in sizes
        ]


def _spawn(pairs: list[tuple[str, str]], sizes: list[int], seed: int) -> list[dict[str, Any]]:
    cmd = [sys.executable, "-m", "bench.scaling", "--seed", str(seed)]
    cmd += [arg for t, s in pairs for arg in ("--task", f"{t}:{s}")] + [str(n) for n in sizes]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"scaling worker {pairs} {sizes} failed:\n{done.stderr[-2000:]}")
    points: list[dict[str, Any]] = json.loads(done.stdout)
    return points


def run(ctx: Context, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """Every (task, side, n) in its own worker process; quick mode uses one worker for all."""
    sizes = list(SIZES_QUICK if ctx.quick else SIZES_FULL)
    seed = ctx.inputs.seed
    if ctx.quick:
        progress(f"scaling: all tasks, n={sizes} (one worker)")
        points = _spawn(list(TASKS), sizes, seed)
    else:
        points = []
        for (task, side), n in ((pair, n) for pair in TASKS for n in sizes):
            progress(f"scaling {task} {side} n={n:,}")
            points += _spawn([(task, side)], [n], seed)
    series = [
        {
            "task": task,
            "side": side,
            "label": LABELS[task, side],
            "points": [
                {k: v for k, v in p.items() if k not in ("task", "side")}
                for p in points
                if (p["task"], p["side"]) == (task, side)
            ],
        }
        for task, side in TASKS
    ]
    return {"sizes": sizes, "series": series}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling")
    parser.add_argument("--task", action="append", required=True, help="TASK:SIDE, e.g. pip:ours")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("sizes", nargs="+", type=int)
    args = parser.parse_args(argv)
    pairs = [tuple(t.split(":", 1)) for t in args.task]
    if any(p not in TASKS for p in pairs):
        parser.error(f"--task must be one of {', '.join(f'{t}:{s}' for t, s in TASKS)}")
    json.dump(worker(pairs, args.sizes, args.seed), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
