"""Acceptance fixes for analysis: diffs, reassign, emerging months, population, CSV, extents.

Each test was written against a reported defect and failed before its fix. Expected values come
from independent sources: the ONS ward-to-district lookup, SOURCES.md (which districts changed
wards 2013 -> 2019), geopandas joins of points projected with pyproj + OSTN15, populations summed
from the ONS CSV, esda's Gi* and a written-out Mann-Kendall test.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import esda
import geopandas as gpd
import libpysal
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from scipy import stats

from app.access.tokens import create_token
from app.atlas import Atlas
from app.services.crosswalks import read_aggregate
from tests.app.conftest import make_settings
from tests.app.test_accept_analysis import (
    bh,
    check_gi_star,
    lattice_queen,
    mann_kendall,
    surrey_cells,
)
from tests.app.test_accept_boundaries import (
    accepted_points,
    cli,
    cli_json,
    concat_csv,
    open_client,
    police_points,
    private_store,
    recount,
    shared_folder,
    spec,
    squares,
)

CHANGED_DISTRICTS = {"Elmbridge", "Woking", "Reigate and Banstead", "Runnymede", "Surrey Heath"}
DATASET = "surrey"
#: Surrey 2022-01 .. 2022-11 and 2023-01: 2022-12 is not held (as in the shared data).
MONTHS = [f"2022-{m:02d}" for m in range(1, 12)] + ["2023-01"]
HAMPSHIRE = "hampshire"


def _build(folder: Path, template: Path, shared: Path) -> None:
    db = folder / "atlas.db"
    shutil.copy(template, db)
    files = sorted((shared / "crime" / "surrey").glob("*.csv"))
    concat_csv([f for f in files if f.name[:7] in MONTHS], folder / "surrey.csv")
    atlas = Atlas.open(settings=make_settings(db, max_distance_km=0))
    try:
        atlas.ingest([folder / "surrey.csv"], DATASET, profile="police-uk", access="open")
        hants = shared / "crime" / "national" / "2022-06" / "2022-06-hampshire-street.csv.gz"
        atlas.ingest([hants], HAMPSHIRE, profile="police-uk", access="open")
        (folder / "token").write_text(create_token(atlas.store, "analyst")[1])
    finally:
        atlas.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, template_db: Path, shared_data: Path) -> Path:
    return shared_folder(tmp_path_factory, "fixes", lambda f: _build(f, template_db, shared_data))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Path:
    return private_store(tmp_path_factory, built)


@pytest.fixture(scope="module")
def http(store: Path, built: Path) -> Iterator[TestClient]:
    """An analyst's client (nothing suppressed)."""
    for _atlas, client in open_client(store):
        client.headers["Authorization"] = f"Bearer {(built / 'token').read_text()}"
        yield client


@pytest.fixture(scope="module")
def points(built: Path, shared_data: Path) -> pd.DataFrame:
    """Located Surrey rows the product keeps (max distance lifted), projected independently."""
    rows = accepted_points(shared_data, built / "surrey.csv")
    return rows[rows.e.notna()]


def hotspots(client: TestClient, **params: Any) -> Any:
    res = client.get("/api/v1/hotspots", params=params)
    assert res.status_code == 200, res.text
    return res.json()


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


# ----------------------------------------------------------------------------- emerging months


