"""Legend items and the rendered legend PNG."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from geo.classify import classify
from geo.errors import InvalidInput
from geo.palettes import hex_to_rgba, hotspot_colours, sequential
from geo.tiles.legend import (
    HOTSPOT_LABELS,
    SUPPRESSED_COLOUR,
    LegendItem,
    choropleth_legend,
    hotspot_legend,
    render_legend_png,
    swatch_box,
)

COUNTS = np.array([0, 3, 5, 8, 12, 13, 20, 33, 40, 41, 55, 90, 130, np.nan])


def test_choropleth_items_follow_the_classes_and_colours() -> None:
    classification = classify(COUNTS, "fixed", breaks=[12, 40, 90])
    colours = sequential("YlOrRd", 4)
    items = choropleth_legend(classification, colours, "Crimes", suppressed=True)
    assert [i.label for i in items] == [
        "0 – 12", "13 – 40", "41 – 90", "91 – 130", "Suppressed (small numbers)", "No data",
    ]  # fmt: skip
    assert [i.colour for i in items[:4]] == colours
    assert [(i.lower, i.upper) for i in items[:4]] == [
        (0.0, 12.0), (12.0, 40.0), (40.0, 90.0), (90.0, 130.0),
    ]  # fmt: skip
    assert items[4] == LegendItem("Suppressed (small numbers)", SUPPRESSED_COLOUR, None, None)
    assert items[5] == LegendItem("No data", "#ffffff00", None, None)
    # Each class's items agree with how values are classed.
    classes = classification.classes(COUNTS)
    for value, index in zip(COUNTS[:-1], classes[:-1], strict=True):
        item = items[index]
        assert item.lower is not None and item.upper is not None
        assert (item.lower <= value if index == 0 else item.lower < value) and value <= item.upper


def test_rate_legend_uses_decimals_and_no_suppressed_item_by_default() -> None:
    rates = np.array([0.4, 1.25, 2.5, 3.75, 9.9])
    items = choropleth_legend(classify(rates, "equal_interval", 3), sequential("Blues", 3), "Rate")
    assert [i.label for i in items] == ["0.40 – 3.57", "3.57 – 6.73", "6.73 – 9.90", "No data"]


def test_hotspot_legend_lists_the_seven_gi_bins_hot_first() -> None:
    items = hotspot_legend()
    colours = hotspot_colours()
    assert [i.label for i in items] == [
        "Hot spot, 99% confidence",
        "Hot spot, 95% confidence",
        "Hot spot, 90% confidence",
        "Not significant",
        "Cold spot, 90% confidence",
        "Cold spot, 95% confidence",
        "Cold spot, 99% confidence",
    ]
    assert [i.lower for i in items] == [3.0, 2.0, 1.0, 0.0, -1.0, -2.0, -3.0]
    assert all(i.lower == i.upper for i in items)
    # Not significant is listed clear, as the hotspot tiles leave it (RdBu's grey, alpha 00).
    assert [i.colour for i in items] == [
        colours[b] + ("00" if b == 0 else "") for b in HOTSPOT_LABELS
    ]
    assert hex_to_rgba(items[3].colour)[3] == 0


@pytest.mark.parametrize("scale", [1, 2])
def test_legend_png_has_the_swatch_colours_at_the_swatch_positions(scale: int) -> None:
    items = hotspot_legend()
    image = Image.open(io.BytesIO(render_legend_png(items, "Hotspots (Gi*)", scale=scale)))
    assert image.format == "PNG"
    pixels = np.asarray(image.convert("RGBA"))
    height, width, _ = pixels.shape
    assert height >= swatch_box(len(items) - 1, scale)[3] and width > 150 * scale
    for index, item in enumerate(items):
        left, top, right, bottom = swatch_box(index, scale)
        assert right - left + 1 == 24 * scale and bottom - top + 1 == 14 * scale
        swatch = pixels[top : bottom + 1, left : right + 1]
        rgba = hex_to_rgba(item.colour)
        expected = rgba if rgba[3] == 255 else (255, 255, 255, 255)  # clear: the background
        assert (swatch == expected).all(), item.label
        # The label is drawn to the right of the swatch: some dark text pixels on that row.
        label_row = pixels[top : bottom + 1, right + 8 * scale :, :3]
        assert (label_row.max(axis=-1) < 120).any()


def test_legend_png_shows_a_transparent_no_data_swatch_as_background() -> None:
    classification = classify(COUNTS, "quantiles", 3)
    items = choropleth_legend(classification, sequential("Purples", 3), "Counts")
    pixels = np.asarray(Image.open(io.BytesIO(render_legend_png(items, "Counts"))).convert("RGBA"))
    left, top, right, bottom = swatch_box(len(items) - 1)
    assert (pixels[(top + bottom) // 2, (left + right) // 2] == (255, 255, 255, 255)).all()
    # ... and a grey frame just outside it.
    assert tuple(pixels[top - 1, left + 5]) == (150, 150, 150, 255)


def test_bad_legends_raise() -> None:
    classification = classify(COUNTS, "quantiles", 5)
    with pytest.raises(InvalidInput):
        choropleth_legend(classification, sequential("Blues", 4), "Counts")
    with pytest.raises(InvalidInput):
        choropleth_legend(classification, ["#zzzzzz"] * 5, "Counts")
    with pytest.raises(InvalidInput):
        choropleth_legend(classification, sequential("Blues", 5), " ")
    with pytest.raises(InvalidInput):
        render_legend_png([], "Empty")
    with pytest.raises(InvalidInput):
        render_legend_png(hotspot_legend(), "Hotspots", scale=0)
