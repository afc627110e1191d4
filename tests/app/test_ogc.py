"""OGC API - Features: what a conformance run checks, against independent references.

References: shapely ``intersects`` on the geometries themselves (bbox), the BNG layer geometries
rounded by numpy (EPSG:27700 output), PROJ with the OSTN15 grid (CRS84 output), the engine's own
``atlas.counts``/``atlas.hotspots`` rows (the OGC view must not change a value), and the grid
cell definition of INTERFACE.md (cell ``i, j`` covers ``[i s, (i+1) s) x [j s, (j+1) s)``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from app.access.principal import ANONYMOUS, Principal
from app.access.tokens import create_token
from app.atlas import Atlas
from app.services.counts import CountQuery
from app.services.hotspots import HotspotQuery
from app.services.ogc import ItemsQuery, RequestUrl, page_links
from geo.projection import pyproj_reference
from tests.app.conftest import make_settings

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
VERSIONS = ("csp-2022", "districts-2013", "lsoa-2011", "wards-2013", "wards-2019")
ANALYST = Principal(id="t", role="analyst")


@pytest.fixture(scope="module")
def atlas(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> Iterator[Atlas]:
    """Module-wide store (tests only read it): open ``surrey`` (2022-01, 2022-02) and a
    restricted ``yot`` owned by partner ``youth`` (2022-03)."""
    path = tmp_path_factory.mktemp("ogc") / "atlas.db"
    shutil.copy(template_db, path)
    a = Atlas.open(settings=make_settings(path))
    crime = shared_data / "crime" / "surrey"
    a.ingest([crime / f"2022-0{m}-surrey-street.csv" for m in (1, 2)], "surrey")
    a.store.datasets.add_partner("youth", "Youth offending")
    a.store.datasets.add_partner("police", "Surrey Police")
    a.ingest([crime / "2022-03-surrey-street.csv"], "yot", owner="youth", access="restricted")
    yield a
    a.close()


def _token(atlas: Atlas, role: str, partner: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_token(atlas.store, role, partner)[1]}"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    doc: dict[str, Any] = response.json()
    assert doc["status"] == status and doc["type"] and doc["title"] and doc["detail"]
    return doc


def _rings(geometry: dict[str, Any]) -> list[list[list[float]]]:
    polygons = [geometry["coordinates"]]
    if geometry["type"] == "MultiPolygon":
        polygons = geometry["coordinates"]
    return [ring for polygon in polygons for ring in polygon]


def _check_collection(doc: dict[str, Any], crs: str = CRS84) -> None:
    """The shape a GeoJSON / OGC API Features client relies on."""
    assert doc["type"] == "FeatureCollection" and isinstance(doc["features"], list)
    assert doc["numberReturned"] == len(doc["features"]) <= doc["numberMatched"]
    datetime.strptime(doc["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert {"self", "collection"} <= {link["rel"] for link in doc["links"]}
    for f in doc["features"]:
        assert f["type"] == "Feature" and isinstance(f["id"], str)
        assert isinstance(f["properties"], dict)
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        for ring in _rings(f["geometry"]):
            xy = np.array(ring)
            assert xy.shape[0] >= 4 and xy.shape[1] == 2 and (xy[0] == xy[-1]).all()
            if crs == CRS84:
                assert (np.abs(xy[:, 0]) <= 180).all() and (np.abs(xy[:, 1]) <= 90).all()
                assert np.allclose(xy * 1e6, np.round(xy * 1e6), atol=1e-3)  # 6 decimals
            else:
                assert (xy == np.round(xy)).all()  # whole metres


def _items(client: TestClient, cid: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/collections/{cid}/items", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/geo+json")
    crs = BNG if params.get("crs") in ("EPSG:27700", BNG) else CRS84
    assert response.headers["content-crs"] == f"<{crs}>"
    doc: dict[str, Any] = response.json()
    _check_collection(doc, crs)
    return doc


def _geoms(doc: dict[str, Any]) -> np.ndarray:
    return np.array([shapely.geometry.shape(f["geometry"]) for f in doc["features"]])


def test_landing_page_links_resolve(client: TestClient) -> None:
    doc = client.get("/").json()
    links = {link["rel"]: link for link in doc["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    for link in doc["links"]:
        assert client.get(link["href"]).status_code == 200, link
    api = client.get(links["service-desc"]["href"]).json()
    assert "/collections/{collection_id}/items" in api["paths"]
    assert "text/html" in client.get(links["service-doc"]["href"]).headers["content-type"]
    assert client.get(links["data"]["href"]).json()["collections"]
    assert links["conformance"]["href"].endswith("/conformance")


def test_conformance_lists_the_classes(client: TestClient) -> None:
    assert set(client.get("/conformance").json()["conformsTo"]) == {
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    }


def test_collections_are_complete_and_resolve(client: TestClient) -> None:
    listed = client.get("/collections").json()["collections"]
    expected = {f"boundaries-{v}" for v in VERSIONS}
    expected |= {f"counts-surrey-{v}" for v in VERSIONS} | {
        f"hotspots-surrey-{v}" for v in VERSIONS
    }
    expected |= {f"hotspots-surrey-grid-{m}" for m in (250, 500, 1000)}
    assert [c["id"] for c in listed] and {c["id"] for c in listed} == expected
    for c in listed:
        assert c["title"] and c["itemType"] == "feature" and {CRS84, BNG} <= set(c["crs"])
        assert c["extent"]["spatial"]["crs"] == CRS84
        west, south, east, north = c["extent"]["spatial"]["bbox"][0]
        assert -1.0 < west < east < 0.2 and 51.0 < south < north < 51.5  # Surrey
        assert client.get(f"/collections/{c['id']}").json() == c
        items = next(link for link in c["links"] if link["rel"] == "items")
        assert client.get(items["href"], params={"limit": 1}).status_code == 200
    by_id = {c["id"]: c for c in listed}
    # Temporal extents: boundary validity (manifests) and the months ingested.
    assert by_id["boundaries-wards-2013"]["extent"]["temporal"]["interval"] == [
        ["2013-01-01T00:00:00Z", "2019-05-01T23:59:59Z"]
    ]
    assert by_id["boundaries-wards-2019"]["extent"]["temporal"]["interval"] == [
        ["2019-05-02T00:00:00Z", None]
    ]
    for cid in ("counts-surrey-lsoa-2011", "hotspots-surrey-grid-500"):
        assert by_id[cid]["extent"]["temporal"]["interval"] == [
            ["2022-01-01T00:00:00Z", "2022-02-28T23:59:59Z"]
        ]


@pytest.mark.parametrize("cid", ["boundaries-wards-2019", "hotspots-surrey-grid-1000"])
def test_spatial_extent_covers_the_features(client: TestClient, cid: str) -> None:
    bbox = client.get(f"/collections/{cid}").json()["extent"]["spatial"]["bbox"][0]
    bounds = shapely.total_bounds(_geoms(_items(client, cid, limit=10_000)))
    assert bbox[0] <= bounds[0] and bbox[1] <= bounds[1]
    assert bbox[2] >= bounds[2] and bbox[3] >= bounds[3]
    if cid.startswith("boundaries"):  # areas: the bbox is exactly theirs
        assert np.allclose(bbox, bounds, atol=1e-6)


@pytest.mark.parametrize(
    ("cid", "limit"), [("counts-surrey-lsoa-2011", 100), ("hotspots-surrey-grid-500", 1500)]
)
def test_paging_walks_every_feature_once(
    client: TestClient, atlas: Atlas, cid: str, limit: int
) -> None:
    query = {"limit": limit, "datetime": "2022-01-01/..", "unrelated": "kept"}
    doc = _items(client, cid, **query)
    matched, seen, returned = doc["numberMatched"], [], 0
    while True:
        assert doc["numberMatched"] == matched
        seen += [f["id"] for f in doc["features"]]
        returned += doc["numberReturned"]
        nxt = [link["href"] for link in doc["links"] if link["rel"] == "next"]
        if not nxt:
            break
        args = parse_qs(urlsplit(nxt[0]).query)
        assert args["datetime"] == ["2022-01-01/.."] and args["unrelated"] == ["kept"]
        response = client.get(nxt[0])
        doc = response.json()
        _check_collection(doc)
        assert any(link["rel"] == "prev" for link in doc["links"])
    assert returned == matched == len(seen) == len(set(seen))
    assert matched > limit  # more than one page was walked
    if cid.startswith("counts"):
        version = atlas.areas.resolve("lsoa:2011")
        assert set(seen) == set(atlas.areas.layer(version.id).codes.tolist())


@pytest.mark.parametrize(
    ("cid", "bbox"),
    [
        ("boundaries-lsoa-2011", "-0.62,51.2,-0.52,51.26"),  # Guildford
        ("hotspots-surrey-grid-1000", "-0.45,51.3,-0.3,51.4"),
        ("counts-surrey-wards-2019", "-0.3,51.0,-0.29,51.38"),  # a thin strip
    ],
)
def test_bbox_selects_what_shapely_intersects_selects(
    client: TestClient, cid: str, bbox: str
) -> None:
    everything = _items(client, cid, limit=10_000)
    west, south, east, north = (float(v) for v in bbox.split(","))
    box = shapely.box(west, south, east, north)
    hits = shapely.intersects(_geoms(everything), box)
    expected = [f["id"] for f, hit in zip(everything["features"], hits, strict=True) if hit]
    got = _items(client, cid, limit=10_000, bbox=bbox)
    assert 0 < len(expected) < len(everything["features"])
    assert [f["id"] for f in got["features"]] == expected and got["numberMatched"] == len(expected)


def test_bbox_in_bng(client: TestClient, atlas: Atlas) -> None:
    version = atlas.areas.resolve("wards:2019")
    layer = atlas.areas.layer(version.id)
    bbox = (500_000.0, 150_000.0, 510_000.0, 152_000.0)
    hits = shapely.intersects(layer.geometries, shapely.box(*bbox))
    expected = [c for c, hit in zip(layer.codes.tolist(), hits.tolist(), strict=True) if hit]
    for crs_name in ("EPSG:27700", BNG):
        got = _items(
            client,
            "boundaries-wards-2019",
            bbox=",".join(f"{v:g}" for v in bbox),
            **{"bbox-crs": crs_name},
        )
        assert [f["id"] for f in got["features"]] == expected and len(expected) > 1
    # Grid cells by the INTERFACE.md definition: cell i, j covers [i s, (i+1) s) x [j s, (j+1) s).
    # A BNG box without bbox-crs cannot be degrees: refused (it used to match nothing, silently).
    metres = client.get(
        "/collections/hotspots-surrey-grid-1000/items",
        params={"bbox": "500000,150000,510000,152000"},
    )
    assert metres.status_code == 400
    got = _items(
        client,
        "hotspots-surrey-grid-1000",
        bbox="500500,150500,502500,151500",
        limit=50,
        **{"bbox-crs": "EPSG:27700"},
    )
    cells = {(f["properties"]["cell_i"], f["properties"]["cell_j"]) for f in got["features"]}
    assert cells == {(i, j) for i in (500, 501, 502) for j in (150, 151)}


def test_bng_output_is_the_stored_geometry_and_crs84_converts_back(
    client: TestClient, atlas: Atlas
) -> None:
    version = atlas.areas.resolve("wards:2019")
    layer = atlas.areas.layer(version.id)
    stored = shapely.get_coordinates(layer.geometries)
    bng = _items(client, "boundaries-wards-2019", limit=500, crs=BNG)
    assert bng["crs"]["properties"]["name"] == BNG
    assert [f["id"] for f in bng["features"]] == layer.codes.tolist()
    got = shapely.get_coordinates(_geoms(bng))
    assert got.shape == stored.shape and (np.abs(got - stored) <= 0.5).all()
    assert (got == np.round(stored)).mean() > 0.999  # ties at .5 may round either way
    same = _items(client, "boundaries-wards-2019", limit=500, crs="EPSG:27700")
    assert same["features"] == bng["features"]

    crs84 = _items(client, "boundaries-wards-2019", limit=500)
    lonlat = shapely.get_coordinates(_geoms(crs84))
    assert lonlat.shape == stored.shape
    proj = pyproj_reference(atlas.settings.ostn15_grid)
    easting, northing = proj.transform(lonlat[:, 0], lonlat[:, 1])
    assert np.hypot(easting - stored[:, 0], northing - stored[:, 1]).max() < 1.0


def test_grid_cells_are_the_interface_cells(client: TestClient) -> None:
    doc = _items(client, "hotspots-surrey-grid-1000", limit=10_000, crs="EPSG:27700")
    for f in doc["features"]:
        i, j = f["properties"]["cell_i"], f["properties"]["cell_j"]
        assert f["id"] == f"{i}_{j}"
        bounds = shapely.bounds(shapely.geometry.shape(f["geometry"])).tolist()
        assert bounds == [i * 1000, j * 1000, (i + 1) * 1000, (j + 1) * 1000]


def _properties(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [f["properties"] for f in doc["features"]]


def test_counts_items_are_the_engine_rows(client: TestClient, atlas: Atlas) -> None:
    cid = "counts-surrey-lsoa-2011"
    public = atlas.counts(CountQuery("surrey", "lsoa:2011", rates=True), ANONYMOUS)["rows"]
    full = atlas.counts(CountQuery("surrey", "lsoa:2011", rates=True), ANALYST)["rows"]
    got = _items(client, cid, limit=1000)
    assert _properties(got) == public
    assert [f["id"] for f in got["features"]] == [r["area_code"] for r in public]
    assert {"rate_per_1000", "ci_low", "ci_high", "population"} <= set(public[0])
    # Suppression is the engine's: small counts are hidden anonymously and shown to analysts.
    hidden = [i for i, r in enumerate(public) if r["count"] is None]
    assert hidden and all(1 <= full[i]["count"] <= 4 for i in hidden)
    analyst = client.get(
        f"/collections/{cid}/items", params={"limit": 1000}, headers=_token(atlas, "analyst")
    )
    assert _properties(analyst.json()) == full


@pytest.mark.parametrize(
    "params",
    [
        {"datetime": "2022-02-01/2022-02-28"},
        {"datetime": "2022-02-10T12:00:00Z/2022-02-20T00:00:00Z"},
        {"datetime": "2022-02-15"},
        {"datetime": "2022-03-01T00:30:00+01:00/.."},  # 2022-02-28T23:30Z: February on
        {"from": "2022-02", "to": "2022-02"},
        {"from": "2022-02"},
    ],
)
def test_datetime_narrows_the_months_counted(
    client: TestClient, atlas: Atlas, params: dict[str, str]
) -> None:
    expected = atlas.counts(
        CountQuery("surrey", "wards:2019", "2022-02", "2022-02", rates=True), ANONYMOUS
    )
    doc = _items(client, "counts-surrey-wards-2019", limit=500, **params)
    assert _properties(doc) == expected["rows"]
    everything = atlas.counts(CountQuery("surrey", "wards:2019"), ANALYST)["rows"]
    february = atlas.counts(CountQuery("surrey", "wards:2019", "2022-02", "2022-02"), ANALYST)
    assert sum(r["count"] for r in february["rows"]) < sum(r["count"] for r in everything)


def test_category_and_hotspots_are_the_engine_output(client: TestClient, atlas: Atlas) -> None:
    q = HotspotQuery(
        "surrey", by="wards:2019", first="2022-01", last="2022-01", category="Burglary"
    )
    out = atlas.hotspots(q, ANONYMOUS)
    doc = _items(
        client,
        "hotspots-surrey-wards-2019",
        limit=500,
        category="burglary",
        datetime="2022-01-01/2022-01-31",
    )
    assert _properties(doc) == out.properties and [f["id"] for f in doc["features"]] == out.ids
    # Public view: bins and (suppressed) counts; exact statistics would give hidden counts back.
    assert {"count", "hotspot_bin"} <= set(out.properties[0])
    assert not {"gi_z", "p_value", "q_value"} & set(out.properties[0])
    full = atlas.hotspots(q, ANALYST)
    assert {"count", "gi_z", "p_value", "q_value", "hotspot_bin"} <= set(full.properties[0])
    grid = atlas.hotspots(HotspotQuery("surrey", grid_m=500.0), ANONYMOUS)
    doc = _items(client, "hotspots-surrey-grid-500", limit=10_000)
    assert _properties(doc) == grid.properties and [f["id"] for f in doc["features"]] == grid.ids


def test_boundaries_datetime_is_their_validity(client: TestClient) -> None:
    def matched(cid: str, when: str) -> int:
        return int(_items(client, cid, datetime=when)["numberMatched"])

    assert matched("boundaries-wards-2013", "2019-05-01") == 206
    assert matched("boundaries-wards-2019", "2019-05-01") == 0
    assert matched("boundaries-wards-2019", "2019-05-02/..") == 187
    assert matched("boundaries-wards-2013", "2020-01-01/2020-12-31") == 0
    assert matched("boundaries-wards-2013", "../2013-01-01") == 206


def test_one_feature(client: TestClient, atlas: Atlas) -> None:
    rows = atlas.counts(CountQuery("surrey", "wards:2019", rates=True), ANONYMOUS)["rows"]
    row = rows[5]
    response = client.get(
        f"/collections/counts-surrey-wards-2019/items/{row['area_code']}",
        params={"crs": "EPSG:27700"},
    )
    assert response.headers["content-crs"] == f"<{BNG}>"
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == row["area_code"]
    assert feature["properties"] == row
    version = atlas.areas.resolve("wards:2019")
    stored = atlas.areas.layer(version.id).geometries[5]
    got = shapely.geometry.shape(feature["geometry"])
    assert shapely.hausdorff_distance(got, stored) <= 0.71  # rounded to the metre
    assert {"self", "collection"} <= {link["rel"] for link in feature["links"]}
    _problem(client.get("/collections/counts-surrey-wards-2019/items/E99999999"), 404)


def test_restricted_dataset_is_invisible_anonymously(client: TestClient, atlas: Atlas) -> None:
    ids = {c["id"] for c in client.get("/collections").json()["collections"]}
    assert not any("yot" in i for i in ids) and "counts-surrey-wards-2019" in ids
    for path in ("/collections/counts-yot-wards-2019", "/collections/hotspots-yot-grid-500/items"):
        _problem(client.get(path), 401)
        _problem(client.get(path, headers=_token(atlas, "partner", "police")), 403)
        assert client.get(path, headers=_token(atlas, "partner", "youth")).status_code == 200
    owner = client.get("/collections", headers=_token(atlas, "partner", "youth")).json()
    assert "counts-yot-wards-2019" in {c["id"] for c in owner["collections"]}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 0}, 400),
        ({"limit": "many"}, 400),
        ({"offset": -1}, 400),
        ({"bbox": "1,2,3"}, 400),
        ({"bbox": "2,2,1,1"}, 400),
        ({"bbox-crs": "EPSG:27700"}, 400),
        ({"crs": "EPSG:4326"}, 400),
        ({"datetime": "last tuesday"}, 400),
        ({"datetime": "2022-03-01/2022-02-01"}, 400),
        ({"datetime": "2022-02-01/..", "from": "2022-01"}, 400),
        ({"from": "2022-03", "to": "2022-01"}, 400),
        ({"category": "no such thing"}, 400),
    ],
)
def test_bad_requests_are_problems(client: TestClient, params: dict[str, Any], status: int) -> None:
    _problem(client.get("/collections/counts-surrey-wards-2019/items", params=params), status)


def test_limit_above_the_maximum_serves_the_maximum(client: TestClient) -> None:
    """OGC API - Features /req/core/fc-limit-response-1: no error, the maximum is used."""
    whole = _items(client, "boundaries-lsoa-2011", limit=10_001)
    assert whole["numberReturned"] == whole["numberMatched"] == 709
    cells = _items(client, "hotspots-surrey-grid-250", limit=50_000)
    assert cells["numberMatched"] > 10_000 and cells["numberReturned"] == 10_000
    nxt = next(x["href"] for x in cells["links"] if x["rel"] == "next")
    assert parse_qs(urlsplit(nxt).query)["limit"] == ["10000"]


def test_bbox_in_metres_without_bbox_crs_is_refused_with_a_hint(client: TestClient) -> None:
    metres = "400000,100000,500000,200000"
    url = "/collections/counts-surrey-wards-2019/items"
    doc = _problem(client.get(url, params={"bbox": metres}), 400)
    assert "bbox-crs" in doc["detail"] and "latitude" in doc["detail"]
    for bad in ("-181,50,0,51", "0,-91,1,0", "-1,50,0,91"):
        _problem(client.get(url, params={"bbox": bad}), 400)
    ok = _items(client, "counts-surrey-wards-2019", bbox=metres, **{"bbox-crs": BNG})
    assert ok["numberMatched"] > 0
    assert _items(client, "counts-surrey-wards-2019", bbox="-180,-90,180,90")["numberMatched"]


@pytest.mark.parametrize("cid", ["hotspots-surrey-grid-1000", "hotspots-surrey-wards-2019"])
def test_hotspots_of_a_period_without_incidents_say_so(
    client: TestClient, atlas: Atlas, cid: str
) -> None:
    """Documented choice: every feature stays (count 0, not significant, as counts give every
    area with 0) and meta carries the same caveat as counts."""
    when = {"datetime": "1999-01-01/1999-02-01"}
    page = _items(client, cid, limit=5, **when)
    counts = _items(client, "counts-surrey-wards-2019", limit=5, **when)
    assert "no incidents in this selection" in counts["meta"]["caveats"]
    assert "no incidents in this selection" in page["meta"]["caveats"]
    assert page["numberMatched"] == _items(client, cid, limit=5)["numberMatched"]
    assert all(f["properties"]["hotspot_bin"] == 0 for f in page["features"])
    assert all(f["properties"]["count"] == 0 for f in page["features"])


def test_unknown_collection_is_404(client: TestClient) -> None:
    _problem(client.get("/collections/counts-nobody-wards-2019"), 404)
    _problem(client.get("/collections/boundaries-wards-1066/items"), 404)


def test_limit_limits(client: TestClient) -> None:
    assert _items(client, "boundaries-lsoa-2011", limit=10_000)["numberReturned"] == 709
    assert _items(client, "boundaries-lsoa-2011")["numberReturned"] == 100  # the default
    last = _items(client, "boundaries-lsoa-2011", offset=700, limit=100)
    assert last["numberReturned"] == 9 and "next" not in {x["rel"] for x in last["links"]}
    beyond = _items(client, "boundaries-lsoa-2011", offset=5000)
    assert beyond["numberReturned"] == 0 and beyond["numberMatched"] == 709


@given(matched=st.integers(0, 400), limit=st.integers(1, 60), start=st.integers(0, 400))
def test_next_links_tile_the_matches(matched: int, limit: int, start: int) -> None:
    """Following next from any offset visits [offset, matched) once; prev walks back to 0."""
    url = RequestUrl("http://h", "/collections/c/items", (("bbox", "1,2,3,4"), ("offset", "9")))
    offset, covered = start, list[int]()
    while True:
        covered += range(offset, min(offset + limit, matched))
        links = {x["rel"]: x["href"] for x in page_links(url, "c", offset, limit, matched)}
        if "next" not in links:
            break
        args = parse_qs(urlsplit(links["next"]).query)
        assert args["bbox"] == ["1,2,3,4"] and args["limit"] == [str(limit)]
        offset = int(args["offset"][0])
    assert covered == list(range(start, max(start, matched)))
    while offset > 0:
        links = {x["rel"]: x["href"] for x in page_links(url, "c", offset, limit, matched)}
        offset = int(parse_qs(urlsplit(links["prev"]).query)["offset"][0])
    assert "prev" not in {x["rel"] for x in page_links(url, "c", offset, limit, matched)}


def test_query_parsing_by_hand() -> None:
    q = ItemsQuery.parse(datetime_text="2023-01-01/2023-03-31")
    assert (q.first, q.last) == ("2023-01", "2023-03")
    q = ItemsQuery.parse(datetime_text="2023-01-01T00:30:00+01:00")  # 2022-12-31T23:30Z
    assert (q.first, q.last) == ("2022-12", "2022-12")
    q = ItemsQuery.parse(first="2024-02", last="2024-02")
    assert (q.start, q.end) == (datetime(2024, 2, 1).date(), datetime(2024, 2, 29).date())
    q = ItemsQuery.parse(bbox="1,2,0,3,4,10", crs=f"<{BNG}>")  # 3D bbox: heights dropped
    assert q.bbox == (1.0, 2.0, 3.0, 4.0) and q.crs == BNG
