"""Served tiles: decoded MVT content, PNG colours, TileJSON, legends, ETags that follow the data."""

from __future__ import annotations

import io
import math
from datetime import date
from pathlib import Path

import mapbox_vector_tile
import mapclassify
import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from PIL import Image

from app.access.principal import ANONYMOUS, Principal
from app.atlas import Atlas
from app.services.boundaries import BoundarySpec
from app.services.counts import CountQuery
from app.services.maps import MapSpec
from geo.projection import pyproj_reference

SURREY_Z12 = (12, 2045, 1367)
PARAMS = {"dataset": "surrey", "by": "wards:2019"}


@pytest.fixture()
def loaded(atlas: Atlas, shared_data: Path) -> Atlas:
    atlas.ingest([shared_data / "crime" / "surrey" / "2022-03-surrey-street.csv"], "surrey")
    return atlas


def tile_bounds_lonlat(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """Slippy-map tile bounds (west, south, east, north) in degrees, from the OSM formula."""
    n = 2**z

    def lat(row: int) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def wards_in_tile(atlas: Atlas, shared_data: Path) -> set[str]:
    """Independent: wards (BNG) converted with PROJ+OSTN15 whose shape meets the tile."""
    v = atlas.areas.resolve("wards:2019")
    layer = atlas.areas.layer(v.id)
    to_ll = pyproj_reference(shared_data / "proj" / "uk_os_OSTN15_NTv2_OSGBtoETRS.tif")

    def convert(c: np.ndarray) -> np.ndarray:
        lon, lat = to_ll.transform(c[:, 0], c[:, 1], direction="INVERSE")
        return np.column_stack([lon, lat])

    ll = shapely.transform(layer.geometries, convert)
    box = shapely.box(*tile_bounds_lonlat(*SURREY_Z12))
    return {str(c) for c, g in zip(layer.codes, ll, strict=True) if g.intersects(box)}


def test_mvt_tile_has_the_right_features_and_values(
    client: TestClient, loaded: Atlas, shared_data: Path
) -> None:
    z, x, y = SURREY_Z12
    resp = client.get(f"/api/v1/tiles/counts/{z}/{x}/{y}.mvt", params=PARAMS)
    assert (
        resp.status_code == 200
        and resp.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    )
    tile = mapbox_vector_tile.decode(resp.content)
    feats = tile["counts"]["features"]
    got = {f["properties"]["code"]: f["properties"] for f in feats}
    assert set(got) == wards_in_tile(loaded, shared_data)
    counts = {r["area_code"]: r for r in client.get("/api/v1/counts", params=PARAMS).json()["rows"]}
    for code, props in got.items():
        if counts[code]["count"] is None:  # suppressed in the public view: no value in the tile
            assert "count" not in props and props["label"] == "suppressed"
        else:
            assert props["count"] == counts[code]["count"] == props["value"]
    assert tile["counts"]["extent"] == 4096


def test_png_tile_is_a_choropleth_in_the_legend_colours(client: TestClient, loaded: Atlas) -> None:
    z, x, y = SURREY_Z12
    legend = client.get("/api/v1/tiles/counts/legend.json", params=PARAMS).json()
    palette = {
        tuple(int(i["colour"][k : k + 2], 16) for k in (1, 3, 5))
        for i in legend["items"]
        if len(i["colour"]) == 7
    }
    img = np.asarray(
        Image.open(
            io.BytesIO(client.get(f"/api/v1/tiles/counts/{z}/{x}/{y}.png", params=PARAMS).content)
        ).convert("RGBA")
    )
    assert img.shape == (256, 256, 4)
    opaque = img[..., 3] > 150
    colours = {tuple(c) for c in img[opaque][:, :3].tolist()}
    assert len(colours & palette) >= 2  # several classes drawn with exactly the legend's colours
    hi = np.asarray(
        Image.open(
            io.BytesIO(
                client.get(f"/api/v1/tiles/counts/{z}/{x}/{y}@2x.png", params=PARAMS).content
            )
        )
    )
    assert hi.shape[:2] == (512, 512)


def test_tilejson_carries_the_query(client: TestClient, loaded: Atlas) -> None:
    tj = client.get(
        "/api/v1/tiles/counts/tilejson.json",
        params={**PARAMS, "from": "2022-03", "category": "Burglary"},
    ).json()
    assert tj["tilejson"] == "3.0.0"
    assert "from=2022-03" in tj["tiles"][0] and "category=Burglary" in tj["tiles"][0]
    west, south, east, north = tj["bounds"]
    assert -0.9 < west < east < 0.1 and 51.0 < south < north < 51.5
    assert tj["vector_layers"][0]["id"] == "counts"


def test_etag_304_and_a_new_batch_changes_tile_and_etag(
    client: TestClient, loaded: Atlas, shared_data: Path
) -> None:
    z, x, y = SURREY_Z12
    url = f"/api/v1/tiles/counts/{z}/{x}/{y}.mvt"
    first = client.get(url, params=PARAMS)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].endswith("no-cache")
    assert client.get(url, params=PARAMS, headers={"If-None-Match": etag}).status_code == 304
    loaded.ingest([shared_data / "crime" / "surrey" / "2022-04-surrey-street.csv"], "surrey")
    second = client.get(url, params=PARAMS, headers={"If-None-Match": etag})
    assert second.status_code == 200 and second.headers["etag"] != etag
    assert second.content != first.content
    before = {
        f["properties"]["code"]: f["properties"].get("count")
        for f in mapbox_vector_tile.decode(first.content)["counts"]["features"]
    }
    after = {
        f["properties"]["code"]: f["properties"].get("count")
        for f in mapbox_vector_tile.decode(second.content)["counts"]["features"]
    }
    assert any((after[c] or 0) > (before[c] or 0) for c in before)


