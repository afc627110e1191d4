"""Acceptance, issue 5: rates, change, time of day and hotspots as a new user meets them.

Data: the police.uk Surrey files of 2022-05, 2022-06 and 2023-01..2024-01 combined into one CSV
(one ingest), a partner CSV with time windows under a TOML mapping profile, and Hampshire's
2022-06 file on a 5 km grid with a synthetic population. Every expected figure is computed here
independently: points projected with pyproj + OSTN15 and joined with geopandas, populations summed
from the ONS CSV, intervals from scipy.stats.chi2, tests from scipy.stats.binomtest, Gi* and local
Moran from esda/libpysal, q-values from statsmodels, smoothing from esda.smoothing.
"""

from __future__ import annotations

import io
import json
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
from esda.smoothing import Empirical_Bayes
from fastapi.testclient import TestClient
from scipy import stats
from scipy.spatial import cKDTree
from statsmodels.stats.multitest import multipletests

from app.access.tokens import create_token
from app.atlas import Atlas
from tests.app.conftest import make_settings
from tests.app.test_accept_boundaries import (
    accepted_points,
    cli,
    cli_json,
    concat_csv,
    hampshire_grid,
    open_client,
    private_store,
    recount,
    shared_folder,
    spec,
)

DATASET = "surrey"
PARTNER = "partner-asb"
MONTH = "2022-06"
#: 2022-05/06 (never seen by the code) and the thirteen months 2023-01 .. 2024-01; 2022-12 absent.
SURREY_MONTHS = {"2022-05", "2022-06"} | {f"2023-{m:02d}" for m in range(1, 13)} | {"2024-01"}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DIRECTION_OF_SIGN = {1: "worse", -1: "better"}
GI_ATOL = 1e-6

# ----------------------------------------------------------------------------- partner data

PROFILE = """\
name = "partner-asb"
description = "A partner's burglary log: reference, type, window start/end, grid reference"
[columns]
record_id = "ref"
category = "type"
[dates]
from = "start"
to = "end"
[[locations]]
kind = "en"
easting = "easting"
northing = "northing"
"""

# (start, end) of each incident; "" = exact time. Hand-worked: 2023-03-03 is a Friday.
PARTNER_ROWS = [
    ("2023-03-03 22:00", "2023-03-04 06:00"),  # Fri 22:00 -> Sat 06:00: 1/8 in each of 8 hours
    ("2023-03-06 09:30", "2023-03-06 10:30"),  # Mon: half in 09, half in 10
    ("2023-03-05 23:00", "2023-03-06 01:00"),  # Sun 23 -> Mon 00: across the end of the week
    ("2023-03-01 00:00", "2023-03-15 00:00"),  # two weeks: 1/168 in every hour of the week
    ("2023-03-09 08:00", ""),  # Thu 08:00 exactly
] + [("2023-03-08 14:05", "2023-03-08 14:05")] * 10  # ten on Wed at 14:05


def expected_profile() -> np.ndarray:
    """The day x hour table worked out by hand from PARTNER_ROWS."""
    table = np.full((7, 24), 1 / 168)
    for h in (22, 23):
        table[4, h] += 1 / 8
    for h in range(6):
        table[5, h] += 1 / 8
    table[0, 9] += 0.5
    table[0, 10] += 0.5
    table[6, 23] += 0.5
    table[0, 0] += 0.5
    table[3, 8] += 1
    table[2, 14] += 10
    return table


def _partner_csv(path: Path) -> None:
    lines = ["ref,type,start,end,easting,northing"]
    for k, (start, end) in enumerate(PARTNER_ROWS):
        lines.append(f"P{k},Burglary,{start},{end},{499417 + 37 * k},{149731 + 11 * k}")
    path.write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- stores


def _build_surrey(folder: Path, template: Path, shared: Path) -> None:
    db = folder / "atlas.db"
    shutil.copy(template, db)
    files = sorted((shared / "crime" / "surrey").glob("*.csv"))
    concat_csv([f for f in files if f.name[:7] in SURREY_MONTHS], folder / "surrey.csv")
    _partner_csv(folder / "partner.csv")
    (folder / "partner.toml").write_text(PROFILE)
    atlas = Atlas.open(settings=make_settings(db))
    try:
        atlas.ingest([folder / "surrey.csv"], DATASET, profile="police-uk", access="open")
        partner = atlas.ingest(
            [folder / "partner.csv"], PARTNER, profile=str(folder / "partner.toml"), access="open"
        )
        token = create_token(atlas.store, "analyst")[1]
    finally:
        atlas.close()
    state = {"token": token, "partner": partner[0].report}
    (folder / "state.json").write_text(json.dumps(state))


def hampshire_population(grid: gpd.GeoDataFrame) -> pd.Series:
    """A synthetic resident count per square: varied, with some empty (zero) squares."""
    k = np.arange(len(grid))
    pop = 500 + (k * 7919) % 20_000
    pop[k % 11 == 0] = 0
    return pd.Series(pop, index=grid.code.to_numpy())