def test_emerging_refuses_a_period_whose_months_are_not_held(store: Path) -> None:
    args = ["hotspots", "--dataset", DATASET, "--grid", "1000", "--method", "emerging"]
    proc = cli(*args, "--from", "2022-01", "--to", "2022-12", db=store, check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert "only 11 of the 12 months 2022-01..2022-12 are held" in proc.stderr
    # The same wording as `atlas change` uses for months not held.
    args = ["change", "--dataset", DATASET, "--by", "districts", "--compare", "previous"]
    change = cli(*args, "--from", "2022-12", "--to", "2022-12", db=store, check=False)
    assert change.returncode != 0 and "only 0 of the 1 months" in change.stderr


def test_emerging_slices_are_the_months_held(
    http: TestClient, points: pd.DataFrame, shared_data: Path
) -> None:
    # 2022-01 .. 2023-01 spans 13 months; 12 are held. December 2022 is unknown, not zero.
    out = hotspots(
        http,
        dataset=DATASET,
        method="emerging",
        by="wards:2019",
        **{"from": "2022-01"},
        to="2023-01",
    )
    meta, props = out["meta"], pd.DataFrame([f["properties"] for f in out["features"]])
    assert meta["time_slices"] == 12
    assert meta["months"] == {"requested": 13, "held": 12, "missing": ["2022-12"]}
    assert any("2022-12" in c for c in meta["caveats"])
    w19 = wards(shared_data, "2019")
    w = libpysal.weights.Queen.from_dataframe(w19, use_index=False, silence_warnings=True)
    z = np.empty((len(w19), len(MONTHS)))
    for t, month in enumerate(MONTHS):
        pts = points[points.Month == month]
        counts = recount(pts.e.to_numpy(), pts.n.to_numpy(), w19, "WD19CD")[0].to_numpy()
        z[:, t] = esda.G_Local(counts.astype(float), w, transform="B", star=True, permutations=0).Zs
    q = np.column_stack([bh(2 * stats.norm.sf(np.abs(z[:, t]))) for t in range(len(MONTHS))])
    hot = (q < 0.05) & (z > 0)
    assert (props.months_hot.to_numpy() == hot.sum(axis=1)).all()
    trend = np.array([mann_kendall(row) for row in z])
    np.testing.assert_allclose(props.trend_z, trend[:, 0], atol=5.1e-5)
    # A ward hot in the last month held (2023-01) is a current hot spot, never "historical".
    final_hot = hot[:, -1]
    assert final_hot.any()
    assert not props.category[final_hot].str.startswith("historical").any()


# ----------------------------------------------------------------------------- population layer

GRID_M = 2000  # a 2 km grid over Hampshire: 1,658 squares, more features than the 709 LSOAs


@pytest.fixture(scope="module")
def pop_store(tmp_path_factory: pytest.TempPathFactory, built: Path, shared_data: Path) -> Path:
    """The store plus a Hampshire grid with 2019 and 2023 populations, and a set reaching beyond
    Surrey."""
    db = private_store(tmp_path_factory, built)
    folder = db.parent
    grid = squares(404_000, 90_000, 482_000, 175_000, GRID_M, "HK")
    grid.to_file(folder / "hk.gpkg")
    pd.DataFrame({"code": grid.code, "people": 100}).to_csv(folder / "hk.csv", index=False)
    districts = gpd.read_file(shared_data / "boundaries" / "surrey_districts.gpkg")
    square = shapely.box(440_000, 120_000, 442_000, 122_000)  # in Hampshire, outside the LSOAs
    mixed = gpd.GeoDataFrame(
        {
            "code": [*districts.LAD_CD, "HAM"],
            "name": [*districts.LAD_NM, "Hampshire square"],
        },
        geometry=[*districts.geometry, square],
        crs=27700,
    )
    mixed.to_file(folder / "mixed.gpkg")
    atlas = Atlas.open(settings=make_settings(db))
    try:
        atlas.import_boundaries(spec(folder / "hk.gpkg", "hk", "1", "2020-01-01"))
        # The same year as the LSOA population (chosen among that year's layers by cover) and a
        # nearer year that only Hampshire has (never chosen for Surrey for being nearer).
        atlas.import_population(folder / "hk.csv", "hk:1", "code", "people", 2019)
        atlas.import_population(folder / "hk.csv", "hk:1", "code", "people", 2023)
        atlas.import_boundaries(spec(folder / "mixed.gpkg", "mixed", "1", "2020-01-01"))
    finally:
        atlas.close()
    return db


@pytest.fixture(scope="module")
def lsoa_by_district(shared_data: Path) -> pd.Series:
    pop = pd.read_csv(shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv")
    return pop.groupby("LAD_CD")["population_mid2019"].sum()


def test_rates_use_the_layer_that_covers_the_districts(
    pop_store: Path, lsoa_by_district: pd.Series
) -> None:
    out = cli_json("counts", "--dataset", DATASET, "--by", "districts", "--rates", db=pop_store)
    rates = out["meta"]["rates"]
    assert rates["population_source"] == "lsoa:2011" and rates["population_year"] == 2019
    assert "hk:1" in rates["population_choice"] and "lsoa:2011" in rates["population_choice"]
    got = pd.Series({r["area_code"]: r["population"] for r in out["rows"]})
    assert (got == lsoa_by_district.reindex(got.index)).all()
    assert got["E07000215"] == lsoa_by_district["E07000215"] > 0  # Tandridge, was 0


def test_an_area_no_population_layer_covers_gets_null_not_zero(
    pop_store: Path, lsoa_by_district: pd.Series
) -> None:
    out = cli_json("counts", "--dataset", DATASET, "--by", "mixed", "--rates", db=pop_store)
    rows = {r["area_code"]: r for r in out["rows"]}
    assert out["meta"]["rates"]["population_source"] == "lsoa:2011"
    for code, people in lsoa_by_district.items():
        assert rows[code]["population"] == people
    assert rows["HAM"]["population"] is None and rows["HAM"]["rate_per_1000"] is None
    assert any("Hampshire square" in c and "null" in c for c in out["meta"]["caveats"])


def test_population_weights_come_from_the_covering_layer(pop_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(_table(["E07000209"], [1000]))
    args = ["reassign", str(path), "--from", "districts:2013", "--to", "wards:2019"]
    out = cli_json(
        *args, "--code-field", "code", "--value-field", "n", "--weights", "population", db=pop_store
    )
    assert "lsoa:2011 population 2019" in out["meta"]["weights"]
    assert sum(r["value"] for r in out["rows"]) == 1000


# ----------------------------------------------------------------------------- CSV provenance

PROVENANCE = ["boundary", "period_from", "period_to"]


def read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"period_from": str, "period_to": str})


def test_counts_csv_carries_its_provenance(
    http: TestClient, built: Path, shared_data: Path, points: pd.DataFrame
) -> None:
    params = {"dataset": DATASET, "by": "wards:2019", "from": "2022-06", "to": "2022-08"}
    res = http.get("/api/v1/counts", params={**params, "format": "csv"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    table = read_csv(res.text)
    assert list(table.columns) == ["area_code", "area_name", "count", *PROVENANCE]
    assert (table.boundary == "wards:2019").all()
    assert (table.period_from == "2022-06").all() and (table.period_to == "2022-08").all()
    # Counts, unlocated and outside recounted independently (geopandas, the raw police.uk rows).
    months = {"2022-06", "2022-07", "2022-08"}
    pts = points[points.Month.isin(months)]
    counts, outside, _ = recount(
        pts.e.to_numpy(), pts.n.to_numpy(), wards(shared_data, "2019"), "WD19CD"
    )
    assert (table.set_index("area_code")["count"] == counts).all()
    raw = pd.read_csv(built / "surrey.csv", dtype=str, keep_default_na=False)
    unlocated = int((raw.Month.isin(months) & (raw.Longitude == "")).sum())
    assert res.headers["Atlas-Boundary"] == "wards:2019"
    assert res.headers["Atlas-Period"] == "2022-06..2022-08"
    assert res.headers["Atlas-Method"] == "point recount"
    assert res.headers["Atlas-Unlocated"] == str(unlocated)
    assert res.headers["Atlas-Outside"] == str(outside)


def test_every_analysis_csv_has_the_provenance_columns(
    http: TestClient, store: Path, shared_data: Path
) -> None:
    change = http.get(
        "/api/v1/change",
        params={"dataset": DATASET, "by": "districts", "from": "2023-01", "format": "csv"},
    )
    spots = http.get(
        "/api/v1/hotspots",
        params={
            "dataset": DATASET,
            "by": "wards:2019",
            "from": "2022-03",
            "to": "2022-03",
            "format": "csv",
        },
    )
    w13 = wards(shared_data, "2013")
    body = _table(w13.WD13CD.tolist(), [1] * len(w13))
    moved = http.post(
        "/api/v1/reassign",
        files={"file": ("t.csv", body, "text/csv")},
        data={
            "from": "wards:2013",
            "to": "wards:2019",
            "code_field": "code",
            "value_field": "n",
            "format": "csv",
        },
    )
    cli_csv = cli(
        "counts",
        "--dataset",
        DATASET,
        "--by",
        "districts",
        "--format",
        "csv",
        "--from",
        "2022-01",
        "--to",
        "2022-01",
        db=store,
    ).stdout
    expected = {
        "change": (change.text, "districts:2013", "2023-01", "2023-01"),
        "hotspots": (spots.text, "wards:2019", "2022-03", "2022-03"),
        "reassign": (moved.text, "wards:2019", None, None),
        "cli counts": (cli_csv, "districts:2013", "2022-01", "2022-01"),
    }
    for kind, (text, boundary, first, last) in expected.items():
        table = read_csv(text)
        assert list(table.columns[-3:]) == PROVENANCE, kind
        assert (table.boundary == boundary).all(), kind
        for col, want in (("period_from", first), ("period_to", last)):
            assert (table[col] == want).all() if want else table[col].isna().all(), kind
    assert len(read_csv(moved.text)) == 187 and read_csv(moved.text)["value"].sum() == 206
    assert spots.headers["Atlas-Method"] == "gi_star"
    assert moved.headers["Atlas-Method"] == "crosswalk (area-weighted)"


# ----------------------------------------------------------------------------- hotspot extent


@pytest.fixture(scope="module")
def hants_points(shared_data: Path) -> pd.DataFrame:
    csv = shared_data / "crime" / "national" / "2022-06" / "2022-06-hampshire-street.csv.gz"
    rows = police_points(shared_data, csv)
    return rows[rows.e.notna()]


def cell_counts(pts: pd.DataFrame, cell_m: int) -> pd.Series:
    """Independent histogram of projected points on BNG cells, indexed by (i, j)."""
    cells = pd.Series(1, index=pd.MultiIndex.from_arrays([pts.e // cell_m, pts.n // cell_m]))
    return cells.groupby(level=[0, 1]).sum()


def test_another_forces_data_on_the_partnership_extent_is_caveated(
    store: Path, shared_data: Path, hants_points: pd.DataFrame
) -> None:
    out = cli_json("hotspots", "--dataset", HAMPSHIRE, "--grid", "1000", db=store)
    hist = cell_counts(hants_points, 1000)
    inside = int(hist[hist.index.isin(list(surrey_cells(shared_data, 1000)))].sum())
    located = len(hants_points)
    assert located == 16_964  # SOURCES.md: no Hampshire row lacks coordinates
    assert out["meta"]["in_analysis"] == inside
    outside = located - inside
    assert outside / located > 0.9
    assert any(
        f"{outside:,} of {located:,} located incidents" in c and "--extent" in c
        for c in out["meta"]["caveats"]
    )
    # Surrey's own data: about 1% lies outside the county (SOURCES.md): no such caveat.
    own = cli_json(
        "hotspots",
        "--dataset",
        DATASET,
        "--grid",
        "1000",
        "--from",
        "2022-06",
        "--to",
        "2022-06",
        db=store,
    )
    assert not any("outside the analysed extent" in c for c in own["meta"]["caveats"])


def test_data_extent_analyses_where_the_incidents_are(
    http: TestClient, hants_points: pd.DataFrame
) -> None:
    out = hotspots(http, dataset=HAMPSHIRE, grid=1000, extent="data")
    got = pd.DataFrame([f["properties"] for f in out["features"]])
    hist = cell_counts(hants_points, 1000)
    # Independently: the occupied cells and their eight neighbours, by set arithmetic.
    occupied = set(hist.index.tolist())
    expected = {(i + a, j + b) for i, j in occupied for a in (-1, 0, 1) for b in (-1, 0, 1)}
    assert set(zip(got.cell_i, got.cell_j, strict=True)) == expected
    counts = hist.reindex(pd.MultiIndex.from_arrays([got.cell_i, got.cell_j]), fill_value=0)
    check_gi_star(
        got, counts.to_numpy(), lattice_queen(got.cell_i.to_numpy(), got.cell_j.to_numpy())
    )
    assert out["meta"]["in_analysis"] == len(hants_points) == int(counts.sum())
    assert out["meta"]["params"]["extent"] == "data"
    assert not any("outside the analysed extent" in c for c in out["meta"]["caveats"])


def test_a_boundary_selector_is_the_extent(pop_store: Path, hants_points: pd.DataFrame) -> None:
    args = ["hotspots", "--dataset", HAMPSHIRE, "--grid", "2000", "--extent", "hk:1"]
    out = cli_json(*args, db=pop_store)
    got = pd.DataFrame([f["properties"] for f in out["features"]])
    # The hk:1 squares are the 2 km cells of [404, 482) x [90, 174) km: the extent's cells.
    i, j = (a.ravel() for a in np.meshgrid(np.arange(202, 241), np.arange(45, 87)))
    assert set(zip(got.cell_i, got.cell_j, strict=True)) == set(zip(i, j, strict=True))
    hist = cell_counts(hants_points, 2000)
    assert out["meta"]["in_analysis"] == int(
        hist.reindex(list(zip(got.cell_i, got.cell_j, strict=True)), fill_value=0).sum()
    )
    assert "hk:1" in out["meta"]["features"]
    bad = cli(
        "hotspots",
        "--dataset",
        HAMPSHIRE,
        "--by",
        "hk:1",
        "--extent",
        "data",
        db=pop_store,
        check=False,
    )
    assert bad.returncode != 0 and "--extent is for grid hotspots" in bad.stderr
