"""How a choropleth map is coloured and labelled: classes, palette, legend and its notes.

Kept apart from :mod:`app.services.maps` (which gathers the figures and geometries) so each stays
small. Everything here works on the values of one map; nothing reads the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.classify import Classification, classify
from geo.palettes import MIN_CLASSES, hex_to_rgba, sequential
from geo.tiles.legend import LegendItem, choropleth_legend

#: Opacity of filled areas in PNG tiles.
FILL_ALPHA = 215
#: The class of a map whose every value is 0.
NO_INCIDENTS_LABEL = "No incidents"
#: The one class of a map over months none of which is held: unknown, not zero.
NOTHING_HELD_LABEL = "No data held for the period"


def palette_for(name: str, k: int) -> list[str]:
    """``k`` colours of a sequential palette, evenly picked when ``k`` is below its minimum."""
    full = sequential(name, max(k, MIN_CLASSES))
    if k >= MIN_CLASSES:
        return full
    picks = np.linspace(len(full) - 1, 0, k)[::-1].round().astype(int)
    return [full[i] for i in picks]


def whole(values: np.ndarray) -> np.ndarray:
    """Whole numbers as Python ints (None where NaN): tiles encode them as int, not double."""
    out = np.full(values.shape, None, dtype=object)
    present = np.isfinite(values)
    out[present] = values[present].astype(np.int64).tolist()
    return out


@dataclass(frozen=True)
class Classes:
    """A choropleth's styling: fill per area, class per area (None: unclassed), legend, meta."""

    fill_rgba: np.ndarray
    classes: np.ndarray
    legend: list[LegendItem]
    meta: dict[str, Any]


def _all_zero(c: Classification) -> bool:
    return c.k == 1 and float(c.breaks[0]) == 0.0 and c.minimum == 0.0


def _notes(c: Classification, all_zero: bool, hidden_below: int) -> str:
    notes = [c.note] if c.note else []
    if all_zero:
        notes.append("every area has 0: one class, drawn in the palette's lightest colour")
    elif hidden_below > 1 and c.integer_valued:
        notes.append(
            f"counts 1 – {hidden_below - 1} are suppressed (shown as Suppressed), so no class "
            "holds them and class labels skip them"
        )
    return "; ".join(notes)


def style_choropleth(
    values: np.ndarray,
    method: str,
    k: int,
    breaks: tuple[float, ...] | None,
    palette: str,
    title: str,
    hidden_below: int = 0,
    nothing_held: bool = False,
) -> Classes:
    """Classify ``values`` once and colour them (no finite value: nothing coloured, no classes).

    ``hidden_below`` is the suppression threshold of a suppressed view (0: none). A map whose
    values are all 0 gets one class, "No incidents", in the lightest colour, not the darkest
    ("No data held for the period" when ``nothing_held``: none of its months is held).
    """
    n = values.size
    if not np.isfinite(values).any():
        return Classes(np.zeros((n, 4), np.uint8), whole(np.full(n, np.nan)), [], {})
    c = classify(values, method, k, breaks)  # type: ignore[arg-type]
    all_zero = _all_zero(c)
    colours = palette_for(palette, MIN_CLASSES)[:1] if all_zero else palette_for(palette, c.k)
    cls = c.classes(values)
    table = np.array([hex_to_rgba(h, FILL_ALPHA) for h in colours], dtype=np.uint8)
    fill = np.zeros((n, 4), dtype=np.uint8)
    fill[cls >= 0] = table[cls[cls >= 0]]
    legend = choropleth_legend(
        c,
        colours,
        title,
        suppressed=hidden_below > 1,
        hidden_below=hidden_below,
        zero_label=(NOTHING_HELD_LABEL if nothing_held else NO_INCIDENTS_LABEL)
        if all_zero
        else None,
        values=values,
    )
    meta = {
        "method": c.method,
        "k": c.k,
        "breaks": c.display_breaks(),
        "note": _notes(c, all_zero, hidden_below),
    }
    return Classes(fill, whole(np.where(cls >= 0, cls, np.nan)), legend, meta)


__all__ = ["FILL_ALPHA", "Classes", "palette_for", "style_choropleth", "whole"]