def _build_hampshire(folder: Path, shared: Path) -> None:
    grid, _rows = hampshire_grid(shared, prefix="HG")
    grid.to_file(folder / "hgrid.gpkg")
    pop = hampshire_population(grid)
    pop.rename_axis("code").rename("people").reset_index().to_csv(folder / "pop.csv", index=False)
    (3 * pop).rename_axis("code").rename("people").reset_index().to_csv(
        folder / "pop3.csv", index=False
    )
    db = folder / "atlas.db"
    settings = make_settings(db, partnership_set="hantsgrid", max_distance_km=0)
    atlas = Atlas.open(settings=settings, migrate=True)
    try:
        for set_name in ("hantsgrid", "hantsgrid3"):  # the same squares, populations P and 3P
            atlas.import_boundaries(spec(folder / "hgrid.gpkg", set_name, "2022", "2022-01-01"))
        atlas.import_population(folder / "pop.csv", "hantsgrid:2022", "code", "people", 2022)
        atlas.import_population(folder / "pop3.csv", "hantsgrid3:2022", "code", "people", 2022)
        csv = shared / "crime" / "national" / "2022-06" / "2022-06-hampshire-street.csv.gz"
        atlas.ingest([csv], "hampshire", profile="police-uk", access="open")
        token = create_token(atlas.store, "analyst")[1]
    finally:
        atlas.close()
    (folder / "state.json").write_text(json.dumps({"token": token}))


@pytest.fixture(scope="module")
def surrey_built(
    tmp_path_factory: pytest.TempPathFactory, template_db: Path, shared_data: Path
) -> Path:
    return shared_folder(
        tmp_path_factory, "analysis", lambda f: _build_surrey(f, template_db, shared_data)
    )


@pytest.fixture(scope="module")
def surrey_db(tmp_path_factory: pytest.TempPathFactory, surrey_built: Path) -> Path:
    return private_store(tmp_path_factory, surrey_built)


@pytest.fixture(scope="module")
def state(surrey_built: Path) -> dict[str, Any]:
    return dict(json.loads((surrey_built / "state.json").read_text()))


@pytest.fixture(scope="module")
def clients(surrey_db: Path, state: dict[str, Any]) -> Iterator[tuple[TestClient, TestClient]]:
    """(analyst client, anonymous client) over the same engine."""
    for _atlas, anonymous in open_client(surrey_db):
        with TestClient(anonymous.app) as analyst:
            analyst.headers["Authorization"] = f"Bearer {state['token']}"
            yield analyst, anonymous


@pytest.fixture(scope="module")
def analyst(clients: tuple[TestClient, TestClient]) -> TestClient:
    return clients[0]


@pytest.fixture(scope="module")
def public(clients: tuple[TestClient, TestClient]) -> TestClient:
    return clients[1]