def test_hotspot_and_rates_layers_and_bad_tiles(client: TestClient, loaded: Atlas) -> None:
    z, x, y = SURREY_Z12
    hs = client.get(
        f"/api/v1/tiles/hotspots/{z}/{x}/{y}.mvt", params={"dataset": "surrey", "grid": 500}
    )
    feats = mapbox_vector_tile.decode(hs.content)["hotspots"]["features"]
    assert feats and all(-3 <= f["properties"]["hotspot_bin"] <= 3 for f in feats)
    rates = client.get("/api/v1/tiles/rates/legend.json", params=PARAMS).json()
    assert rates["title"].startswith("Incidents per 1,000")
    for bad in (
        "/api/v1/tiles/counts/40/0/0.mvt",
        "/api/v1/tiles/counts/3/9/9.mvt",
        "/api/v1/tiles/counts/3/1/1.gif",
    ):
        r = client.get(bad, params=PARAMS)
        assert r.status_code == 400 and r.headers["content-type"].startswith(
            "application/problem+json"
        )
    assert client.get("/api/v1/tiles/nope/1/1/1.mvt", params=PARAMS).status_code == 400


# -- hotspot layer: value, class and label like the other layers; integers as ints -----------

HOT = {"dataset": "surrey", "grid": 1000}


def test_hotspot_features_carry_value_class_and_label_of_their_legend_item(
    client: TestClient, loaded: Atlas
) -> None:
    z, x, y = SURREY_Z12
    items = client.get("/api/v1/tiles/hotspots/legend.json", params=HOT).json()["items"]
    tile = client.get(f"/api/v1/tiles/hotspots/{z}/{x}/{y}.mvt", params=HOT)
    feats = mapbox_vector_tile.decode(tile.content)["hotspots"]["features"]
    assert feats
    for f in feats:
        p = f["properties"]
        item = items[p["class"]]
        assert item["lower"] == item["upper"] == p["hotspot_bin"] == p["value"]
        assert p["label"] == item["label"]


@pytest.mark.parametrize(("layer", "params"), [("counts", PARAMS), ("hotspots", HOT)])
def test_whole_numbers_are_int_values_in_vector_tiles(
    client: TestClient, loaded: Atlas, layer: str, params: dict[str, object]
) -> None:
    z, x, y = SURREY_Z12
    tile = client.get(f"/api/v1/tiles/{layer}/{z}/{x}/{y}.mvt", params=params)
    feats = mapbox_vector_tile.decode(tile.content)[layer]["features"]
    whole = ("count", "class", "value", "hotspot_bin")
    seen = [f["properties"][k] for f in feats for k in whole if k in f["properties"]]
    assert seen and all(type(v) is int for v in seen)  # a double would decode as float
    fields = client.get(f"/api/v1/tiles/{layer}/tilejson.json", params=params).json()
    types = fields["vector_layers"][0]["fields"]
    assert types["count"] == types["class"] == types["value"] == "Number"
    assert types["label"] == "String"


