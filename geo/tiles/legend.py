"""Map legends: items for ``legend.json`` and a rendered ``legend.png``.

A choropleth legend lists one item per class of the map's :class:`~geo.classify.Classification`
(computed once for the whole map, so the legend matches every tile), then "Suppressed" when small
counts were hidden and always "No data". The hotspot legend lists the seven Gi* bins from hot
(+3) to cold (-3), "Not significant" clear (``#rrggbb00``) as the tiles draw it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from geo.classify import Classification
from geo.errors import InvalidInput
from geo.palettes import hex_to_rgba, hotspot_colours
from geo.wording import tidy

#: Colour of areas whose value is suppressed (ColorBrewer Greys, mid grey).
SUPPRESSED_COLOUR = "#bdbdbd"
SUPPRESSED_LABEL = "Suppressed (small numbers)"
NO_DATA_LABEL = "No data"

#: Gi* bin -> legend label, hot first (the order of the legend).
HOTSPOT_LABELS: dict[int, str] = {
    3: "Hot spot, 99% confidence",
    2: "Hot spot, 95% confidence",
    1: "Hot spot, 90% confidence",
    0: "Not significant",
    -1: "Cold spot, 90% confidence",
    -2: "Cold spot, 95% confidence",
    -3: "Cold spot, 99% confidence",
}

# Layout of legend.png at scale 1, in pixels.
_PAD, _TITLE_H, _ROW_H, _SWATCH_W, _SWATCH_H, _GAP = 8, 22, 20, 24, 14, 8
_TITLE_PT, _LABEL_PT = 13, 12
_BACKGROUND = (255, 255, 255, 255)
_TEXT, _BORDER = (33, 33, 33, 255), (150, 150, 150, 255)
#: Pillow's bundled font (the only one sure to exist) lacks these glyphs.
_PLAIN_TEXT = str.maketrans({"–": "-", "—": "-", "≤": "<=", "≥": ">="})


@dataclass(frozen=True)
class LegendItem:
    """One legend entry.

    Attributes
    ----------
    label : str
        Text shown, e.g. ``"13 – 40"`` or ``"Hot spot, 99% confidence"``.
    colour : str
        ``#rrggbb`` or ``#rrggbbaa`` swatch colour.
    lower, upper : float or None
        Class bounds in the map's units: ``lower < value <= upper`` (the first class includes its
        lower bound); a Gi* bin has ``lower == upper == bin``; None for "No data"/"Suppressed".
    """

    label: str
    colour: str
    lower: float | None
    upper: float | None


def choropleth_legend(
    classification: Classification,
    colours: Sequence[str],
    title: str,
    no_data_colour: str = "#ffffff00",
    suppressed: bool = False,
    fmt: str | None = None,
    hidden_below: int = 0,
    zero_label: str | None = None,
    values: np.ndarray | None = None,
) -> list[LegendItem]:
    """Legend items of a choropleth map.

    Parameters
    ----------
    classification : Classification
        The map's classification (all areas).
    colours : sequence of str
        One hex colour per class, lowest class first (e.g. :func:`geo.palettes.sequential`).
    title : str
        Legend heading; checked here, carried by the caller next to the items.
    no_data_colour : str, default transparent white
        Colour of areas without a value.
    suppressed : bool, default False
        Add a "Suppressed" item (public and partner views hide counts 1–4).
    fmt : str, optional
        Number format for the labels; default whole numbers for whole-number data, otherwise
        two significant decimals (``"{:,.2f}"`` below 10, ``"{:,.1f}"`` above).
    hidden_below : int, default 0
        With suppression, whole numbers ``1 .. hidden_below - 1`` are never shown in a class:
        labels skip them (``"5 – 9"``, not ``"1 – 9"``); see ``Classification.labels``.
    zero_label : str, optional
        Label of a class holding exactly 0 (e.g. ``"No incidents"``); default the number.
    values : numpy.ndarray, optional
        The values mapped (shown ones only): labels of continuous data (rates) then give each
        class's lowest and highest value; see ``Classification.labels``.

    Returns
    -------
    list of LegendItem
        Classes lowest first, then "Suppressed" (if asked) and "No data". Bounds are rounded to
        10 significant digits (no floating-point noise); the classification stays exact.

    Raises
    ------
    InvalidInput
        ``len(colours) != classification.k``, an invalid colour or an empty title.
    """
    if not str(title).strip():
        raise InvalidInput("a legend needs a title")
    if len(colours) != classification.k:
        raise InvalidInput(f"{len(colours)} colours for {classification.k} classes")
    for colour in (*colours, no_data_colour):
        hex_to_rgba(colour)
    if fmt is None:
        small = float(classification.breaks[-1]) < 10
        fmt = "{:,.0f}" if classification.integer_valued else "{:,.2f}" if small else "{:,.1f}"
    lowers, uppers = classification.bounds()
    labels = classification.labels(fmt, hidden_below, values)
    items = [
        LegendItem(
            zero_label if zero_label and lower == upper == 0 else label,
            colour,
            tidy(lower),
            tidy(upper),
        )
        for label, colour, lower, upper in zip(labels, colours, lowers, uppers, strict=True)
    ]
    if suppressed:
        items.append(LegendItem(SUPPRESSED_LABEL, SUPPRESSED_COLOUR, None, None))
    items.append(LegendItem(NO_DATA_LABEL, no_data_colour, None, None))
    return items


def hotspot_legend() -> list[LegendItem]:
    """Legend of the Gi* hotspot bins, hot spots first.

    Returns
    -------
    list of LegendItem
        Seven items, bins +3 .. -3, coloured by :func:`geo.palettes.hotspot_colours`, with
        ``lower == upper == bin``. "Not significant" has its colour with alpha 00: hotspot
        tiles leave those features clear (they overlay a choropleth), and the legend says so.
    """
    colours = hotspot_colours()
    return [
        LegendItem(label, colours[bin_] + ("00" if bin_ == 0 else ""), float(bin_), float(bin_))
        for bin_, label in HOTSPOT_LABELS.items()
    ]


def swatch_box(index: int, scale: int = 1) -> tuple[int, int, int, int]:
    """Pixel box ``(left, top, right, bottom)`` (inclusive) of swatch ``index`` in the PNG."""
    left = _PAD * scale
    top = (_PAD + _TITLE_H + index * _ROW_H + (_ROW_H - _SWATCH_H) // 2) * scale
    return left, top, left + _SWATCH_W * scale - 1, top + _SWATCH_H * scale - 1


def render_legend_png(items: Sequence[LegendItem], title: str, scale: int = 1) -> bytes:
    """Draw a legend as a PNG: title, then one swatch and label per item.

    Text uses Pillow's bundled font, which has no en dash, so ranges read ``"13 - 40"`` here.

    Parameters
    ----------
    items : sequence of LegendItem
        Entries, drawn top to bottom; swatch ``i`` occupies :func:`swatch_box` ``(i, scale)``.
    title : str
        Heading text.
    scale : int, default 1
        Device-pixel ratio (2 for high-density screens); every size is multiplied by it.

    Returns
    -------
    bytes
        RGBA PNG on an opaque white background; translucent swatches are blended onto it.

    Raises
    ------
    InvalidInput
        No items, an invalid colour, or ``scale`` outside 1..4.
    """
    if isinstance(scale, bool) or not isinstance(scale, int) or not 1 <= scale <= 4:
        raise InvalidInput(f"scale must be an integer from 1 to 4, not {scale!r}")
    if not items:
        raise InvalidInput("a legend needs at least one item")
    fills = [hex_to_rgba(item.colour) for item in items]
    title = title.translate(_PLAIN_TEXT)
    labels = [item.label.translate(_PLAIN_TEXT) for item in items]
    title_font = ImageFont.load_default(size=_TITLE_PT * scale)
    label_font = ImageFont.load_default(size=_LABEL_PT * scale)
    text_left = (_PAD + _SWATCH_W + _GAP) * scale
    widths = [title_font.getlength(title) + _PAD * scale]
    widths += [text_left + label_font.getlength(label) for label in labels]
    width = int(max(widths)) + 2 * _PAD * scale
    height = (2 * _PAD + _TITLE_H + len(items) * _ROW_H) * scale
    swatches = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    paint = ImageDraw.Draw(swatches)
    for index, fill in enumerate(fills):
        paint.rectangle(swatch_box(index, scale), fill=fill)
    # Compositing (not drawing) onto the background blends translucent swatch colours properly.
    image = Image.alpha_composite(Image.new("RGBA", (width, height), _BACKGROUND), swatches)
    draw = ImageDraw.Draw(image)
    draw.text((_PAD * scale, _PAD * scale), title, fill=_TEXT, font=title_font)
    for index, label in enumerate(labels):
        left, top, right, bottom = swatch_box(index, scale)
        # The frame sits just outside the swatch so a transparent colour still shows a box.
        draw.rectangle((left - 1, top - 1, right + 1, bottom + 1), outline=_BORDER, width=1)
        middle = top + _SWATCH_H * scale // 2
        draw.text((text_left, middle), label, fill=_TEXT, font=label_font, anchor="lm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
