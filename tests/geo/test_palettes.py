"""Palettes against ColorBrewer/matplotlib tables and perceptual invariants."""

from __future__ import annotations

import itertools
import re

import matplotlib
import matplotlib._cm
import numpy as np
import pytest

from geo.errors import InvalidInput
from geo.palettes import (
    MAX_CLASSES,
    MIN_CLASSES,
    SEQUENTIAL_NAMES,
    hex_to_rgba,
    hotspot_colours,
    sequential,
)

HEX = re.compile(r"^#[0-9a-f]{6}$")


def _lightness(hex_colour: str) -> float:
    """CIELAB L* of an sRGB colour (IEC 61966-2-1 linearisation, D65 white, CIE 1976)."""
    rgb = np.array(hex_to_rgba(hex_colour)[:3]) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    luminance = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    f = (
        luminance ** (1 / 3)
        if luminance > (6 / 29) ** 3
        else luminance / (3 * (6 / 29) ** 2) + 4 / 29
    )
    return 116.0 * f - 16.0


@pytest.mark.parametrize("name", SEQUENTIAL_NAMES)
@pytest.mark.parametrize("k", range(MIN_CLASSES, MAX_CLASSES + 1))
def test_sequential_k_distinct_colours_getting_darker(name: str, k: int) -> None:
    colours = sequential(name, k)
    assert len(colours) == k
    assert all(HEX.match(c) for c in colours)
    assert len(set(colours)) == k
    lightness = [_lightness(c) for c in colours]
    assert all(a > b for a, b in itertools.pairwise(lightness)), lightness


@pytest.mark.parametrize("name", ["YlOrRd", "OrRd", "Reds", "Blues", "Purples", "Greens"])
def test_nine_class_schemes_equal_matplotlibs_colorbrewer_copy(name: str) -> None:
    # matplotlib ships the 9-class ColorBrewer tables as 0..1 floats (matplotlib/_cm.py).
    expected = [
        "#{:02x}{:02x}{:02x}".format(*(round(v * 255) for v in rgb))
        for rgb in matplotlib._cm.datad[name]
    ]
    assert sequential(name, 9) == expected


def test_published_five_class_schemes() -> None:
    # colorbrewer2.org, sequential, 5 classes (hex shown on the site's export panel).
    assert sequential("YlOrRd", 5) == ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
    assert sequential("Blues", 5) == ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]
    assert sequential("ylorrd", 3) == ["#ffeda0", "#feb24c", "#f03b20"]


@pytest.mark.parametrize("k", range(MIN_CLASSES, MAX_CLASSES + 1))
def test_viridis_samples_matplotlib_light_to_dark(k: int) -> None:
    samples = matplotlib.colormaps["viridis"](np.linspace(0.0, 1.0, k))
    expected = [matplotlib.colors.to_hex(c) for c in samples][::-1]
    assert sequential("viridis", k) == expected


def test_hotspot_colours_are_rdbu_reversed_cold_blue_hot_red() -> None:
    colours = hotspot_colours()
    assert sorted(colours) == [-3, -2, -1, 0, 1, 2, 3]
    # ColorBrewer RdBu 7 (colorbrewer2.org): b2182b ef8a62 fddbc7 f7f7f7 d1e5f0 67a9cf 2166ac
    assert colours[3] == "#b2182b" and colours[0] == "#f7f7f7" and colours[-3] == "#2166ac"
    for bin_ in (1, 2, 3):
        red, _, blue, _ = hex_to_rgba(colours[bin_])
        assert red > blue
        red, _, blue, _ = hex_to_rgba(colours[-bin_])
        assert blue > red
    # Stronger evidence is darker on both sides of the neutral middle.
    for side in (1, -1):
        lightness = [_lightness(colours[side * b]) for b in (0, 1, 2, 3)]
        assert all(a > b for a, b in itertools.pairwise(lightness))


def test_hex_to_rgba() -> None:
    assert hex_to_rgba("#ff8000") == (255, 128, 0, 255)
    assert hex_to_rgba("FF8000", alpha=10) == (255, 128, 0, 10)
    assert hex_to_rgba("#ffffff00") == (255, 255, 255, 0)
    assert hex_to_rgba("#f80") == (255, 136, 0, 255)


@pytest.mark.parametrize("bad", ["", "#12345", "#gggggg", "red", "#1234567"])
def test_hex_to_rgba_rejects_non_hex(bad: str) -> None:
    with pytest.raises(InvalidInput):
        hex_to_rgba(bad)


def test_bad_palette_requests_raise() -> None:
    with pytest.raises(InvalidInput):
        sequential("Rainbow", 5)
    for k in (2, 10, True, 5.0):
        with pytest.raises(InvalidInput):
            sequential("Blues", k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        hex_to_rgba("#000000", alpha=256)