@pytest.mark.parametrize("method", ["kde", "local_moran", "emerging", "nonsense"])
@pytest.mark.parametrize("route", ["legend.json", "12/2045/1367.mvt", "12/2045/1367.png"])
def test_hotspot_methods_the_tiles_do_not_draw_are_refused(
    client: TestClient, loaded: Atlas, method: str, route: str
) -> None:
    r = client.get(f"/api/v1/tiles/hotspots/{route}", params={**HOT, "method": method})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem")
    assert "gi_star" in r.json()["detail"]
    ok = client.get(f"/api/v1/tiles/hotspots/{route}", params={**HOT, "method": "gi_star"})
    assert ok.status_code == 200
    counts = client.get(f"/api/v1/tiles/counts/{route}", params={**PARAMS, "method": "gi_star"})
    assert counts.status_code == 400


def test_not_significant_cells_are_drawn_as_the_legend_says(
    client: TestClient, loaded: Atlas
) -> None:
    """The legend and the PNG agree on "Not significant": listed clear (#rrggbb00) and left
    clear (the documented choice: the hotspot overlay shows the choropleth beneath)."""
    z, x, y = SURREY_Z12
    items = client.get("/api/v1/tiles/hotspots/legend.json", params=HOT).json()["items"]
    neutral = next(i["colour"] for i in items if i["lower"] == 0)
    rgb = tuple(int(neutral[k : k + 2], 16) for k in (1, 3, 5))
    feats = mapbox_vector_tile.decode(
        client.get(f"/api/v1/tiles/hotspots/{z}/{x}/{y}.mvt", params=HOT).content
    )["hotspots"]["features"]
    assert sum(f["properties"]["hotspot_bin"] == 0 for f in feats) > len(feats) / 2
    img = np.asarray(
        Image.open(
            io.BytesIO(client.get(f"/api/v1/tiles/hotspots/{z}/{x}/{y}.png", params=HOT).content)
        ).convert("RGBA")
    )
    painted = img[img[..., 3] > 150][:, :3]
    drawn = bool((painted == rgb).all(axis=1).any())
    listed_clear = len(neutral) == 9 and neutral.lower().endswith("00")
    assert drawn != listed_clear
    assert listed_clear and (img[..., 3] == 0).mean() > 0.2
    palette = {tuple(int(i["colour"][k : k + 2], 16) for k in (1, 3, 5)) for i in items}
    assert {tuple(c) for c in painted.tolist()} <= palette


# -- legends: zero data, honest labels under suppression, tidy numbers, wording ---------------

#: ColorBrewer YlOrRd, 3 classes (colorbrewer2.org): the lightest is #ffeda0.
YLORRD_LIGHTEST = "#ffeda0"


def _classes(legend: dict[str, object]) -> list[dict[str, object]]:
    return [i for i in legend["items"] if i["lower"] is not None]  # type: ignore[attr-defined]


def test_a_map_without_incidents_is_one_light_no_incidents_class(
    client: TestClient, loaded: Atlas
) -> None:
    empty = {**PARAMS, "from": "2021-01", "to": "2021-03"}
    legend = client.get("/api/v1/tiles/counts/legend.json", params=empty).json()
    (only,) = _classes(legend)
    # None of these months is held: unknown, not zero incidents.
    assert only["label"] == "No data held for the period" and only["colour"] == YLORRD_LIGHTEST
    assert "lightest" in legend["meta"]["classification"]["note"]
    assert "no incidents in this selection" in legend["meta"]["caveats"]
    z, x, y = SURREY_Z12
    img = np.asarray(
        Image.open(
            io.BytesIO(client.get(f"/api/v1/tiles/counts/{z}/{x}/{y}.png", params=empty).content)
        ).convert("RGBA")
    )
    fills = {tuple(c) for c in img[img[..., 3] == 215][:, :3].tolist()}
    assert fills == {(0xFF, 0xED, 0xA0)}  # every area light, none the strong red #f03b20


