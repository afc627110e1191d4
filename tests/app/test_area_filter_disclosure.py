"""An area filter (``areas=`` on tiles, a scoped embed) publishes a part of the whole table, never
a new table: what the whole geography hides stays hidden, and the part's total is withheld when
any of its areas is hidden (the total less the shown areas would give the hidden ones back).

Independent reference: the counts an analyst sees for the whole geography, and the whole table's
suppression as :func:`geo.disclosure.suppression_mask` decides it (tested on its own in
tests/geo/test_disclosure.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.access.principal import ANONYMOUS, OPERATOR
from app.atlas import Atlas
from app.http.factory import create_app
from app.services.boundaries import BoundarySpec
from app.services.counts import CountQuery
from app.services.hotspots import HotspotQuery
from geo.disclosure import suppression_mask
from tests.app.conftest import make_settings

DATASET = "filtered"
CATEGORY = "Bicycle theft"


@pytest.fixture(scope="module")
def month_db(template_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("filters") / "atlas.db"
    shutil.copy(template_db, path)
    atlas = Atlas.open(settings=make_settings(path))
    demo = atlas.settings.data_dir / "demo" / "police-uk" / "2023-01-surrey-street.csv.gz"
    atlas.ingest([demo], DATASET, access="open")
    atlas.close()
    return path


@pytest.fixture()
def atlas(month_db: Path, tmp_path: Path) -> Iterator[Atlas]:
    path = tmp_path / "atlas.db"
    shutil.copy(month_db, path)
    a = Atlas.open(settings=make_settings(path))
    yield a
    a.close()


@pytest.fixture()
def client(atlas: Atlas) -> Iterator[TestClient]:
    with TestClient(create_app(atlas.settings, atlas=atlas)) as c:
        yield c


def _whole(atlas: Atlas) -> tuple[dict[str, int], dict[str, bool]]:
    """The analyst's counts per ward and what the whole public table hides."""
    rows = atlas.counts(CountQuery(DATASET, "wards:2019", category=CATEGORY), OPERATOR)["rows"]
    codes = [r["area_code"] for r in rows]
    counts = [int(r["count"]) for r in rows]
    hidden = suppression_mask(np.array(counts), 5).tolist()
    return dict(zip(codes, counts, strict=True)), dict(zip(codes, hidden, strict=True))


