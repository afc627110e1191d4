"""Colour-blind-safe palettes for choropleth maps and Gi* hotspot bins.

Sequential schemes are copied verbatim from Cynthia Brewer's ColorBrewer tables
(axismaps/colorbrewer, ``colorbrewer_schemes.js`` @ 38def9436c5d43e418e4d78f9670075682ea7f87;
www.ColorBrewer.org, Apache License 2.0). "This product includes color specifications and designs
developed by Cynthia Brewer (http://colorbrewer.org/)." Every ColorBrewer scheme listed here is
flagged colour-blind safe in those tables. ``viridis`` (van der Walt & Smith, matplotlib, CC0) is
sampled at ``k`` evenly spaced points of matplotlib's 256-entry table,
``matplotlib.colormaps["viridis"](np.linspace(0, 1, k))``; it is perceptually uniform and
colour-blind friendly by construction.

The hotspot palette is ColorBrewer RdBu with 7 classes, reversed so that blue is cold (-3) and red
is hot (+3), with the neutral light grey for bin 0 ("not significant").
"""

from __future__ import annotations

from geo.errors import InvalidInput

#: Smallest and largest number of classes every sequential scheme offers.
MIN_CLASSES = 3
MAX_CLASSES = 9

_SEQUENTIAL: dict[str, dict[int, tuple[str, ...]]] = {
    "OrRd": {
        3: ("#fee8c8", "#fdbb84", "#e34a33"),
        4: ("#fef0d9", "#fdcc8a", "#fc8d59", "#d7301f"),
        5: ("#fef0d9", "#fdcc8a", "#fc8d59", "#e34a33", "#b30000"),
        6: ("#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#e34a33", "#b30000"),
        7: ("#fef0d9", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000"),
        8: ("#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#990000"),
        9: (
            "#fff7ec",
            "#fee8c8",
            "#fdd49e",
            "#fdbb84",
            "#fc8d59",
            "#ef6548",
            "#d7301f",
            "#b30000",
            "#7f0000",
        ),
    },
    "Reds": {
        3: ("#fee0d2", "#fc9272", "#de2d26"),
        4: ("#fee5d9", "#fcae91", "#fb6a4a", "#cb181d"),
        5: ("#fee5d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"),
        6: ("#fee5d9", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"),
        7: ("#fee5d9", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#99000d"),
        8: ("#fff5f0", "#fee0d2", "#fcbba1", "#fc9272", "#fb6a4a", "#ef3b2c", "#cb181d", "#99000d"),
        9: (
            "#fff5f0",
            "#fee0d2",
            "#fcbba1",
            "#fc9272",
            "#fb6a4a",
            "#ef3b2c",
            "#cb181d",
            "#a50f15",
            "#67000d",
        ),
    },
    "Greens": {
        3: ("#e5f5e0", "#a1d99b", "#31a354"),
        4: ("#edf8e9", "#bae4b3", "#74c476", "#238b45"),
        5: ("#edf8e9", "#bae4b3", "#74c476", "#31a354", "#006d2c"),
        6: ("#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#31a354", "#006d2c"),
        7: ("#edf8e9", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"),
        8: ("#f7fcf5", "#e5f5e0", "#c7e9c0", "#a1d99b", "#74c476", "#41ab5d", "#238b45", "#005a32"),
        9: (
            "#f7fcf5",
            "#e5f5e0",
            "#c7e9c0",
            "#a1d99b",
            "#74c476",
            "#41ab5d",
            "#238b45",
            "#006d2c",
            "#00441b",
        ),
    },
    "Purples": {
        3: ("#efedf5", "#bcbddc", "#756bb1"),
        4: ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#6a51a3"),
        5: ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"),
        6: ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#756bb1", "#54278f"),
        7: ("#f2f0f7", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"),
        8: ("#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#6a51a3", "#4a1486"),
        9: (
            "#fcfbfd",
            "#efedf5",
            "#dadaeb",
            "#bcbddc",
            "#9e9ac8",
            "#807dba",
            "#6a51a3",
            "#54278f",
            "#3f007d",
        ),
    },
    "YlOrRd": {
        3: ("#ffeda0", "#feb24c", "#f03b20"),
        4: ("#ffffb2", "#fecc5c", "#fd8d3c", "#e31a1c"),
        5: ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"),
        6: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"),
        7: ("#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"),
        8: ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#b10026"),
        9: (
            "#ffffcc",
            "#ffeda0",
            "#fed976",
            "#feb24c",
            "#fd8d3c",
            "#fc4e2a",
            "#e31a1c",
            "#bd0026",
            "#800026",
        ),
    },
    "Blues": {
        3: ("#deebf7", "#9ecae1", "#3182bd"),
        4: ("#eff3ff", "#bdd7e7", "#6baed6", "#2171b5"),
        5: ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"),
        6: ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"),
        7: ("#eff3ff", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594"),
        8: ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#084594"),
        9: (
            "#f7fbff",
            "#deebf7",
            "#c6dbef",
            "#9ecae1",
            "#6baed6",
            "#4292c6",
            "#2171b5",
            "#08519c",
            "#08306b",
        ),
    },
    "viridis": {
        3: ("#440154", "#21918c", "#fde725"),
        4: ("#440154", "#31688e", "#35b779", "#fde725"),
        5: ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"),
        6: ("#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"),
        7: ("#440154", "#443983", "#31688e", "#21918c", "#35b779", "#90d743", "#fde725"),
        8: ("#440154", "#46327e", "#365c8d", "#277f8e", "#1fa187", "#4ac16d", "#a0da39", "#fde725"),
        9: (
            "#440154",
            "#472d7b",
            "#3b528b",
            "#2c728e",
            "#21918c",
            "#28ae80",
            "#5ec962",
            "#addc30",
            "#fde725",
        ),
    },
}

#: ColorBrewer RdBu, 7 classes, as published (red first); reversed below for Gi* bins.
_RDBU_7 = ("#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac")

#: Names accepted by :func:`sequential` (matching is case-insensitive).
SEQUENTIAL_NAMES: tuple[str, ...] = tuple(_SEQUENTIAL)

_BY_LOWER_NAME = {name.lower(): name for name in _SEQUENTIAL}


def sequential(name: str, k: int) -> list[str]:
    """Return ``k`` colours of a sequential scheme, lightest first.

    Parameters
    ----------
    name : str
        One of :data:`SEQUENTIAL_NAMES` (case-insensitive), e.g. ``"YlOrRd"``, ``"Blues"``,
        ``"viridis"``. ``viridis`` runs dark to light in matplotlib; it is returned light to dark
        here like the ColorBrewer schemes so that darker always means more.
    k : int
        Number of classes, 3 to 9.

    Returns
    -------
    list of str
        ``"#rrggbb"`` lower-case hex colours, one per class, lowest class first.

    Raises
    ------
    InvalidInput
        Unknown scheme name, or ``k`` outside 3..9.
    """
    canonical = _BY_LOWER_NAME.get(str(name).lower())
    if canonical is None:
        raise InvalidInput(f"unknown palette {name!r}; choose one of {', '.join(SEQUENTIAL_NAMES)}")
    if isinstance(k, bool) or not isinstance(k, int) or not MIN_CLASSES <= k <= MAX_CLASSES:
        raise InvalidInput(
            f"palette {canonical} has {MIN_CLASSES} to {MAX_CLASSES} classes, not {k!r}"
        )
    colours = list(_SEQUENTIAL[canonical][k])
    return colours[::-1] if canonical == "viridis" else colours


def hotspot_colours() -> dict[int, str]:
    """Colours of the Gi* hotspot bins -3..+3 (ColorBrewer RdBu, 7 classes, reversed).

    Returns
    -------
    dict of int to str
        ``{-3: dark blue (cold, 99 %), ..., 0: light grey (not significant), ..., 3: dark red}``.
    """
    return dict(zip(range(-3, 4), _RDBU_7[::-1], strict=True))


def hex_to_rgba(hex_colour: str, alpha: int = 255) -> tuple[int, int, int, int]:
    """Parse ``#rgb``, ``#rrggbb`` or ``#rrggbbaa`` into an RGBA tuple of 0..255 integers.

    Parameters
    ----------
    hex_colour : str
        Hex colour; the leading ``#`` is optional. An 8-digit colour carries its own alpha, which
        wins over ``alpha``.
    alpha : int, default 255
        Opacity 0..255 for 3- and 6-digit colours.

    Returns
    -------
    tuple of int
        ``(red, green, blue, alpha)``.

    Raises
    ------
    InvalidInput
        Not a hex colour, or ``alpha`` outside 0..255.
    """
    if isinstance(alpha, bool) or not isinstance(alpha, int) or not 0 <= alpha <= 255:
        raise InvalidInput(f"alpha must be an integer 0..255, not {alpha!r}")
    digits = str(hex_colour).strip().removeprefix("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    if len(digits) not in (6, 8) or any(ch not in "0123456789abcdefABCDEF" for ch in digits):
        raise InvalidInput(f"not a hex colour: {hex_colour!r}")
    channels = [int(digits[i : i + 2], 16) for i in range(0, len(digits), 2)]
    red, green, blue = channels[:3]
    return red, green, blue, channels[3] if len(channels) == 4 else alpha
