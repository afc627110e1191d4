"""Acceptance fixes for analysis: diffs, reassign, emerging months, population, CSV, extents.

Each test was written against a reported defect and failed before its fix. Expected values come
from independent sources: the ONS ward-to-district lookup, SOURCES.md (which districts changed
wards 2013 -> 2019), geopandas joins of points projected with pyproj + OSTN15, populations summed
from the ONS CSV, esda's Gi* and a written-out Mann-Kendall test.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
from fastapi.testclient import TestClient

from app.atlas import Atlas
from app.services.crosswalks import read_aggregate

CHANGED_DISTRICTS = {"Elmbridge", "Woking", "Reigate and Banstead", "Runnymede", "Surrey Heath"}


def wards(shared: Path, vintage: str) -> gpd.GeoDataFrame:
    return gpd.read_file(shared / "boundaries" / f"surrey_wards_{vintage}.gpkg")


# ----------------------------------------------------------------------------- diff and reassign


def test_districts_to_2019_wards_diff_is_eleven_splits(atlas: Atlas) -> None:
    out = atlas.crosswalks.diff("districts:2013", "wards:2019")
    assert out["summary"] == {"split": 11}
    back = atlas.crosswalks.diff("wards:2019", "districts:2013")
    assert back["summary"] == {"merged": 187}


def _table(codes: list[str], values: list[int]) -> bytes:
    return pd.DataFrame({"code": codes, "n": values}).to_csv(index=False).encode()


def test_reassign_reports_what_changed_between_the_versions(
    atlas: Atlas, client: TestClient, shared_data: Path
) -> None:
    w13 = wards(shared_data, "2013")
    body = _table(w13.WD13CD.tolist(), list(range(len(w13))))
    res = client.post(
        "/api/v1/reassign",
        files={"file": ("t.csv", body, "text/csv")},
        data={"from": "wards:2013", "to": "wards:2019", "code_field": "code", "value_field": "n"},
    )
    assert res.status_code == 200, res.text
    changes = res.json()["meta"]["changes"]
    stable = set(w13.WD13CD[~w13.LAD_NM.isin(CHANGED_DISTRICTS)])
    assert len(stable) == 118
    assert {c for c, kind in changes["areas"].items() if kind == "unchanged"} == stable
    assert set(changes["areas"]) == set(w13.WD13CD)
    assert changes["summary"]["unchanged"] == 118 and sum(changes["summary"].values()) == 206
    # The same classification as `boundaries diff` (one mechanism).
    diff = atlas.crosswalks.diff("wards:2013", "wards:2019")
    assert changes["areas"] == diff["changes"] and changes["summary"] == diff["summary"]


def test_reassign_districts_to_wards_says_every_district_was_split(
    atlas: Atlas, shared_data: Path, tmp_path: Path
) -> None:
    lookup = pd.read_csv(shared_data / "lookups" / "surrey_ward2019_to_lad2019.csv")
    districts = sorted(set(lookup.LAD19CD))
    path = tmp_path / "d.csv"
    path.write_bytes(_table(districts, [100] * len(districts)))
    table = read_aggregate(path, None, "code", "n")
    out = atlas.crosswalks.reassign_table(table, "districts:2013", "wards:2019", "area")
    assert out["meta"]["changes"]["summary"] == {"split": 11}
    assert out["meta"]["changes"]["areas"] == dict.fromkeys(districts, "split")
