"""Acceptance fixes for ``atlas boundaries import``: CRS refusals, empty layers, validity overlaps,
gaps inside a set's coverage.

Files are built here from the shared ONS layers (geopandas) and written as a user would send them;
every failure must be one plain line naming the reason, never "internal error". Expected gap
areas are the deleted wards' own areas (geopandas), overlap dates are worked out by hand.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely

from app.atlas import Atlas
from tests.app.test_accept_boundaries import cli, spec

LOCAL_CS = (
    'LOCAL_CS["Bogus local grid",LOCAL_DATUM["Bogus datum",0],UNIT["metre",1],'
    'AXIS["X",EAST],AXIS["Y",NORTH]]'
)


@pytest.fixture()
def db(template_db: Path, tmp_path: Path) -> Path:
    path = tmp_path / "atlas.db"
    shutil.copy(template_db, path)
    return path


@pytest.fixture(scope="module")
def districts(shared_data: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_file(shared_data / "boundaries" / "surrey_districts.gpkg")
    return frame[["LAD_CD", "LAD_NM", "geometry"]]


def imported(
    db: Path, path: Path, *extra: str, code: str = "LAD_CD", name: str = "LAD_NM"
) -> subprocess.CompletedProcess[str]:
    args = ["boundaries", "import", str(path), "--set", "t", "--version", "1"]
    args += ["--valid-from", "2020-01-01", "--code-field", code, "--name-field", name, *extra]
    return cli(*args, db=db, check=False)


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0 and proc.stdout == ""
    err = proc.stderr
    assert err.count("\n") == 1 and "internal error" not in err, err
    return err


def geojson(path: Path, fc: dict[str, object]) -> Path:
    path.write_text(json.dumps(fc))
    return path


# ----------------------------------------------------------------------------- CRS


def test_engineering_crs_is_refused_with_a_reason(
    db: Path, tmp_path: Path, districts: gpd.GeoDataFrame
) -> None:
    districts.to_file(tmp_path / "local.shp")
    (tmp_path / "local.prj").write_text(LOCAL_CS)
    with zipfile.ZipFile(tmp_path / "local.zip", "w") as zf:
        for ext in ("shp", "shx", "dbf", "prj"):
            zf.write(tmp_path / f"local.{ext}", f"local.{ext}")
    err = refused(imported(db, tmp_path / "local.zip"))
    assert "unsupported CRS 'Bogus local grid'" in err


def test_metres_under_an_unknown_crs_are_refused_as_out_of_range(
    db: Path, tmp_path: Path, districts: gpd.GeoDataFrame
) -> None:
    fc = json.loads(districts.to_json())
    fc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}}
    err = refused(imported(db, geojson(tmp_path / "bogus.geojson", fc)))
    bounds = districts.total_bounds  # independently: geopandas
    assert "±180/±90" in err and f"x {bounds[0]:.6g}.." in err
    assert "British National Grid metres" in err


def test_lon_lat_beyond_their_range_are_refused(db: Path, tmp_path: Path) -> None:
    box = shapely.geometry.mapping(shapely.box(-500, -500, 500, 500))
    feature = {"type": "Feature", "properties": {"CODE": "A", "NAME": "a"}, "geometry": box}
    path = geojson(tmp_path / "big.geojson", {"type": "FeatureCollection", "features": [feature]})
    err = refused(imported(db, path, code="CODE", name="NAME"))
    assert "outside the valid range" in err and "x -500..500, y -500..500" in err


# ----------------------------------------------------------------------------- empty, overlaps, gaps


def test_an_empty_layer_says_it_has_no_features(db: Path, tmp_path: Path) -> None:
    path = geojson(tmp_path / "nofeat.geojson", {"type": "FeatureCollection", "features": []})
    err = refused(imported(db, path, code="CODE", name="NAME"))
    assert "has no features" in err and "no field" not in err


def beats(atlas: Atlas, path: Path, version: str, start: str, end: str | None = None) -> Any:
    rec = atlas.import_boundaries(spec(path, "beats", version, start, end, "LAD_CD", "LAD_NM"))
    return rec.report


def test_overlapping_validity_windows_are_reported(
    atlas: Atlas, tmp_path: Path, districts: gpd.GeoDataFrame
) -> None:
    path = tmp_path / "beats.gpkg"
    districts.to_file(path)
    v1 = beats(atlas, path, "v1", "2022-01-01", "2022-12-31")
    v2 = beats(atlas, path, "v2", "2023-01-01")
    assert v1["warnings"] == [] and v2["warnings"] == []  # one version succeeding another
    v3 = beats(atlas, path, "v3", "2022-06-01", "2023-06-01")
    # Worked by hand: v3 shares 2022-06-01..2022-12-31 with v1 and 2023-01-01..2023-06-01 with v2.
    assert v3["warnings"] == [
        "validity of beats:v3 (2022-06-01..2023-06-01) overlaps beats:v1 (2022-01-01..2022-12-31)"
        " on 2022-06-01..2022-12-31: beats:v3 is used there (latest valid_from)",
        "validity of beats:v3 (2022-06-01..2023-06-01) overlaps beats:v2 (2023-01-01..)"
        " on 2023-01-01..2023-06-01: beats:v2 is used there (latest valid_from)",
    ]
    # Resolution stays deterministic: the latest valid_from in force.
    assert atlas.areas.resolve("beats@2022-09-01").version == "v3"
    assert atlas.areas.resolve("beats@2023-03-01").version == "v2"


@pytest.mark.parametrize(
    ("deleted", "edge"),
    [("E05007274", False), ("E05007278", True)],  # an interior ward; Ewell Court, on the edge
)
def test_a_deleted_ward_is_reported_as_a_gap(
    atlas: Atlas, tmp_path: Path, shared_data: Path, deleted: str, edge: bool
) -> None:
    w19 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    gone = w19["WD19CD"].eq(deleted)
    ward = w19.geometry[gone].iloc[0]
    assert ward.boundary.intersects(w19.union_all().boundary) == edge
    path = tmp_path / "holed.gpkg"
    w19[~gone].to_file(path)
    # A new version of the set whose other versions cover the county: the ward is a gap.
    rec = atlas.import_boundaries(
        spec(path, "wards", "2019b", "2020-01-01", None, "WD19CD", "WD19NM")
    )
    gaps = rec.report["gaps"]
    assert len(gaps) == 1
    area, x, y = gaps[0]
    assert area == pytest.approx(ward.area, rel=1e-9)  # geopandas' (shapely's) area of the ward
    assert ward.contains(shapely.Point(x, y))