@pytest.fixture(scope="module")
def hants(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> Iterator[tuple[TestClient, gpd.GeoDataFrame]]:
    folder = shared_folder(
        tmp_path_factory, "analysis-hants", lambda f: _build_hampshire(f, shared_data)
    )
    db = private_store(tmp_path_factory, folder)
    token = json.loads((folder / "state.json").read_text())["token"]
    for _atlas, client in open_client(db, partnership_set="hantsgrid", max_distance_km=0):
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, gpd.read_file(folder / "hgrid.gpkg")


@pytest.fixture(scope="module")
def points(surrey_built: Path, shared_data: Path) -> pd.DataFrame:
    """Located rows the product keeps (within 50 km of Surrey), projected independently."""
    rows = accepted_points(shared_data, surrey_built / "surrey.csv")
    return rows[rows.e.notna() & ~rows.far]


def boundaries(shared: Path, name: str) -> gpd.GeoDataFrame:
    return gpd.read_file(shared / "boundaries" / f"surrey_{name}.gpkg")


def month_counts(points: pd.DataFrame, month: str, areas: gpd.GeoDataFrame, code: str) -> pd.Series:
    pts = points[points.Month == month]
    return recount(pts.e.to_numpy(), pts.n.to_numpy(), areas, code)[0]


def get(client: TestClient, path: str, **params: Any) -> Any:
    res = client.get(path, params=params)
    assert res.status_code == 200, res.text
    return res.json()


def garwood(count: np.ndarray, population: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson 95% limits per 1,000 (chi-square form)."""
    low = np.where(count > 0, stats.chi2.ppf(0.025, 2 * count) / 2, 0.0)
    high = stats.chi2.ppf(0.975, 2 * count + 2) / 2
    return 1000 * low / population, 1000 * high / population


def bh(p: np.ndarray) -> np.ndarray:
    return np.asarray(multipletests(p, method="fdr_bh")[1])


def expected_bins(gi_z: np.ndarray, q: np.ndarray) -> np.ndarray:
    level = np.select([q < 0.01, q < 0.05, q < 0.10], [3, 2, 1], 0)
    return np.sign(gi_z).astype(int) * level


# ----------------------------------------------------------------------------- rates


@pytest.fixture(scope="module")
def lsoa_population(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv")


def _rows(data: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(data["rows"]).set_index("area_code")


def test_district_rates_match_independent_calculation(
    surrey_db: Path, points: pd.DataFrame, lsoa_population: pd.DataFrame, shared_data: Path
) -> None:
    args = ["counts", "--dataset", DATASET, "--by", "districts", "--from", MONTH, "--to", MONTH]
    data = cli_json(*args, "--rates", db=surrey_db)
    got = _rows(data)
    districts = boundaries(shared_data, "districts")
    count = month_counts(points, MONTH, districts, "LAD_CD")
    assert (got["count"] == count[got.index]).all()
    # LSOAs nest in districts: a district's residents are the sum of its LSOAs' (ONS CSV).
    people = lsoa_population.groupby("LAD_CD").population_mid2019.sum()[got.index]
    np.testing.assert_allclose(got.population, people, atol=0.5)
    k, pop = got["count"].to_numpy(), people.to_numpy(float)
    low, high = garwood(k, pop)
    np.testing.assert_allclose(got.rate_per_1000, 1000 * k / pop, rtol=1e-3)
    np.testing.assert_allclose(got.ci_low, low, rtol=1e-3)
    np.testing.assert_allclose(got.ci_high, high, rtol=1e-3)
    # With the product's own population the arithmetic is exact (outputs rounded to 4 dp).
    own_low, own_high = garwood(k, got.population.to_numpy(float))
    np.testing.assert_allclose(got.rate_per_1000, 1000 * k / got.population, atol=5.1e-5)
    np.testing.assert_allclose(got.ci_low, own_low, atol=5.1e-5)
    np.testing.assert_allclose(got.ci_high, own_high, atol=5.1e-5)
    assert (got.unstable == (got["count"] < 10)).all()
    rates = data["meta"]["rates"]
    assert rates["population_year"] == 2019 and "Garwood" in rates["interval"]
    assert rates["unstable_below"] == 10


def test_district_population_is_the_sum_of_its_lsoas(
    analyst: TestClient, lsoa_population: pd.DataFrame
) -> None:
    got = _rows(get(analyst, "/api/v1/counts", dataset=DATASET, by="districts", rates=True))
    people = lsoa_population.groupby("LAD_CD").population_mid2019.sum()[got.index]
    np.testing.assert_allclose(got.population, people, atol=0.5)


def test_ward_rates_match_nested_population_rollup(
    analyst: TestClient, points: pd.DataFrame, lsoa_population: pd.DataFrame, shared_data: Path
) -> None:
    data = get(
        analyst,
        "/api/v1/counts",
        dataset=DATASET,
        by="wards:2019",
        rates="true",
        **{"from": MONTH, "to": MONTH},
    )
    got = _rows(data)
    wards = boundaries(shared_data, "wards_2019")
    assert (got["count"] == month_counts(points, MONTH, wards, "WD19CD")[got.index]).all()
    # No ward population is published. The product rolls LSOAs up as its meta says: an LSOA
    # with >= 95% of its area in one ward goes wholly there; any other LSOA covered >= 90% by
    # the wards is spread by its area shares rescaled to 1 (edge slivers are generalisation).
    # Recomputed here with a geopandas overlay.
    assert "whole areas where they nest" in data["meta"]["rates"]["population_method"]
    lsoa = boundaries(shared_data, "lsoa_2011").merge(
        lsoa_population[["LSOA11CD", "population_mid2019"]]
    )
    lsoa["lsoa_area"] = lsoa.area
    pieces = gpd.overlay(
        lsoa[["LSOA11CD", "population_mid2019", "lsoa_area", "geometry"]],
        wards[["WD19CD", "geometry"]],
        keep_geom_type=True,
    )
    pieces["share"] = pieces.area / pieces.lsoa_area
    by_lsoa = pieces.groupby("LSOA11CD")["share"]
    pieces["best"] = by_lsoa.transform("max")
    pieces["covered"] = by_lsoa.transform("sum")
    nests = pieces.best >= 0.95
    weight = np.where(
        nests,
        (pieces.share == pieces.best).astype(float),
        np.where(pieces.covered >= 0.9, pieces.share / pieces.covered, pieces.share),
    )
    people = (pieces.population_mid2019 * weight).groupby(pieces.WD19CD).sum()[got.index]
    np.testing.assert_allclose(got.population, people, atol=0.5, rtol=1e-5)
    k, pop = got["count"].to_numpy(), people.to_numpy(float)
    low, high = garwood(k, pop)
    np.testing.assert_allclose(got.rate_per_1000, 1000 * k / pop, rtol=1e-4, atol=5.1e-5)
    np.testing.assert_allclose(got.ci_low, low, rtol=1e-4, atol=5.1e-5)
    np.testing.assert_allclose(got.ci_high, high, rtol=1e-4, atol=5.1e-5)
    assert (got.unstable == (got["count"] < 10)).all() and got.unstable.any()
    assert any("unstable" in c for c in data["meta"]["caveats"])


def test_another_force_rates_and_scaling(
    hants: tuple[TestClient, gpd.GeoDataFrame], shared_data: Path
) -> None:
    client, grid = hants
    got = _rows(get(client, "/api/v1/counts", dataset="hampshire", by="hantsgrid", rates="true"))
    got3 = _rows(get(client, "/api/v1/counts", dataset="hampshire", by="hantsgrid3", rates="true"))
    _, rows = hampshire_grid(shared_data)
    i = (rows.e // 5000).astype(int).astype(str)
    j = (rows.n // 5000).astype(int).astype(str)
    count = ("HG_" + i + "_" + j).value_counts().reindex(got.index, fill_value=0)
    assert (got["count"] == count).all() and (got3["count"] == count).all()
    pop = hampshire_population(grid)[got.index]
    has = pop > 0
    np.testing.assert_allclose(got.population[has], pop[has])
    assert got.rate_per_1000[~has].isna().all()  # no residents, no rate
    k, p = count[has].to_numpy(), pop[has].to_numpy(float)
    low, high = garwood(k, p)
    np.testing.assert_allclose(got.rate_per_1000[has], 1000 * k / p, atol=5.1e-5)
    np.testing.assert_allclose(got.ci_low[has], low, atol=5.1e-5)
    np.testing.assert_allclose(got.ci_high[has], high, atol=5.1e-5)
    # Rates scale with population: three times the residents, a third of the rate and limits.
    for col in ("rate_per_1000", "ci_low", "ci_high"):
        np.testing.assert_allclose(3 * got3[col][has], got[col][has], atol=3 * 5.1e-5)
    assert (got.unstable[has] == (got["count"][has] < 10)).all()


# ----------------------------------------------------------------------------- Gi* hotspots


def features_frame(geojson: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame([f["properties"] for f in geojson["features"]])


def check_gi_star(got: pd.DataFrame, counts: np.ndarray, w: libpysal.weights.W) -> None:
    """gi_z against esda (binary weights with self), p two-sided normal, q BH, bins per INTERFACE."""
    assert (got["count"].to_numpy() == counts).all()
    ref = esda.G_Local(counts.astype(float), w, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(got.gi_z, ref.Zs, rtol=0, atol=GI_ATOL)
    np.testing.assert_allclose(got.p_value, 2 * stats.norm.sf(np.abs(ref.Zs)), rtol=1e-6)
    np.testing.assert_allclose(got.q_value, bh(got.p_value.to_numpy()), rtol=1e-9, atol=1e-12)
    assert (got.hotspot_bin.to_numpy() == expected_bins(ref.Zs, got.q_value.to_numpy())).all()
    assert (got.hotspot_bin > 0).any() and (got.hotspot_bin == 0).any()


def lattice_queen(cell_i: np.ndarray, cell_j: np.ndarray) -> libpysal.weights.W:
    """libpysal lat2W queen contiguity over the cells' bounding lattice, kept to these cells."""
    nx, ny = int(cell_i.max() - cell_i.min() + 1), int(cell_j.max() - cell_j.min() + 1)
    lattice = libpysal.weights.lat2W(ny, nx, rook=False)
    ids = ((cell_j - cell_j.min()) * nx + (cell_i - cell_i.min())).tolist()
    pos = {cid: k for k, cid in enumerate(ids)}
    neighbours = {k: [pos[b] for b in lattice.neighbors[c] if b in pos] for k, c in enumerate(ids)}
    return libpysal.weights.W(neighbours, silence_warnings=True)


def surrey_cells(shared: Path, cell_m: int) -> set[tuple[int, int]]:
    """BNG cells (i, j) whose square meets the Surrey outline (the study region), by shapely."""
    outline = boundaries(shared, "districts").union_all()
    x0, y0, x1, y1 = (int(v // cell_m) for v in outline.bounds)
    i, j = (a.ravel() for a in np.meshgrid(np.arange(x0 - 1, x1 + 2), np.arange(y0 - 1, y1 + 2)))
    boxes = shapely.box(i * cell_m, j * cell_m, (i + 1) * cell_m, (j + 1) * cell_m)
    meets = shapely.intersects(boxes, outline)
    return set(zip(i[meets].tolist(), j[meets].tolist(), strict=True))


def test_gi_star_on_a_1000m_grid_matches_esda(
    surrey_db: Path, points: pd.DataFrame, shared_data: Path
) -> None:
    args = ["hotspots", "--dataset", DATASET, "--grid", "1000", "--from", MONTH, "--to", MONTH]
    geojson = cli_json(*args, db=surrey_db)
    assert "27700" in json.dumps(geojson["crs"])
    got = features_frame(geojson)
    assert set(zip(got.cell_i, got.cell_j, strict=True)) == surrey_cells(shared_data, 1000)
    first = shapely.geometry.shape(geojson["features"][0]["geometry"])
    i0, j0 = got.cell_i[0], got.cell_j[0]
    assert first.bounds == (i0 * 1000, j0 * 1000, (i0 + 1) * 1000, (j0 + 1) * 1000)
    # Independent histogram of the month's projected points, read at the product's cells.
    pts = points[points.Month == MONTH]
    cells = pd.Series(1, index=pd.MultiIndex.from_arrays([pts.e // 1000, pts.n // 1000]))
    hist = cells.groupby(level=[0, 1]).sum()
    counts = hist.reindex(pd.MultiIndex.from_arrays([got.cell_i, got.cell_j]), fill_value=0)
    w = lattice_queen(got.cell_i.to_numpy(), got.cell_j.to_numpy())
    check_gi_star(got, counts.to_numpy(), w)
    meta = geojson["meta"]
    assert meta["in_analysis"] == int(counts.sum())


def test_gi_star_on_2019_wards_matches_esda(
    analyst: TestClient, points: pd.DataFrame, shared_data: Path
) -> None:
    params = {"dataset": DATASET, "by": "wards:2019", "from": MONTH, "to": MONTH}
    res = analyst.get("/api/v1/hotspots", params=params)
    assert res.status_code == 200 and res.headers["content-type"] == "application/geo+json"
    geojson = res.json()
    got = features_frame(geojson)
    wards = boundaries(shared_data, "wards_2019")
    assert list(got.area_code) == list(wards.WD19CD)
    counts = month_counts(points, MONTH, wards, "WD19CD").to_numpy()
    # libpysal's shared-vertex queen finds the same neighbours as the product on these wards.
    w = libpysal.weights.Queen.from_dataframe(wards, use_index=False, silence_warnings=True)
    check_gi_star(got, counts, w)
    assert geojson["meta"]["boundary"]["selector"] == "wards:2019"


def test_gi_star_on_another_force_matches_esda(hants: tuple[TestClient, gpd.GeoDataFrame]) -> None:
    client, grid = hants
    res = client.get("/api/v1/hotspots", params={"dataset": "hampshire", "by": "hantsgrid"})
    assert res.status_code == 200
    got = features_frame(res.json())
    counts = _rows(get(client, "/api/v1/counts", dataset="hampshire", by="hantsgrid"))["count"]
    w = libpysal.weights.Queen.from_dataframe(grid, use_index=False, silence_warnings=True)
    check_gi_star(got, counts.to_numpy(), w)


# ----------------------------------------------------------------------------- change


def test_change_on_last_year_matches_binomial_test(
    surrey_db: Path, points: pd.DataFrame, shared_data: Path
) -> None:
    args = ["change", "--dataset", DATASET, "--by", "wards:2019", "--from", "2024-01"]
    data = cli_json(*args, "--to", "2024-01", "--compare", "last_year", db=surrey_db)
    got = _rows(data)
    wards = boundaries(shared_data, "wards_2019")
    now = month_counts(points, "2024-01", wards, "WD19CD")[got.index]
    then = month_counts(points, "2023-01", wards, "WD19CD")[got.index]
    assert (got.current == now).all() and (got.previous == then).all()
    p = np.array(
        [
            stats.binomtest(int(a), int(a + b), 0.5).pvalue if a + b else 1.0
            for a, b in zip(now, then, strict=True)
        ]
    )
    np.testing.assert_allclose(got.p_value, p, atol=5e-7)
    sign = np.sign(now - then)
    label = np.where(p < 0.05, sign.map(DIRECTION_OF_SIGN), "no significant change")
    assert (got.direction.to_numpy() == label).all()
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100 * (now / then - 1)
    np.testing.assert_allclose(got["pct_change"][then > 0], pct[then > 0], atol=5.1e-3)
    assert set(got.direction) >= {"no significant change"} and (p < 0.05).any()
    meta = data["meta"]
    assert meta["period"] == {"from": "2024-01", "to": "2024-01"}
    assert meta["comparison_period"] == {"from": "2023-01", "to": "2023-01"}


def test_change_on_previous_period_and_missing_months(analyst: TestClient) -> None:
    data = get(
        analyst,
        "/api/v1/change",
        dataset=DATASET,
        by="districts",
        compare="previous",
        **{"from": "2022-06", "to": "2022-06"},
    )
    assert data["meta"]["comparison_period"] == {"from": "2022-05", "to": "2022-05"}
    for row in data["rows"]:
        a, b = row["current"], row["previous"]
        assert row["p_value"] == pytest.approx(stats.binomtest(a, a + b, 0.5).pvalue, abs=5e-7)
    # 2022-12 was never published in the shared data: say so rather than compare with nothing.
    res = analyst.get(
        "/api/v1/change",
        params={
            "dataset": DATASET,
            "by": "districts",
            "compare": "previous",
            "from": "2023-01",
            "to": "2023-01",
        },
    )
    assert res.status_code == 404 and "2022-12" in res.json()["detail"]


# ----------------------------------------------------------------------------- time of day


def test_time_profile_of_partner_windows(surrey_db: Path, state: dict[str, Any]) -> None:
    assert state["partner"]["accepted"] == len(PARTNER_ROWS)
    data = cli_json("timeprofile", "--dataset", PARTNER, db=surrey_db)
    table = np.array(data["table"], dtype=float)
    assert data["days"] == list(DAYS) and data["hours"] == list(range(24))
    assert data["method"] == "aoristic"
    assert (data["n_exact"], data["n_window"], data["n_untimed"]) == (11, 4, 0)
    # Cells are published to 3 dp: the total may drift by up to 168 x 0.0005.
    assert table.sum() == pytest.approx(len(PARTNER_ROWS), abs=168 * 5e-4)
    np.testing.assert_allclose(table, expected_profile(), atol=5e-4)
    assert table[4, 22] == pytest.approx(1 / 8 + 1 / 168, abs=5e-4)  # the hand-worked window


def test_time_profile_total_is_conserved_as_published(analyst: TestClient) -> None:
    data = get(analyst, "/api/v1/timeprofile", dataset=PARTNER)
    assert np.array(data["table"], dtype=float).sum() == pytest.approx(len(PARTNER_ROWS), abs=1e-6)


def test_time_profile_says_police_uk_is_month_only(analyst: TestClient) -> None:
    data = get(analyst, "/api/v1/timeprofile", dataset=DATASET, **{"from": MONTH, "to": MONTH})
    assert data["method"] == "none" and data["n_untimed"] > 0
    assert all(v in (0, 0.0) for row in data["table"] for v in row)
    assert any("month" in c for c in data["caveats"])


# ----------------------------------------------------------------------------- KDE, Moran, EB


def exact_density(
    centres: np.ndarray, pts: np.ndarray, kernel: str, bandwidth_m: float
) -> np.ndarray:
    """Kernel density per km² at ``centres``, summed exactly over every point (scipy KD-tree)."""
    reach = bandwidth_m if kernel == "quartic" else 4 * bandwidth_m
    pairs = cKDTree(centres).sparse_distance_matrix(cKDTree(pts), reach, output_type="coo_matrix")
    d2 = pairs.data**2
    if kernel == "quartic":
        k = 3 / (np.pi * bandwidth_m**2) * (1 - d2 / bandwidth_m**2) ** 2
    else:
        k = np.exp(-d2 / (2 * bandwidth_m**2)) / (2 * np.pi * bandwidth_m**2)
    return 1e6 * np.bincount(pairs.row, weights=k, minlength=len(centres))


@pytest.mark.parametrize(
    ("kernel", "cell_m", "bandwidth_m"), [("quartic", 250, 2500), ("gaussian", 250, 1000)]
)
def test_kde_matches_exact_evaluation(
    analyst: TestClient, points: pd.DataFrame, kernel: str, cell_m: int, bandwidth_m: int
) -> None:
    params = {"dataset": DATASET, "method": "kde", "grid": cell_m, "bandwidth": bandwidth_m}
    res = analyst.get(
        "/api/v1/hotspots", params={**params, "kernel": kernel, "from": MONTH, "to": MONTH}
    )
    assert res.status_code == 200, res.text
    geojson = res.json()
    got = features_frame(geojson)
    centres = np.array(
        [shapely.geometry.shape(f["geometry"]).centroid.coords[0] for f in geojson["features"]]
    )
    # Every point of the month counts, inside Surrey or not (the surface spreads across edges).
    pts = points[points.Month == MONTH][["e", "n"]].to_numpy()
    rng = np.random.default_rng(7)
    sample = np.union1d(
        rng.choice(len(got), 400, replace=False), np.argsort(got.density_per_km2)[-20:]
    )
    exact = exact_density(centres[sample], pts, kernel, bandwidth_m)
    peak = exact.max()
    # Linear binning at cell/bandwidth 0.1 (quartic) or 0.25 (Gaussian): documented < 1 % of peak.
    assert np.abs(got.density_per_km2.to_numpy()[sample] - exact).max() <= 0.01 * peak
    meta = geojson["meta"]
    assert meta["method"] == "kde" and meta["units"] == "incidents per km2"
    assert meta["params"] == {"cell_m": cell_m, "bandwidth_m": bandwidth_m, "kernel": kernel}


@pytest.fixture(scope="module")
def lsoa_month(
    analyst: TestClient, lsoa_population: pd.DataFrame, shared_data: Path
) -> tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame]:
    """2022-06 counts by LSOA (product, checked against a recount) and the CSV population."""
    lsoa = boundaries(shared_data, "lsoa_2011")
    got = _rows(
        get(
            analyst,
            "/api/v1/counts",
            dataset=DATASET,
            by="lsoa:2011",
            **{"from": MONTH, "to": MONTH},
        )
    )
    pop = lsoa_population.set_index("LSOA11CD").population_mid2019[got.index].to_numpy(float)
    return got, pop, lsoa


def lsoa_weights(lsoa: gpd.GeoDataFrame) -> libpysal.weights.W:
    """Queen neighbours of the generalised LSOAs. libpysal's shared-vertex Queen finds none on
    this layer (hair-line slivers between neighbours), so: fuzzy contiguity within 1 cm."""
    return libpysal.weights.fuzzy_contiguity(
        lsoa, buffering=True, buffer=0.005, silence_warnings=True
    )


def test_lsoa_counts_equal_recount(
    lsoa_month: tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame], points: pd.DataFrame
) -> None:
    got, _pop, lsoa = lsoa_month
    assert (got["count"] == month_counts(points, MONTH, lsoa, "LSOA11CD")[got.index]).all()


def test_local_moran_matches_esda(
    analyst: TestClient, lsoa_month: tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame]
) -> None:
    counts, pop, lsoa = lsoa_month
    params = {
        "dataset": DATASET,
        "method": "local_moran",
        "by": "lsoa:2011",
        "from": MONTH,
        "to": MONTH,
    }
    res = analyst.get("/api/v1/hotspots", params=params)
    assert res.status_code == 200, res.text
    got = features_frame(res.json())
    rate = 1000 * counts["count"].to_numpy() / pop
    np.testing.assert_allclose(got.rate_per_1000, rate, atol=5.1e-5)
    ref = esda.Moran_Local(rate, lsoa_weights(lsoa), transformation="r", permutations=0)
    np.testing.assert_allclose(got.local_i, ref.Is, atol=5.1e-7)
    quadrant = pd.Series(ref.q).map({1: "high-high", 2: "low-high", 3: "low-low", 4: "high-low"})
    assert (got.quadrant.to_numpy() == quadrant.to_numpy()).all()
    meta = res.json()["meta"]
    assert meta["method"] == "local_moran" and meta["boundary"]["selector"] == "lsoa:2011"


def test_eb_global_smoothing_matches_esda(
    analyst: TestClient, lsoa_month: tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame]
) -> None:
    counts, pop, _lsoa = lsoa_month
    params = {
        "dataset": DATASET,
        "by": "lsoa:2011",
        "smooth": "eb_global",
        "from": MONTH,
        "to": MONTH,
    }
    data = get(analyst, "/api/v1/counts", **params)
    got = _rows(data)
    ref = Empirical_Bayes(counts["count"].to_numpy(float), pop).r.ravel()
    np.testing.assert_allclose(got.rate_smoothed_per_1000, 1000 * ref, atol=5.1e-5)
    assert data["meta"]["smoothing"]["method"] == "eb_global"


# ----------------------------------------------------------------------------- emerging


def mann_kendall(series: np.ndarray) -> tuple[float, float]:
    """Mann-Kendall z (tie and continuity corrected) and two-sided normal p, written out."""
    n = len(series)
    s = sum(np.sign(series[j] - series[i]) for i in range(n) for j in range(i + 1, n))
    _, ties = np.unique(series, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - np.sum(ties * (ties - 1) * (2 * ties + 5))) / 18
    z = (s - np.sign(s)) / np.sqrt(var) if var > 0 else 0.0
    return float(z), float(2 * stats.norm.sf(abs(z)))


def test_emerging_hotspots_over_twelve_months(
    analyst: TestClient, points: pd.DataFrame, shared_data: Path
) -> None:
    months = [f"2023-{m:02d}" for m in range(1, 13)]
    params = {"dataset": DATASET, "method": "emerging", "by": "wards:2019"}
    res = analyst.get("/api/v1/hotspots", params={**params, "from": months[0], "to": months[-1]})
    assert res.status_code == 200, res.text
    got = features_frame(res.json())
    wards = boundaries(shared_data, "wards_2019")
    w = libpysal.weights.Queen.from_dataframe(wards, use_index=False, silence_warnings=True)
    z = np.empty((len(wards), 12))
    total = np.zeros(len(wards), dtype=int)
    for t, month in enumerate(months):
        counts = month_counts(points, month, wards, "WD19CD").to_numpy()
        total += counts
        z[:, t] = esda.G_Local(counts.astype(float), w, transform="B", star=True, permutations=0).Zs
    q = np.column_stack([bh(2 * stats.norm.sf(np.abs(z[:, t]))) for t in range(12)])
    hot, cold = (q < 0.05) & (z > 0), (q < 0.05) & (z < 0)
    assert (got["count"].to_numpy() == total).all()
    assert (got.months_hot.to_numpy() == hot.sum(axis=1)).all()
    assert (got.months_cold.to_numpy() == cold.sum(axis=1)).all()
    trend = np.array([mann_kendall(row) for row in z])
    np.testing.assert_allclose(got.trend_z, trend[:, 0], atol=5.1e-5)
    np.testing.assert_allclose(got.trend_p, trend[:, 1], rtol=1e-6, atol=1e-12)
    final_hot, final_cold = hot[:, -1], cold[:, -1]
    assert got.category[final_hot].str.endswith("hot spot").all()
    assert got.category[final_cold].str.endswith("cold spot").all()
    quiet = (hot.sum(axis=1) == 0) & (cold.sum(axis=1) == 0)
    assert (got.category[quiet] == "no pattern detected").all()
    assert final_hot.any() and quiet.any()


def test_emerging_needs_twelve_months(surrey_db: Path) -> None:
    args = ["hotspots", "--dataset", DATASET, "--method", "emerging", "--by", "wards:2019"]
    proc = cli(*args, "--from", "2023-02", "--to", "2023-12", db=surrey_db, check=False)
    assert proc.returncode != 0 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "12 months" in proc.stderr and "11" in proc.stderr


# ----------------------------------------------------------------------------- public view

COUNT_KEYS = {"count", "current", "previous", "incidents", "in_areas", "outside", "unlocated"}
COUNT_KEYS |= {"in_analysis", "value"}


def small_counts(doc: Any, path: str = "") -> list[tuple[str, int]]:
    """Every count-like field holding 1..4, anywhere in a JSON document."""
    found: list[tuple[str, int]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key in COUNT_KEYS and type(value) is int and 1 <= value <= 4:
                found.append((f"{path}{key}", value))
            found += small_counts(value, f"{path}{key}.")
    elif isinstance(doc, list):
        for item in doc:
            found += small_counts(item, path)
    return found


def public_requests(small_lsoa: str) -> list[tuple[str, dict[str, Any]]]:
    month = {"from": MONTH, "to": MONTH}
    return [
        ("/api/v1/counts", {"dataset": DATASET, "by": "lsoa:2011", **month}),
        ("/api/v1/counts", {"dataset": DATASET, "by": "lsoa:2011", "rates": "true", **month}),
        ("/api/v1/counts", {"dataset": DATASET, "by": "wards:2019", "category": "Bicycle theft"}),
        ("/api/v1/change", {"dataset": DATASET, "by": "lsoa:2011", "compare": "previous", **month}),
        ("/api/v1/areas/summary", {"dataset": DATASET, "by": "lsoa:2011", "area": small_lsoa}),
        ("/api/v1/hotspots", {"dataset": DATASET, "grid": 500, **month}),
        ("/api/v1/hotspots", {"dataset": DATASET, "by": "lsoa:2011", **month}),
        (
            "/api/v1/hotspots",
            {"dataset": DATASET, "by": "lsoa:2011", "method": "local_moran", **month},
        ),
        ("/api/v1/datasets/surrey/categories", {}),
    ]


@pytest.fixture(scope="module")
def small_lsoa(lsoa_month: tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame]) -> str:
    counts = lsoa_month[0]["count"]
    return str(counts[(counts >= 1) & (counts <= 4)].index[0])


def test_public_view_never_shows_a_count_of_one_to_four(
    public: TestClient, analyst: TestClient, small_lsoa: str
) -> None:
    for path, params in public_requests(small_lsoa):
        seen = get(analyst, path, **params)
        if path != "/api/v1/datasets/surrey/categories":
            assert small_counts(seen), path  # the data behind it does hold small counts
        shown = get(public, path, **params)
        assert small_counts(shown) == [], (path, params, small_counts(shown)[:5])
    csv = public.get(
        "/api/v1/counts", params={"dataset": DATASET, "by": "lsoa:2011", "format": "csv"}
    )
    shown = pd.read_csv(io.StringIO(csv.text))["count"]
    assert not shown.between(1, 4).any()


def test_public_summary_baseline_does_not_reveal_hidden_counts(
    public: TestClient, small_lsoa: str
) -> None:
    series = get(public, "/api/v1/areas/summary", dataset=DATASET, by="lsoa:2011", area=small_lsoa)
    by_month = {s["month"]: s for s in series["series"]}
    for s in series["series"]:
        year, month = int(s["month"][:4]), s["month"][5:]
        earlier = [by_month.get(f"{y}-{month}") for y in range(2022, year)]
        hidden = any(e is not None and e["count"] is None for e in earlier)
        assert not (hidden and s["expected"] is not None), s


def test_summary_baseline_ignores_months_not_held(analyst: TestClient, small_lsoa: str) -> None:
    series = get(analyst, "/api/v1/areas/summary", dataset=DATASET, by="lsoa:2011", area=small_lsoa)
    by_month = {s["month"]: s for s in series["series"]}
    assert by_month["2022-12"]["count"] is None  # not in the shared data
    assert by_month["2023-12"]["expected"] is None


# ----------------------------------------------------------------------------- method named


def _counts_meta(client: TestClient) -> dict[str, Any]:
    return dict(
        get(client, "/api/v1/counts", dataset=DATASET, by="wards:2019", rates="true")["meta"]
    )


def _output_meta(client: TestClient, kind: str) -> dict[str, Any]:
    month = {"from": MONTH, "to": MONTH}
    if kind == "counts":
        return _counts_meta(client)
    if kind == "change":
        change = get(
            client, "/api/v1/change", dataset=DATASET, by="districts", compare="previous", **month
        )
        return dict(change["meta"])
    if kind == "timeprofile":
        return dict(get(client, "/api/v1/timeprofile", dataset=PARTNER))
    params = {
        "gi_star grid": {"grid": 1000},
        "gi_star areas": {"by": "districts"},
        "kde": {"method": "kde", "grid": 1000},
        "local_moran": {"method": "local_moran", "by": "districts"},
        "emerging": {"method": "emerging", "by": "districts", "from": "2023-01", "to": "2023-12"},
    }[kind]
    return dict(get(client, "/api/v1/hotspots", dataset=DATASET, **{**month, **params})["meta"])


def _names_everything(meta: dict[str, Any], kind: str) -> None:
    assert meta.get("method") not in (None, "", "none") or kind == "timeprofile", meta
    assert "params" in meta or "rates" in meta or "compare" in meta or kind == "timeprofile", meta
    period = meta.get("period") or {}
    assert period.get("from") and period.get("to"), meta
    named = json.dumps(meta.get("boundary")) + str(meta.get("features", ""))
    assert kind == "timeprofile" or ":" in named, meta  # a selector such as districts:2013


METHOD_OUTPUTS = [
    "counts",
    "change",
    "gi_star grid",
    "gi_star areas",
    "kde",
    "local_moran",
    "emerging",
    "timeprofile",
]


@pytest.mark.parametrize("kind", METHOD_OUTPUTS)
def test_every_output_names_method_parameters_period_and_boundary(
    analyst: TestClient, kind: str
) -> None:
    _names_everything(_output_meta(analyst, kind), kind)
