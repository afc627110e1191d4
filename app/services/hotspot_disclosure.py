"""What a public or partner view of a hotspot result may show.

Counts 1-4 are hidden with secondary cells; the exact statistics (z, p, q, I...) are removed
because they would give hidden counts back; totals are withheld when they, less what is shown,
would isolate a hidden count. KDE results were thinned when computed (cells with too few
incidents within reach are left out).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from geo.disclosure import suppression_mask, total_is_safe

if TYPE_CHECKING:
    from app.services.hotspots import HotspotOutput

#: Per-feature statistics that are exact functions of the counts (linear, or monotone in such a
#: statistic): published for every feature they let hidden counts be solved back, so public and
#: partner views get the bins, clusters and categories only.
EXACT_STATISTICS = ("gi_z", "p_value", "q_value", "p_sim", "local_i", "z", "trend_z", "trend_p")


def suppress_hotspots(out: HotspotOutput, threshold: int) -> None:
    """A public or partner view of a hotspot result: small counts hidden (with secondary cells,
    or as the whole geography hides them for a part of it), exact statistics removed, unsafe
    totals withheld."""
    if out.meta.get("method") == "kde":
        return  # cells without enough incidents within reach were left out when computed
    for p in out.properties:
        for key in EXACT_STATISTICS:
            p.pop(key, None)
    counts = np.array([p.get("count", 0) for p in out.properties], dtype=np.int64)
    if out.whole is None:
        hide = suppression_mask(counts, threshold)
        safe_total = total_is_safe(counts, hide, threshold)
    else:
        # A part of a geography hides what the whole table hides, and its total only when
        # nothing of it is hidden (else total less shown cells = the hidden ones).
        whole, keep = out.whole
        hide = suppression_mask(whole, threshold)[keep]
        safe_total = not hide.any()
    for i in np.flatnonzero(hide).tolist():
        out.properties[i]["count"] = None
        if "rate_per_1000" in out.properties[i]:
            out.properties[i]["rate_per_1000"] = None
    _suppress_totals(out.meta, safe_total, threshold)
    out.meta["suppression"] = {
        "threshold": threshold,
        "cells_hidden": int(hide.sum()),
        "rule": f"counts 1-{threshold - 1} hidden with secondary cells; z-scores and p/q values"
        " are not published (they would give hidden counts back), only hotspot bins and"
        " categories",
    }


def _suppress_totals(meta: dict[str, Any], safe_total: bool, threshold: int) -> None:
    """Totals in the metadata follow the same rule as the cells. The incidents outside the
    analysis (selected less unlocated less analysed) are a count too: small, the totals go."""
    if not safe_total:
        meta["in_analysis"] = meta["incidents"] = None
    outside = _outside(meta)
    if any(0 < v < threshold for v in (meta.get("unlocated") or 0, outside)):
        meta["unlocated"] = meta["incidents"] = meta["in_analysis"] = None


def _outside(meta: dict[str, Any]) -> int:
    names = ("incidents", "unlocated", "in_analysis")
    incidents, unlocated, analysed = (meta.get(k) for k in names)
    if incidents is None or unlocated is None or analysed is None:
        return 0
    return int(incidents) - int(unlocated) - int(analysed)