def _legend(client: TestClient, areas: list[str]) -> dict[str, object]:
    params = {
        "dataset": DATASET,
        "by": "wards:2019",
        "category": CATEGORY,
        "areas": ",".join(areas),
    }
    answer = client.get("/api/v1/tiles/counts/legend.json", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_hidden_area_beside_a_shown_one_stays_hidden_and_the_total_goes(
    atlas: Atlas, client: TestClient
) -> None:
    counts, hidden = _whole(atlas)
    small = next(c for c, n in counts.items() if 1 <= n <= 4)
    shown = next(c for c, n in counts.items() if n >= 5 and not hidden[c])
    meta = _legend(client, [small, shown])["meta"]
    # Before: the part was suppressed on its own (both hidden) and its total 'safe' to publish,
    # so total - (the shown area in the whole table) gave the small count back.
    assert meta["incidents"] is None and meta["in_areas"] is None  # type: ignore[index]
    assert meta["suppression"]["cells_hidden"] == 1  # type: ignore[index]


PROFILE = """\
name = "points"
default_category = "ASB"
[dates]
month = "month"
[[locations]]
kind = "en"
easting = "easting"
northing = "northing"
"""


def test_a_secondary_hidden_area_on_its_own_stays_hidden(atlas: Atlas, tmp_path: Path) -> None:
    """Districts with 3, 7, 20 and 30 incidents (the rest 0): the whole table hides the 3 and,
    so that it cannot be derived from the total, the 7. Asked for alone, the 7 stays hidden."""
    import shapely

    layer = atlas.areas.layer(atlas.areas.resolve("districts").id)
    wanted = dict(zip(layer.codes.tolist()[:4], (3, 7, 20, 30), strict=True))
    rows = []
    for code, n in wanted.items():
        p = shapely.point_on_surface(layer.geometries[layer.codes.tolist().index(code)])
        rows += [f"2023-02,{round(p.x)},{round(p.y)}"] * n
    csv = tmp_path / "points.csv"
    csv.write_text("month,easting,northing\n" + "\n".join(rows) + "\n")
    profile = tmp_path / "points.toml"
    profile.write_text(PROFILE)
    atlas.ingest([csv], "points", profile=str(profile), access="open")
    whole = atlas.counts(CountQuery("points", "districts"), ANONYMOUS)["rows"]
    hidden = {r["area_code"] for r in whole if r["count"] is None}
    three, seven = list(wanted)[:2]
    assert hidden == {three, seven}  # the independent expectation above
    alone = atlas.counts(CountQuery("points", "districts", areas=(seven,)), ANONYMOUS)
    (row,) = alone["rows"]
    assert row["count"] is None and row.get("suppressed") is True
    assert alone["meta"]["incidents"] is None
    twenty = list(wanted)[2]
    pair = atlas.counts(CountQuery("points", "districts", areas=(three, twenty)), ANONYMOUS)
    assert [r["count"] for r in pair["rows"]] == [None, 20] or [
        r["count"] for r in pair["rows"]
    ] == [20, None]
    assert pair["meta"]["incidents"] is None and pair["meta"]["in_areas"] is None


def test_a_part_with_nothing_hidden_publishes_its_total(atlas: Atlas, client: TestClient) -> None:
    counts, hidden = _whole(atlas)
    shown = [c for c, n in counts.items() if n >= 5 and not hidden[c]][:3]
    meta = _legend(client, shown)["meta"]
    assert meta["incidents"] == sum(counts[c] for c in shown)  # type: ignore[index]


def test_filtered_area_hotspots_say_nothing_about_what_lies_outside(atlas: Atlas) -> None:
    """The filter is the extent by choice: no 'outside the analysed extent' caveat, whose share
    (with the analysed total) gave the whole dataset's size away."""
    codes = [c for c, _ in sorted(_whole(atlas)[0].items())][:3]
    q = HotspotQuery(DATASET, by="wards:2019", areas=tuple(codes))
    for principal in (OPERATOR, ANONYMOUS):
        meta = atlas.hotspots(q, principal).meta
        assert not any("outside the analysed extent" in c for c in meta.get("caveats", []))


def test_rates_of_a_part_when_an_area_outside_it_has_no_population(
    atlas: Atlas, tmp_path: Path
) -> None:
    """Three blocks, population for two: rates of the first alone (a 500 before the fix)."""
    squares = [(480000, 140000), (490000, 140000), (500000, 140000)]
    features = [
        {
            "type": "Feature",
            "properties": {"CODE": f"B{i}", "NAME": f"Block {i}"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[x, y], [x + 10000, y], [x + 10000, y + 10000], [x, y + 10000], [x, y]]
                ],
            },
        }
        for i, (x, y) in enumerate(squares)
    ]
    layer = tmp_path / "blocks.geojson"
    layer.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::27700"}},
                "features": features,
            }
        )
    )
    atlas.import_boundaries(BoundarySpec(layer, "blocks", "1", date(2020, 1, 1), "CODE", "NAME"))
    pop = tmp_path / "pop.csv"
    pop.write_text("code,people\nB0,12000\nB1,8000\n")
    atlas.import_population(pop, "blocks:1", "code", "people", 2023)
    out = atlas.counts(CountQuery(DATASET, "blocks:1", rates=True, areas=("B0",)), OPERATOR)
    (row,) = out["rows"]
    assert row["population"] == 12000
    assert row["rate_per_1000"] == pytest.approx(1000 * row["count"] / 12000, abs=1e-4)
    assert not any("B2" in c for c in out["meta"]["caveats"])  # outside the part: not named


def test_a_small_count_outside_the_hotspot_extent_is_not_derivable(
    atlas: Atlas, tmp_path: Path
) -> None:
    """40 incidents in Guildford and 3 in Crawley (outside Surrey, the analysed extent): public
    totals would give the 3 by subtraction (incidents - unlocated - in_analysis)."""
    rows = ["2023-02,499417,149731"] * 40 + ["2023-02,526800,136600"] * 3  # Crawley centre
    csv = tmp_path / "outside.csv"
    csv.write_text("month,easting,northing\n" + "\n".join(rows) + "\n")
    profile = tmp_path / "points.toml"
    profile.write_text(PROFILE)
    atlas.ingest([csv], "edge", profile=str(profile), access="open")
    q = HotspotQuery("edge", grid_m=1000.0)
    exact = atlas.hotspots(q, OPERATOR).meta
    assert exact["incidents"] - exact["unlocated"] - exact["in_analysis"] == 3
    public = atlas.hotspots(q, ANONYMOUS).meta
    assert public["incidents"] is None and public["in_analysis"] is None
