"""PNG choropleth tiles: exact pixels for hand-made shapes, real wards at their own pixels."""

from __future__ import annotations

import io
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
from PIL import Image
from shapely.geometry import LineString, MultiPolygon, Polygon, box

from geo.errors import InvalidGeometry, InvalidInput
from geo.tiles.png import render_tile
from geo.tiles.webmercator import tile_bounds, to_mercator

Z, X, Y = 12, 2045, 1367


def _pixels_to_metres(
    coords: list[tuple[float, float]], size: int = 256
) -> list[tuple[float, float]]:
    """Image pixel coordinates (y down) of tile Z/X/Y to EPSG:3857 metres."""
    min_x, _, max_x, max_y = tile_bounds(Z, X, Y)
    metres_per_px = (max_x - min_x) / size
    return [(min_x + c * metres_per_px, max_y - r * metres_per_px) for c, r in coords]


def _square(c0: float, r0: float, c1: float, r1: float, holes: list | None = None) -> Polygon:  # type: ignore[type-arg]
    ring = [(c0, r0), (c1, r0), (c1, r1), (c0, r1)]
    return Polygon(_pixels_to_metres(ring), [_pixels_to_metres(h) for h in holes or []])


def _render(geoms: list, fills: list, **kwargs) -> np.ndarray:  # type: ignore[no-untyped-def, type-arg]
    data = render_tile(
        np.array(geoms, dtype=object), np.array(fills, dtype=np.uint8), Z, X, Y, **kwargs
    )
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.mode == "RGBA"
    return np.asarray(image)


RED, BLUE = (200, 30, 30, 255), (30, 30, 200, 180)


def test_a_square_fills_exactly_the_pixels_whose_centres_it_covers() -> None:
    image = _render([_square(64, 64, 192, 192)], [RED], outline_rgba=None)
    expected = np.zeros((256, 256), dtype=bool)
    expected[64:192, 64:192] = True
    np.testing.assert_array_equal(image[..., 3] > 0, expected)
    assert (image[expected] == RED).all()
    # Edges off the pixel grid: pixel centres 10.5 .. 19.5 are inside [10.2, 20.4).
    image = _render([_square(10.2, 30.7, 20.4, 31.6)], [RED], outline_rgba=None)
    assert np.argwhere(image[..., 3] > 0).tolist() == [[31, c] for c in range(10, 20)]


def test_a_hole_stays_transparent() -> None:
    holed = _square(32, 32, 224, 224, holes=[[(96, 96), (96, 160), (160, 160), (160, 96)]])
    alpha = _render([holed], [RED], outline_rgba=None)[..., 3]
    expected = np.zeros((256, 256), dtype=bool)
    expected[32:224, 32:224] = True
    expected[96:160, 96:160] = False
    np.testing.assert_array_equal(alpha > 0, expected)


def test_each_feature_gets_its_colour_and_alpha_zero_is_not_drawn() -> None:
    parts = MultiPolygon([_square(0, 0, 50, 50), _square(200, 200, 256, 256)])
    image = _render(
        [parts, _square(100, 0, 150, 50), _square(0, 100, 50, 150)],
        [RED, BLUE, (0, 255, 0, 0)],
        outline_rgba=None,
    )
    assert tuple(image[25, 25]) == RED and tuple(image[230, 230]) == RED
    assert tuple(image[25, 125]) == BLUE
    assert tuple(image[125, 25]) == (0, 0, 0, 0)
    assert tuple(image[128, 128]) == (0, 0, 0, 0)


def test_later_features_are_drawn_on_top() -> None:
    image = _render(
        [_square(0, 0, 100, 100), _square(50, 50, 150, 150)], [RED, BLUE], outline_rgba=None
    )
    assert tuple(image[75, 75]) == BLUE and tuple(image[25, 25]) == RED


def test_outline_is_composited_over_the_fill_along_edges() -> None:
    # Edges an eighth of a pixel past grid lines: the top/left outline rows lie on filled pixels,
    # the bottom/right ones just outside the fill (centres 64.5 .. 191.5 are filled).
    image = _render([_square(64.125, 64.125, 192.125, 192.125)], [(255, 255, 255, 255)])
    # (80, 80, 80) at alpha 200 over opaque white: 80*200/255 + 255*55/255 = 117.7 -> 118.
    over_white, over_nothing = (118, 118, 118, 255), (80, 80, 80, 200)
    assert tuple(image[64, 128]) == over_white and tuple(image[128, 64]) == over_white
    assert tuple(image[192, 128]) == over_nothing and tuple(image[128, 192]) == over_nothing
    assert tuple(image[65, 128]) == (255, 255, 255, 255)
    assert tuple(image[10, 10]) == (0, 0, 0, 0)
    # A 512 px tile doubles the line: two rows of outline on each edge.
    large = _render(
        [_square(64.125, 64.125, 192.125, 192.125)], [(255, 255, 255, 255)], size_px=512
    )
    column = large[:, 256, 0]
    assert np.flatnonzero(column == 118).tolist() == [128, 129]