def test_public_count_labels_never_offer_the_hidden_small_counts(
    client: TestClient, loaded: Atlas
) -> None:
    params = {**PARAMS, "category": "Bicycle theft", "classes": "equal_interval"}
    rows = client.get("/api/v1/counts", params=params).json()["rows"]
    visible = sorted({r["count"] for r in rows if r["count"] is not None})
    assert any(r.get("suppressed") for r in rows) and 0 in visible
    legend = client.get("/api/v1/tiles/counts/legend.json", params=params).json()
    # Independent: each class's label spans the whole numbers it could hold that are not 1-4.
    for item in _classes(legend):
        low, high = item["lower"], item["upper"]
        first = item is _classes(legend)[0]
        holds = [n for n in range(int(high) + 1) if (low <= n if first else low < n) and n <= high]
        shown = [n for n in holds if not 1 <= n <= 4]
        if not shown:
            assert item["label"].startswith("none shown")
            continue
        want = str(shown[0]) if shown[0] == shown[-1] else f"{shown[0]} – {shown[-1]}"
        assert item["label"] == want
    assert "1 – 4 are suppressed" in legend["meta"]["classification"]["note"]
    analyst = loaded.maps.get(
        MapSpec("counts", "surrey", "wards:2019", category="Bicycle theft"),
        Principal(id="a", role="analyst"),
    )
    assert "suppressed" not in analyst.meta["classification"]["note"]


def test_breaks_in_json_carry_no_float_noise(client: TestClient, loaded: Atlas) -> None:
    params = {**PARAMS, "rates": "true"}
    rows = client.get("/api/v1/counts", params=params).json()["rows"]
    rates = np.array([np.nan if r["rate_per_1000"] is None else r["rate_per_1000"] for r in rows])
    exact = mapclassify.Quantiles(rates[np.isfinite(rates)], k=5).bins
    legend = client.get("/api/v1/tiles/rates/legend.json", params=PARAMS).json()
    breaks = legend["meta"]["classification"]["breaks"]
    np.testing.assert_allclose(breaks, exact, rtol=1e-9)
    assert breaks == [float(f"{b:.10g}") for b in exact]
    for item in _classes(legend):
        assert item["upper"] == float(f"{item['upper']:.10g}")


def test_counted_nouns_are_singular_for_one(loaded: Atlas) -> None:
    rows = loaded.counts(CountQuery("surrey", "wards:2019", rates=True), ANONYMOUS)["rows"]
    few = next(r["area_code"] for r in rows if r["count"] is not None and 5 <= r["count"] < 10)
    one = loaded.counts(CountQuery("surrey", "wards:2019", rates=True, areas=(few,)), ANONYMOUS)
    assert "1 area with fewer than 10 incidents: rates unstable there" in one["meta"]["caveats"]
    many = loaded.counts(CountQuery("surrey", "wards:2019", rates=True), ANONYMOUS)
    assert any(c.endswith("areas with fewer than 10 incidents: rates unstable there")
               for c in many["meta"]["caveats"])  # fmt: skip


def test_hotspot_suppression_note_is_a_whole_sentence(client: TestClient, loaded: Atlas) -> None:
    legend = client.get("/api/v1/tiles/hotspots/legend.json", params=HOT).json()
    rule = legend["meta"]["suppression"]["rule"]
    assert rule.endswith("only hotspot bins and categories") and not rule.endswith(" are")


def test_an_untitled_boundary_is_labelled_once(
    client: TestClient, atlas: Atlas, shared_data: Path
) -> None:
    spec = BoundarySpec(
        shared_data / "boundaries" / "surrey_districts.gpkg",
        "wards",
        "2024",
        date(2024, 5, 2),
        "LAD_CD",
        "LAD_NM",
    )
    atlas.import_boundaries(spec)
    listed = {f"{b['set']}:{b['version']}": b for b in client.get("/api/v1/boundaries").json()}
    assert listed["wards:2024"]["label"] == "wards 2024"
    titled = listed["wards:2019"]
    assert titled["label"] == f"{titled['title']} — wards 2019"
