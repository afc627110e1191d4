"""MVT encoder checked with mapbox_vector_tile's decoder and its protobuf classes."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from mapbox_vector_tile.Mapbox import vector_tile_pb2
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, shape

from geo.errors import InvalidInput
from geo.tiles.mvt import VectorLayer, encode_tile
from geo.tiles.webmercator import tile_bounds, to_mercator

Z, X, Y = 12, 2045, 1367  # the Surrey tile of the brief

# mapbox_vector_tile's own encoder (the reference) still calls shapely.ops.transform.
pytestmark = pytest.mark.filterwarnings("ignore:The 'shapely.ops.transform:DeprecationWarning")
EXTENT = 4096


def _metres(points: list[tuple[float, float]], z: int = Z, x: int = X, y: int = Y) -> list:
    """Tile coordinates (units of a 4096 grid, y down) to EPSG:3857 metres."""
    min_x, _, max_x, max_y = tile_bounds(z, x, y)
    unit = (max_x - min_x) / EXTENT
    return [(min_x + tx * unit, max_y - ty * unit) for tx, ty in points]


def _tile_units(geom: shapely.Geometry, z: int = Z, x: int = X, y: int = Y) -> shapely.Geometry:
    """The inverse of ``_metres`` for a geometry (floats, not rounded)."""
    min_x, _, max_x, max_y = tile_bounds(z, x, y)
    unit = (max_x - min_x) / EXTENT
    return shapely.transform(
        geom, lambda c: np.column_stack([(c[:, 0] - min_x) / unit, (max_y - c[:, 1]) / unit])
    )


def _decode(data: bytes) -> dict:  # type: ignore[type-arg]
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


def _raw(data: bytes) -> vector_tile_pb2.tile:
    tile = vector_tile_pb2.tile()
    tile.ParseFromString(data)
    return tile


def _ring_area(ring: list[list[int]]) -> float:
    xy = np.asarray(ring, dtype=float)
    return float(np.sum(xy[:-1, 0] * xy[1:, 1] - xy[1:, 0] * xy[:-1, 1]) / 2)


def _layer(geoms: list, **columns: np.ndarray) -> VectorLayer:  # type: ignore[type-arg]
    return VectorLayer("t", np.array(geoms, dtype=object), dict(columns))


@pytest.mark.parametrize(
    ("geom", "expected"),
    [
        # MVT 2.1 specification, section 4.3.5 "Example Geometry Encodings".
        (Point(_metres([(25, 17)])[0]), [9, 50, 34]),
        (MultiPoint(_metres([(5, 7), (3, 2)])), [17, 10, 14, 3, 9]),
        (LineString(_metres([(2, 2), (2, 10), (10, 10)])), [9, 4, 4, 18, 0, 16, 16, 0]),
        (Polygon(_metres([(3, 6), (8, 12), (20, 34)])), [9, 6, 12, 18, 10, 12, 24, 44, 15]),
    ],
)
def test_command_integers_equal_the_specification_examples(geom, expected) -> None:  # type: ignore[no-untyped-def]
    tile = _raw(encode_tile([_layer([geom])], Z, X, Y))
    assert list(tile.layers[0].features[0].geometry) == expected


def test_spec_multilinestring_and_multipolygon_examples() -> None:
    lines = shapely.MultiLineString(
        [_metres([(2, 2), (2, 10), (10, 10)]), _metres([(1, 1), (3, 5)])]
    )
    polygons = MultiPolygon(
        [
            Polygon(_metres([(0, 0), (10, 0), (10, 10), (0, 10)])),
            Polygon(
                _metres([(11, 11), (20, 11), (20, 20), (11, 20)]),
                [_metres([(13, 13), (13, 17), (17, 17), (17, 13)])],
            ),
        ]
    )
    tile = _raw(encode_tile([_layer([lines, polygons])], Z, X, Y))
    features = tile.layers[0].features
    assert list(features[0].geometry) == [9, 4, 4, 18, 0, 16, 16, 0, 9, 17, 17, 10, 4, 8]
    assert list(features[1].geometry) == [
        9, 0, 0, 26, 20, 0, 0, 20, 19, 0, 15,
        9, 22, 2, 26, 18, 0, 0, 18, 17, 0, 15,
        9, 4, 13, 26, 0, 8, 8, 0, 0, 7, 15,
    ]  # fmt: skip
    assert [f.type for f in features] == [2, 3]


def test_polygon_with_hole_round_trips_with_spec_winding() -> None:
    outer = _metres([(100, 100), (100, 1000), (1000, 1000), (1000, 100)])  # anticlockwise
    hole = _metres([(300, 300), (600, 300), (600, 600), (300, 600)])  # clockwise
    decoded = _decode(encode_tile([_layer([Polygon(outer, [hole])])], Z, X, Y))
    rings = decoded["t"]["features"][0]["geometry"]["coordinates"]
    assert _ring_area(rings[0]) == 900 * 900 and _ring_area(rings[1]) == -300 * 300
    expected = Polygon(
        [(100, 100), (1000, 100), (1000, 1000), (100, 1000)],
        [[(300, 300), (600, 300), (600, 600), (300, 600)]],
    )
    assert shapely.equals(shape(decoded["t"]["features"][0]["geometry"]), expected)


def test_properties_and_ids_round_trip_with_typed_values() -> None:
    geoms = [Point(_metres([(i * 10 + 5, 5)])[0]) for i in range(5)]
    layer = VectorLayer(
        "areas",
        np.array(geoms, dtype=object),
        {
            "code": np.array(["E05000001", "E05000002", "E05000001", "x", "é ✓"]),
            "count": np.array([3, -2, 3, 0, 2**40]),
            "rate": np.array([1.5, np.nan, 0.25, 1.5, -3.0]),
            "flag": np.array([True, False, True, True, False]),
            "mixed": np.array([None, "a", 7, 2.5, False], dtype=object),
        },
        ids=np.array([10, 11, 12, 2**63, 0], dtype=np.uint64),
    )
    data = encode_tile([layer], Z, X, Y)
    features = _decode(data)["areas"]["features"]
    assert [f["id"] for f in features] == [10, 11, 12, 2**63, 0]
    assert [f["properties"] for f in features] == [
        {"code": "E05000001", "count": 3, "rate": 1.5, "flag": True},
        {"code": "E05000002", "count": -2, "flag": False, "mixed": "a"},
        {"code": "E05000001", "count": 3, "rate": 0.25, "flag": True, "mixed": 7},
        {"code": "x", "count": 0, "rate": 1.5, "flag": True, "mixed": 2.5},
        {"code": "é ✓", "count": 2**40, "rate": -3.0, "flag": False, "mixed": False},
    ]
    raw = _raw(data).layers[0]
    assert list(raw.keys) == ["code", "count", "rate", "flag", "mixed"]
    typed = []
    for value in raw.values:
        (field, content), *others = value.ListFields()
        assert not others  # exactly one of the optional fields is set
        typed.append((field.name, content))
    assert len(typed) == len(set(typed))  # deduplicated per layer
    assert {("sint_value", -2), ("int_value", 3), ("double_value", 1.5)} <= set(typed)
    assert ("string_value", "E05000001") in typed and ("int_value", 2**40) in typed
    assert [k for k, _ in typed].count("bool_value") == 2
    assert raw.version == 2 and raw.extent == EXTENT


def test_features_are_clipped_to_the_buffer_and_far_ones_dropped() -> None:
    big = Polygon(_metres([(-5000, -5000), (9000, -5000), (9000, 9000), (-5000, 9000)]))
    inside_buffer = Point(_metres([(-60, 10)])[0])
    outside_buffer = Point(_metres([(-70, 10)])[0])
    far = Point(_metres([(50000, 10)])[0])
    decoded = _decode(encode_tile([_layer([big, inside_buffer, outside_buffer, far])], Z, X, Y))
    features = decoded["t"]["features"]
    assert len(features) == 2
    clipped = shape(features[0]["geometry"])
    assert shapely.equals(clipped, shapely.box(-64, -64, 4096 + 64, 4096 + 64))
    assert features[1]["geometry"]["coordinates"] == [-60, 10]


def test_degenerate_rings_are_dropped_after_quantisation() -> None:
    sliver = Polygon(_metres([(10, 10), (10.2, 10.1), (10.1, 10.3)]))  # collapses to one point
    flat = Polygon(_metres([(10, 10), (20, 10.2), (30, 9.9)]))  # collapses onto a line
    tiny_hole = Polygon(
        _metres([(0, 0), (100, 0), (100, 100), (0, 100)]),
        [_metres([(50, 50), (50.2, 50), (50.2, 50.2)])],
    )
    decoded = _decode(encode_tile([_layer([sliver, flat, tiny_hole])], Z, X, Y))
    features = decoded["t"]["features"]
    assert len(features) == 1
    assert features[0]["geometry"]["type"] == "Polygon"
    assert len(features[0]["geometry"]["coordinates"]) == 1  # the hole is gone


def test_empty_tile_is_empty_bytes_and_empty_layers_are_left_out() -> None:
    far = _layer([Point(_metres([(90000, 90000)])[0])])
    assert encode_tile([far], Z, X, Y) == b""
    assert _decode(b"") == {}
    near = VectorLayer("near", np.array([Point(_metres([(5, 5)])[0])], dtype=object), {})
    assert list(_decode(encode_tile([far, near], Z, X, Y))) == ["near"]
    assert encode_tile([], Z, X, Y) == b""


@settings(max_examples=60, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.integers(-63, 4159), st.integers(-63, 4159)), min_size=1, max_size=40
    )
)
def test_integer_points_and_lines_round_trip_exactly(points: list[tuple[int, int]]) -> None:
    # Strictly inside the 64-unit buffer: points exactly on the clip edge are a float coin toss.
    line_points = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    geoms = [MultiPoint(_metres(points))]
    if len(line_points) >= 2:
        geoms.append(LineString(_metres(line_points)))
    decoded = _decode(encode_tile([_layer(geoms)], Z, X, Y))["t"]["features"]
    coordinates = decoded[0]["geometry"]["coordinates"]
    if decoded[0]["geometry"]["type"] == "Point":  # the decoder unwraps a single point
        coordinates = [coordinates]
    assert [tuple(p) for p in coordinates] == points
    if len(line_points) >= 2:
        assert [tuple(p) for p in decoded[1]["geometry"]["coordinates"]] == line_points


@settings(max_examples=60, deadline=None)
@given(
    x0=st.integers(-200, 4000), y0=st.integers(-200, 4000),
    w=st.integers(1, 3000), h=st.integers(1, 3000), clockwise=st.booleans(),
)  # fmt: skip
def test_rectangles_decode_to_the_clipped_rectangle_with_positive_area(
    x0: int, y0: int, w: int, h: int, clockwise: bool
) -> None:
    corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    rect = Polygon(_metres(corners if clockwise else corners[::-1]))
    decoded = _decode(encode_tile([_layer([rect])], Z, X, Y))
    expected = shapely.clip_by_rect(shapely.box(x0, y0, x0 + w, y0 + h), -64, -64, 4160, 4160)
    if expected.is_empty:
        assert decoded == {}
        return
    geometry = decoded["t"]["features"][0]["geometry"]
    assert _ring_area(geometry["coordinates"][0]) > 0
    assert shapely.equals(shape(geometry), expected)


@pytest.fixture(scope="module")
def surrey_wards(shared_data: Path) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    pyproj.datadir.append_data_dir(str(shared_data / "proj"))
    transformer = pyproj.Transformer.from_crs(27700, 4326, always_xy=True)
    wards = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    return wards, to_mercator(wards.geometry.values, transformer.transform)


def test_real_surrey_ward_tile_matches_shapely_and_mapbox_vector_tile(surrey_wards) -> None:  # type: ignore[no-untyped-def]
    wards, merc = surrey_wards
    counts = np.arange(len(wards)) * 7 % 113
    layer = VectorLayer(
        "counts",
        merc,
        {"code": wards["WD19CD"].to_numpy(), "name": wards["WD19NM"].to_numpy(), "count": counts},
        ids=np.arange(len(wards)),
    )
    data = encode_tile([layer], Z, X, Y)
    features = _decode(data)["counts"]["features"]
    min_x, min_y, max_x, max_y = tile_bounds(Z, X, Y)
    margin = 64 * (max_x - min_x) / EXTENT
    clipped = shapely.clip_by_rect(
        merc, min_x - margin, min_y - margin, max_x + margin, max_y + margin
    )
    present = np.flatnonzero(~shapely.is_empty(clipped))
    assert sorted(f["id"] for f in features) == present.tolist() and len(present) >= 5
    reference_features = [{"geometry": clipped[i], "properties": {}, "id": int(i)} for i in present]
    reference = _decode(
        mapbox_vector_tile.encode(
            [{"name": "counts", "features": reference_features}],
            default_options={"quantize_bounds": (min_x, min_y, max_x, max_y), "extents": EXTENT},
        )
    )
    reference_by_id = {f["id"]: shape(f["geometry"]) for f in reference["counts"]["features"]}
    for feature in features:
        i = feature["id"]
        ours = shape(feature["geometry"])
        assert feature["properties"] == {
            "code": wards["WD19CD"].iloc[i], "name": wards["WD19NM"].iloc[i], "count": counts[i]
        }  # fmt: skip
        assert shapely.equals(ours, reference_by_id[i])
        # Independently: the same clip in tile units, rounded, covers the same area.
        expected = shapely.set_precision(_tile_units(clipped[i]), 1.0)
        assert ours.area == pytest.approx(expected.area, rel=2e-3)
        for polygon in getattr(ours, "geoms", [ours]):
            assert _ring_area(list(polygon.exterior.coords)) > 0
            assert all(_ring_area(list(r.coords)) < 0 for r in polygon.interiors)


@pytest.mark.parametrize(
    "make",
    [
        lambda: VectorLayer("", np.array([Point(0, 0)]), {}),
        lambda: VectorLayer("t", np.array([Point(0, 0)]), {"a": np.array([1, 2])}),
        lambda: VectorLayer("t", np.array([Point(0, 0)]), {}, ids=np.array([-1])),
        lambda: VectorLayer("t", np.array([Point(0, 0)]), {}, ids=np.array([0.5])),
    ],
)
def test_bad_layers_raise(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput):
        make()


def test_bad_tile_arguments_raise() -> None:
    layer = _layer([Point(_metres([(5, 5)])[0])], bad=np.array([object()], dtype=object))
    with pytest.raises(InvalidInput):
        encode_tile([layer], Z, X, Y)
    good = _layer([Point(_metres([(5, 5)])[0])])
    for kwargs in ({"extent": 0}, {"buffer_px": -1}, {"extent": 4096.0}):
        with pytest.raises(InvalidInput):
            encode_tile([good], Z, X, Y, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        encode_tile([good, good], Z, X, Y)
    with pytest.raises(InvalidInput):
        encode_tile([good], 12, 4096, 0)