def test_at_2x_the_same_picture_is_drawn_at_double_resolution() -> None:
    shapes = [
        _square(64, 64, 192, 192, holes=[[(96, 96), (96, 160), (160, 160), (160, 96)]]),
        _square(200, 10, 250, 40),
    ]
    small = _render(shapes, [RED, BLUE], outline_rgba=None)
    large = _render(shapes, [RED, BLUE], outline_rgba=None, size_px=512)
    assert large.shape == (512, 512, 4)
    np.testing.assert_array_equal(large[::2, ::2], small)
    np.testing.assert_array_equal(large[1::2, 1::2], small)


@pytest.fixture(scope="module")
def wards_3857(shared_data: Path) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    pyproj.datadir.append_data_dir(str(shared_data / "proj"))
    transformer = pyproj.Transformer.from_crs(27700, 4326, always_xy=True)
    wards = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    return wards, to_mercator(wards.geometry.values, transformer.transform)


def _ward_fills(n: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    fills = rng.integers(0, 256, size=(n, 4)).astype(np.uint8)
    fills[:, 3] = 255
    return fills


def test_real_ward_tile_has_each_wards_colour_at_its_interior_pixels(wards_3857) -> None:  # type: ignore[no-untyped-def]
    wards, merc = wards_3857
    fills = _ward_fills(len(wards))
    image = np.asarray(Image.open(io.BytesIO(render_tile(merc, fills, Z, X, Y))))
    min_x, min_y, max_x, max_y = tile_bounds(Z, X, Y)
    metres_per_px = (max_x - min_x) / 256
    tile = box(min_x, min_y, max_x, max_y)
    checked = 0
    for i in np.flatnonzero(shapely.intersects(merc, tile)):
        inner = shapely.intersection(merc[i], tile).buffer(-3 * metres_per_px)
        if inner.is_empty:
            continue
        point = inner.representative_point()  # >= 3 px inside the ward: clear of outlines
        col = int((point.x - min_x) / metres_per_px)
        row = int((max_y - point.y) / metres_per_px)
        assert tuple(image[row, col]) == tuple(fills[i]), wards["WD19NM"].iloc[i]
        checked += 1
    assert checked >= 5
    assert (image[..., 3] == 255).mean() > 0.99  # Surrey wards tile this inland tile


def test_real_ward_tile_at_2x_matches_after_downsampling(wards_3857) -> None:  # type: ignore[no-untyped-def]
    _, merc = wards_3857
    fills = _ward_fills(len(merc))
    small = np.asarray(Image.open(io.BytesIO(render_tile(merc, fills, 10, 511, 341))))
    large = np.asarray(Image.open(io.BytesIO(render_tile(merc, fills, 10, 511, 341, size_px=512))))
    blocks = large.reshape(256, 2, 256, 2, 4)
    uniform = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3, 4))
    same = (blocks[:, 0, :, 0] == small).all(axis=-1)
    assert uniform.mean() > 0.8
    assert same[uniform].mean() > 0.99  # disagreements only where a boundary splits a block


def test_bad_input_raises() -> None:
    square = _square(0, 0, 10, 10)
    with pytest.raises(InvalidGeometry):
        render_tile(np.array([LineString([(0, 0), (1, 1)])]), np.zeros((1, 4), np.uint8), Z, X, Y)
    with pytest.raises(InvalidInput):
        render_tile(np.array([square]), np.zeros((1, 3), np.uint8), Z, X, Y)
    with pytest.raises(InvalidInput):
        render_tile(np.array([square]), np.full((1, 4), 300), Z, X, Y)
    with pytest.raises(InvalidInput):
        render_tile(np.array([square]), np.zeros((1, 4), np.uint8), Z, X, Y, size_px=0)
    with pytest.raises(InvalidInput):
        render_tile(np.array([square]), np.zeros((1, 4), np.uint8), 1, 5, 0)


def test_empty_and_missing_geometries_give_a_transparent_tile() -> None:
    image = _render([None, Polygon()], [RED, RED])
    assert image.shape == (256, 256, 4) and not image.any()
