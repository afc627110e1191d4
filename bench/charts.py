"""PNG charts of a run: speedup per case against its target, and time/memory against n."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from bench.report import SCALING_PNG, SPEEDUP_PNG

_MEETS, _MISSES, _TARGET = "#1b7837", "#c51b7d", "#333333"
_SIDE_STYLE = {"ours": "-", "peer": "--"}
_TASK_COLOUR = {"pip": "#2166ac", "counts": "#b35806"}


def speedup_chart(cases: list[dict[str, Any]], path: Path) -> Path:
    """Horizontal bars of speedup (log scale), each with its target marked."""
    rated = [c for c in cases if c.get("target") is not None]
    fig, ax = plt.subplots(figsize=(8, 0.6 * max(len(rated), 1) + 1.5), dpi=110)
    names = [c["name"] for c in rated]
    speedups = [c["speedup"] for c in rated]
    colours = [_MEETS if c["meets_target"] else _MISSES for c in rated]
    ax.barh(names, speedups, color=colours)
    for i, c in enumerate(rated):
        ax.plot([c["target"], c["target"]], [i - 0.4, i + 0.4], color=_TARGET, lw=2)
        label = f"{c['speedup']:,.0f}" if c["speedup"] >= 100 else f"{c['speedup']:.3g}"
        ax.annotate(f" {label}×", (c["speedup"], i), va="center", fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", lw=0.8, ls=":")
    ax.invert_yaxis()
    ax.set_xlabel("speedup = peer time / our time (log scale); black tick = target")
    ax.set_title("Atlas vs peer, same inputs, same run (green: target met, red: not met)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def scaling_chart(scaling: dict[str, Any] | None, path: Path) -> Path:
    """Two panels: median time and peak memory against n (log-log), ours solid, peer dashed."""
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    for series in (scaling or {}).get("series", []):
        n = [p["n"] for p in series["points"]]
        style = {
            "color": _TASK_COLOUR.get(series["task"], "black"),
            "ls": _SIDE_STYLE.get(series["side"], "-"),
            "marker": "o",
            "label": f"{series['task']}: {series['label']}",
        }
        ax_t.plot(n, [p["median_s"] for p in series["points"]], **style)
        ax_m.plot(n, [max(p["peak_mib"], 0.01) for p in series["points"]], **style)
    for ax, label in ((ax_t, "median wall time (s)"), (ax_m, "peak memory of one call (MiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("n (points / incidents)")
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.3)
    if ax_t.get_legend_handles_labels()[0]:
        ax_t.legend(fontsize=8)
    ax_t.set_title("Time against n (ours solid, peer dashed)")
    ax_m.set_title("Peak memory of one call above its inputs")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_charts(folder: Path, results: dict[str, Any]) -> list[Path]:
    return [
        speedup_chart(results["cases"], folder / SPEEDUP_PNG),
        scaling_chart(results.get("scaling"), folder / SCALING_PNG),
    ]
