"""Acceptance fixes for analysis: diffs, reassign, emerging months, population, CSV, extents.

Each test was written against a reported defect and failed before its fix. Expected values come
from independent sources: the ONS ward-to-district lookup, SOURCES.md (which districts changed
wards 2013 -> 2019), geopandas joins of points projected with pyproj + OSTN15, populations summed
from the ONS CSV, esda's Gi* and a written-out Mann-Kendall test.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from app.atlas import Atlas

CHANGED_DISTRICTS = {"Elmbridge", "Woking", "Reigate and Banstead", "Runnymede", "Surrey Heath"}


def wards(shared: Path, vintage: str) -> gpd.GeoDataFrame:
    return gpd.read_file(shared / "boundaries" / f"surrey_wards_{vintage}.gpkg")


# ----------------------------------------------------------------------------- diff


def test_districts_to_2019_wards_diff_is_eleven_splits(atlas: Atlas) -> None:
    out = atlas.crosswalks.diff("districts:2013", "wards:2019")
    assert out["summary"] == {"split": 11}
    back = atlas.crosswalks.diff("wards:2019", "districts:2013")
    assert back["summary"] == {"merged": 187}
