"""Regressions from the code review: 400s not 500s, no silent row loss, no stale crosswalks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.atlas import Atlas
from app.errors import BadRequest
from app.services.crosswalks import read_aggregate
from tests.app.conftest import make_settings


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/v1/counts", {"dataset": "d", "by": "districts", "from": "2023-13"}),
        ("/api/v1/counts", {"dataset": "d", "by": "districts", "to": "2023-00"}),
        ("/collections/boundaries-districts-2013/items", {"from": "2023-13"}),
        ("/collections/boundaries-districts-2013/items", {"datetime": "0001-01-01T00:00:00+01:00"}),
        ("/collections/boundaries-districts-2013/items", {"datetime": "9999-12-31T23:00:00-05:00"}),
        ("/api/v1/hotspots", {"dataset": "d", "grid": 500, "seed": -1, "permutations": 9}),
    ],
)
def test_bad_parameters_are_400_problems(
    client: TestClient, url: str, params: dict[str, object]
) -> None:
    r = client.get(url, params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


def test_aggregate_table_with_a_malformed_row_is_refused_naming_it() -> None:
    data = b"code,n\nE05007251,3\nE05007252,4,99\nE05007253,5\n"
    with pytest.raises(BadRequest, match="row 2"):
        read_aggregate(None, data, "code", "n")


def test_population_with_a_malformed_row_is_refused(atlas: Atlas, tmp_path: Path) -> None:
    csv = tmp_path / "pop.csv"
    csv.write_text("code,pop\nE01030296,10\nE01030297,20,x\n")
    with pytest.raises(BadRequest, match="malformed"):
        atlas.import_population(csv, "lsoa:2011", "code", "pop", 2023)


def test_population_weights_follow_a_new_population_layer(
    atlas: Atlas, tmp_path: Path, shared_data: Path
) -> None:
    table = tmp_path / "w13.csv"
    codes = atlas.areas.layer(atlas.areas.resolve("wards:2013").id).codes
    table.write_text("code,n\n" + "".join(f"{c},{i % 7 + 1}\n" for i, c in enumerate(codes)))
    agg = read_aggregate(table, None, "code", "n")
    before = atlas.crosswalks.reassign_table(agg, "wards:2013", "wards:2019", "population")
    pop = pd.read_csv(shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv")
    pop["population_mid2019"] = pop["population_mid2019"] * (
        1 + (pop.index % 5)
    )  # a different year
    new_pop = tmp_path / "pop2023.csv"
    pop.to_csv(new_pop, index=False)
    atlas.import_population(new_pop, "lsoa:2011", "LSOA11CD", "population_mid2019", 2023)
    after = atlas.crosswalks.reassign_table(agg, "wards:2013", "wards:2019", "population")
    fresh = Atlas.open(settings=make_settings(Path(atlas.store.url.removeprefix("sqlite:///"))))
    expected = fresh.crosswalks.reassign_table(agg, "wards:2013", "wards:2019", "population")
    fresh.close()
    assert "2023" in after["meta"]["weights"] and "2019" in before["meta"]["weights"]
    assert after["rows"] == expected["rows"] and after["rows"] != before["rows"]


def test_oversized_hotspot_requests_are_refused_not_run(atlas: Atlas, shared_data: Path) -> None:
    from app.services.hotspots import HotspotQuery

    with pytest.raises(BadRequest, match="cell size"):
        HotspotQuery("d", grid_m=50).check()
    atlas.ingest(
        [
            Path(__file__).resolve().parents[3]
            / "shared"
            / "data"
            / "crime"
            / "surrey"
            / "2022-05-surrey-street.csv"
        ],
        "big",
    )
    with pytest.raises(BadRequest, match="permutations"):
        atlas.hotspots(HotspotQuery("big", grid_m=100, permutations=9999))


def test_a_failing_file_is_named_with_the_batches_already_written(
    atlas: Atlas, tmp_path: Path
) -> None:
    from tests.app.test_ingest_rows import GOOD, police_csv, write

    two = write(tmp_path, "a.csv", police_csv([GOOD, GOOD.replace("a1,2022-03", "a3,2022-04")]))
    atlas.ingest([two], "multi")
    fresh = write(tmp_path, "b.csv", police_csv([GOOD.replace("a1,2022-03", "b1,2022-05")]))
    partial = write(tmp_path, "c.csv", police_csv([GOOD.replace("a1", "c1")]))
    with pytest.raises(
        Exception, match=r"c\.csv: .*already written by this command: \d+ \(b\.csv\)"
    ):
        atlas.ingest([fresh, partial], "multi")


def test_boundary_names_must_fit_selectors_and_urls(atlas: Atlas, shared_data: Path) -> None:
    from datetime import date

    from app.services.boundaries import BoundarySpec

    gpkg = shared_data / "boundaries" / "surrey_districts.gpkg"
    spec = BoundarySpec(gpkg, "dist rict", "2024/25", date(2024, 1, 1), "LAD_CD", "LAD_NM")
    with pytest.raises(BadRequest, match="set 'dist rict'"):
        atlas.import_boundaries(spec)
