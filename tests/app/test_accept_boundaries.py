"""Acceptance, issue 4: boundary sets met as a new user meets them.

Boundary layers the product has never seen (synthetic beats over Surrey in GeoJSON/EPSG:4326, a
zipped Shapefile and a GeoPackage; toy split/merge versions; a 5 km grid over Hampshire) are
imported through the CLI and every count is checked against an independent recount: police.uk
lon/lat projected here with pyproj + OSTN15 (``geo.projection.pyproj_reference`` only builds the
PROJ pipeline), rounded to whole metres as the store keeps them, and joined with geopandas. Expected
values never come from our own functions. Stores are built once per test session (shared by the
xdist workers, under a file lock) and copied per worker.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj.datadir
import pytest
import shapely
from fastapi.testclient import TestClient

from app.access.tokens import create_token
from app.atlas import Atlas
from app.errors import AppError
from app.http.factory import create_app
from app.services.boundaries import BoundarySpec
from geo.errors import GeoError
from geo.projection import pyproj_reference
from tests.app.conftest import make_settings

ATLAS = [sys.executable, "-m", "app.cli"]
GRID_FILE = Path("proj") / "uk_os_OSTN15_NTv2_OSGBtoETRS.tif"
CHANGED_DISTRICTS = {"Elmbridge", "Woking", "Reigate and Banstead", "Runnymede", "Surrey Heath"}
MONTHS = ("2022-04", "2022-05", "2022-06")
DATASET = "surrey-2022q2"
MAX_DISTANCE_M = 50_000.0  # Settings.max_distance_km default: farther located rows are rejected
HAMPSHIRE_CELL_M = 5000
# Push used to evaluate the documented edge rule (point + (eps, eps^2)) with finite numbers: small
# enough not to cross any edge an integer-metre point is not already on, large enough to resolve.
PUSH_EAST_M, PUSH_NORTH_M = 1e-5, 1e-9


# ----------------------------------------------------------------------------- shared helpers


def cli(
    *args: str, db: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``atlas ARGS --db sqlite:///DB`` as a user would (own process, var/ beside the store)."""
    full_env = {**os.environ, "ATLAS_VAR_DIR": str(db.parent / "var"), **(env or {})}
    proc = subprocess.run(
        [*ATLAS, *args, "--db", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=600,
        env=full_env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"atlas {' '.join(args)} failed: {proc.stderr}")
    return proc


def cli_json(*args: str, db: Path, env: dict[str, str] | None = None) -> Any:
    return json.loads(cli(*args, "--json", db=db, env=env).stdout)


def shared_folder(
    factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """A folder built once per session and shared by the xdist workers (file lock)."""
    base = factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"accept-{name}"
    with (root / f"accept-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "DONE").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (folder / "DONE").touch()
    return folder


def private_store(factory: pytest.TempPathFactory, folder: Path) -> Path:
    """This worker's own copy of a shared store (SQLite file)."""
    db = factory.mktemp("store") / "atlas.db"
    shutil.copy(folder / "atlas.db", db)
    return db


def open_client(db: Path, **settings: object) -> Iterator[tuple[Atlas, TestClient]]:
    atlas = Atlas.open(settings=make_settings(db, **settings))
    with TestClient(create_app(atlas.settings, atlas=atlas)) as client:
        yield atlas, client
    atlas.close()


def concat_csv(paths: list[Path], out: Path) -> None:
    """One CSV of several police.uk files (one header), as an analyst would combine months."""
    with out.open("wb") as fh:
        for i, path in enumerate(paths):
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            header, _, body = data.partition(b"\r\n")
            if i == 0:
                fh.write(header + b"\r\n")
            fh.write(body if body.endswith(b"\r\n") else body + b"\r\n")


def transformer(shared: Path) -> Any:
    return pyproj_reference(shared / GRID_FILE)


def police_points(shared: Path, csv: Path) -> pd.DataFrame:
    """Every row of a police.uk CSV with its own projection: ``e``/``n`` whole metres, NaN if none."""
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    lon = pd.to_numeric(df["Longitude"], errors="coerce").to_numpy(float)
    lat = pd.to_numeric(df["Latitude"], errors="coerce").to_numpy(float)
    e, n = transformer(shared).transform(lon, lat)
    df["e"], df["n"] = np.round(e), np.round(n)
    df.loc[~np.isfinite(lon) | ~np.isfinite(lat), ["e", "n"]] = np.nan
    return df


def points_gdf(e: np.ndarray, n: np.ndarray) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(e, n), crs=27700)


def recount(
    e: np.ndarray, n: np.ndarray, areas: gpd.GeoDataFrame, code: str
) -> tuple[pd.Series, int, int]:
    """Per-area counts by the documented edge rule, evaluated with geopandas ``sjoin``.

    A point on an edge belongs to the area just east (then north) of it; the finite push below
    resolves that for integer-metre points on these layers. Returns (counts per code with zeros,
    points in no area, points exactly on some area's boundary).
    """
    pushed = points_gdf(e + PUSH_EAST_M, n + PUSH_NORTH_M)
    joined = gpd.sjoin(pushed, areas[[code, "geometry"]], predicate="within", how="left")
    joined = joined[~joined.index.duplicated()]
    counts = joined[code].value_counts().reindex(areas[code], fill_value=0)
    tree = shapely.STRtree(areas.boundary.values)
    on_edge = np.unique(tree.query(shapely.points(e, n), predicate="intersects")[0]).size
    return counts, int(joined[code].isna().sum()), on_edge


def outline_of(shared: Path) -> shapely.Geometry:
    return gpd.read_file(shared / "boundaries" / "surrey_districts.gpkg").union_all()


def accepted_points(shared: Path, csv: Path) -> pd.DataFrame:
    """Rows the product must keep: unlocated rows, and located rows within 50 km of Surrey."""
    df = police_points(shared, csv)
    outline = outline_of(shared)
    e, n = df["e"].to_numpy(), df["n"].to_numpy()
    outside = np.isfinite(e) & ~shapely.contains_xy(outline, e, n)
    far = np.zeros(len(df), dtype=bool)
    far[outside] = (
        shapely.distance(outline, shapely.points(e[outside], n[outside])) > MAX_DISTANCE_M
    )
    return df.assign(far=far)


# ----------------------------------------------------------------------------- synthetic layers


def _polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only the areal parts of clipped geometries (clipping can leave lines or points)."""
    out = []
    for g in geoms:
        parts = [p for p in shapely.get_parts(g) if p.geom_type == "Polygon" and p.area > 0]
        out.append(shapely.MultiPolygon(parts) if parts else None)
    return np.array(out, dtype=object)


def layer(geoms: np.ndarray, prefix: str, crs: int = 27700) -> gpd.GeoDataFrame:
    geoms = _polygonal(geoms)
    keep = np.array([g is not None for g in geoms])
    codes = [f"{prefix}{i:03d}" for i in range(int(keep.sum()))]
    names = [f"{prefix} beat {i}" for i in range(int(keep.sum()))]
    return gpd.GeoDataFrame({"beat_code": codes, "beat_name": names}, geometry=geoms[keep], crs=crs)


def voronoi_beats(outline: shapely.Geometry, n: int, seed: int, prefix: str) -> gpd.GeoDataFrame:
    """Voronoi cells of ``n`` random seeds inside Surrey, clipped to the county outline."""
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = outline.bounds
    xy = rng.uniform((x0, y0), (x1, y1), size=(8 * n, 2))
    inside = xy[shapely.contains_xy(outline, xy[:, 0], xy[:, 1])][:n]
    frame = shapely.box(x0 - 10_000, y0 - 10_000, x1 + 10_000, y1 + 10_000)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(inside), extend_to=frame)
    )
    return layer(shapely.intersection(cells, outline), prefix)


def hex_beats(outline: shapely.Geometry, prefix: str) -> gpd.GeoDataFrame:
    """Flat-topped hexagons with integer vertices (half-width 2000 m, half-height 1732 m), clipped.

    Integer vertices put many whole-metre police.uk points exactly on edges (horizontal edges
    at whole-metre northings), which exercises the edge rule.
    """
    half_w, half_h = 2000, 1732
    x0, y0, x1, y1 = (int(v // 1000 * 1000) for v in outline.bounds)
    cx, cy = np.meshgrid(
        np.arange(x0 - 3000, x1 + 6000, 3000),
        np.arange(y0 - 4 * half_h, y1 + 4 * half_h, 2 * half_h),
    )
    cy = cy + np.where((cx - x0) // 3000 % 2 == 1, half_h, 0)  # odd columns sit half a row up
    dx = np.array([-half_w, -half_w // 2, half_w // 2, half_w, half_w // 2, -half_w // 2])
    dy = np.array([0, -half_h, -half_h, 0, half_h, half_h])
    rings = np.stack([cx.reshape(-1, 1) + dx, cy.reshape(-1, 1) + dy], axis=-1)
    hexes = shapely.polygons(rings.astype(float))
    return layer(shapely.intersection(hexes, outline), prefix)


def write_geojson_4326(gdf: gpd.GeoDataFrame, path: Path, shared: Path) -> None:
    """GeoJSON in EPSG:4326, reprojected by geopandas/PROJ with the OSTN15 grid on its path."""
    pyproj.datadir.append_data_dir(str(shared / "proj"))
    gdf.to_crs(4326).to_file(path, driver="GeoJSON")


def write_shapefile_zip(gdf: gpd.GeoDataFrame, path: Path, with_prj: bool = True) -> None:
    folder = path.parent / (path.stem + "_shp")
    folder.mkdir()
    gdf.to_file(folder / "beats.shp")
    with zipfile.ZipFile(path, "w") as zf:
        for part in sorted(folder.iterdir()):
            if with_prj or part.suffix != ".prj":
                zf.write(part, part.name)


def squares(x0: int, y0: int, x1: int, y1: int, cell: int, prefix: str) -> gpd.GeoDataFrame:
    """A grid of ``cell``-metre squares covering [x0, x1) x [y0, y1), codes ``<prefix>_<i>_<j>``."""
    i, j = np.meshgrid(np.arange(x0 // cell, x1 // cell), np.arange(y0 // cell, y1 // cell))
    i, j = i.ravel(), j.ravel()
    geoms = shapely.box(i * cell, j * cell, (i + 1) * cell, (j + 1) * cell)
    codes = [f"{prefix}_{a}_{b}" for a, b in zip(i.tolist(), j.tolist(), strict=True)]
    return gpd.GeoDataFrame({"code": codes, "name": codes}, geometry=geoms, crs=27700)


def hampshire_grid(shared: Path, prefix: str = "HG") -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """A 5 km square grid covering every located point of Hampshire's 2022-06 file, and the rows."""
    csv = shared / "crime" / "national" / "2022-06" / "2022-06-hampshire-street.csv.gz"
    rows = police_points(shared, csv)
    e, n = rows.e.dropna(), rows.n.dropna()
    cell = HAMPSHIRE_CELL_M
    x0, y0 = int(e.min() // cell * cell), int(n.min() // cell * cell)
    x1, y1 = int(e.max() // cell * cell + cell), int(n.max() // cell * cell + cell)
    return squares(x0, y0, x1, y1, cell, prefix), rows


# Toy set for hand-worked crosswalks (EPSG:27700 metres), in Surrey across LSOAs of unequal density.
TOY_X, TOY_Y = 504_000, 155_000


def toy_versions() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """v1: A, B, C, D (1 km squares in a row). v2: A split 30/70 (A1, A2); B+C merged (BC); D gone."""

    def box(x0: float, x1: float) -> shapely.Polygon:
        return shapely.box(TOY_X + x0, TOY_Y, TOY_X + x1, TOY_Y + 1000)

    v1 = gpd.GeoDataFrame(
        {"code": ["A", "B", "C", "D"], "name": ["Ash", "Birch", "Cedar", "Damson"]},
        geometry=[box(0, 1000), box(1000, 2000), box(2000, 3000), box(3000, 4000)],
        crs=27700,
    )
    v2 = gpd.GeoDataFrame(
        {"code": ["A1", "A2", "BC"], "name": ["Ash west", "Ash east", "Birch and Cedar"]},
        geometry=[box(0, 300), box(300, 1000), box(1000, 3000)],
        crs=27700,
    )
    return v1, v2


def spec(
    path: Path,
    set_name: str,
    version: str,
    start: str,
    end: str | None = None,
    code: str = "code",
    name: str = "name",
) -> BoundarySpec:
    """What ``atlas boundaries import`` builds from its options, for in-process imports."""
    return BoundarySpec(
        path=path,
        set_name=set_name,
        version=version,
        valid_from=date.fromisoformat(start),
        valid_to=date.fromisoformat(end) if end else None,
        code_field=code,
        name_field=name,
    )


# ----------------------------------------------------------------------------- module store

BEATS = {
    # version: (file name, valid_from, valid_to)
    "2020": ("beats_2020.geojson", "2020-04-01", "2021-12-31"),
    "2022": ("beats_2022.zip", "2022-01-01", "2022-12-31"),
    "2023": ("beats_2023.gpkg", "2023-01-01", None),
}


def _build_boundaries_store(folder: Path, template: Path, shared: Path) -> None:
    db = folder / "atlas.db"
    shutil.copy(template, db)
    csv = folder / "surrey-2022q2.csv"
    concat_csv([shared / "crime" / "surrey" / f"{m}-surrey-street.csv" for m in MONTHS], csv)
    outline = outline_of(shared)
    layers = {
        "2020": voronoi_beats(outline, 60, seed=4, prefix="V"),
        "2022": hex_beats(outline, prefix="H"),
        "2023": voronoi_beats(outline, 120, seed=5, prefix="W"),
    }
    write_geojson_4326(layers["2020"], folder / BEATS["2020"][0], shared)
    write_shapefile_zip(layers["2022"], folder / BEATS["2022"][0])
    layers["2023"].to_file(folder / BEATS["2023"][0], layer="beats", driver="GPKG")
    v1, v2 = toy_versions()
    v1.to_file(folder / "toy_1.gpkg", driver="GPKG")
    v2.to_file(folder / "toy_2.gpkg", driver="GPKG")
    atlas = Atlas.open(settings=make_settings(db))
    imports: dict[str, Any] = {}
    try:
        report = atlas.ingest([csv], DATASET, profile="police-uk", access="open")[0].report
        atlas.import_boundaries(spec(folder / "toy_1.gpkg", "toy", "1", "2010-01-01", "2015-12-31"))
        atlas.import_boundaries(spec(folder / "toy_2.gpkg", "toy", "2", "2016-01-01"))
        for version in ("2022", "2023"):  # the Shapefile zip and the GeoPackage, in-process
            name, start, end = BEATS[version]
            rec = atlas.import_boundaries(
                spec(folder / name, "beats", version, start, end, "beat_code", "beat_name")
            )
            imports[version] = {"features": rec.features, "report": rec.report}
        token = create_token(atlas.store, "analyst")[1]
    finally:
        atlas.close()
    name, start, end = BEATS["2020"]  # the GeoJSON through the command line
    args = ["boundaries", "import", str(folder / name), "--set", "beats", "--version", "2020"]
    args += ["--valid-from", start, "--valid-to", str(end)]
    imports["2020"] = cli_json(
        *args, "--code-field", "beat_code", "--name-field", "beat_name", db=db
    )
    (folder / "state.json").write_text(
        json.dumps({"ingest": report, "imports": imports, "token": token})
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, template_db: Path, shared_data: Path) -> Path:
    return shared_folder(
        tmp_path_factory,
        "boundaries",
        lambda folder: _build_boundaries_store(folder, template_db, shared_data),
    )


@pytest.fixture(scope="module")
def state(built: Path) -> dict[str, Any]:
    return json.loads((built / "state.json").read_text())


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, built: Path) -> Path:
    return private_store(tmp_path_factory, built)


@pytest.fixture(scope="module")
def http(store: Path, state: dict[str, Any]) -> Iterator[TestClient]:
    for _atlas, client in open_client(store):
        client.headers["Authorization"] = f"Bearer {state['token']}"
        yield client


@pytest.fixture(scope="module")
def rows(built: Path, shared_data: Path) -> pd.DataFrame:
    """The module's police.uk rows with the product's expected fate (independent of the product)."""
    return accepted_points(shared_data, built / "surrey-2022q2.csv")


def located_kept(rows: pd.DataFrame, month: str | None = None) -> pd.DataFrame:
    keep = rows.e.notna() & ~rows.far
    if month is not None:
        keep &= rows.Month == month
    return rows[keep]


def counts_of(client: TestClient, by: str, **params: str) -> dict[str, Any]:
    res = client.get("/api/v1/counts", params={"dataset": DATASET, "by": by, **params})
    assert res.status_code == 200, res.text
    return res.json()


def as_series(data: dict[str, Any]) -> pd.Series:
    return pd.Series({r["area_code"]: r["count"] for r in data["rows"]})


# ----------------------------------------------------------------------------- imports, counts


def read_layer(path: Path, shared: Path) -> gpd.GeoDataFrame:
    """A layer file read back and put in EPSG:27700 by geopandas/PROJ (OSTN15), not by us."""
    pyproj.datadir.append_data_dir(str(shared / "proj"))
    gdf = gpd.read_file(f"/vsizip/{path}" if path.suffix == ".zip" else path)
    return gdf if gdf.crs.to_epsg() == 27700 else gdf.to_crs(27700)


def test_beats_from_three_formats_are_listed(
    built: Path, state: dict[str, Any], store: Path, shared_data: Path
) -> None:
    listed = cli_json("boundaries", "list", db=store)
    beats = {r["version"]: r for r in listed if r["set"] == "beats"}
    assert set(beats) == set(BEATS)
    for version, (name, start, end) in BEATS.items():
        features = len(read_layer(built / name, shared_data))
        assert beats[version] == {
            "set": "beats",
            "version": version,
            "valid_from": start,
            "valid_to": end,
            "features": features,
        }
        assert state["imports"][version]["features"] == features
    crs = {v: state["imports"][v]["report"]["source_crs"] for v in BEATS}
    assert "4326" in crs["2020"] and "27700" in crs["2022"] and "27700" in crs["2023"]


@pytest.mark.parametrize("version", list(BEATS))
def test_counts_on_unseen_beats_equal_independent_recount(
    version: str, built: Path, http: TestClient, rows: pd.DataFrame, shared_data: Path
) -> None:
    beats = read_layer(built / BEATS[version][0], shared_data)
    pts = located_kept(rows)
    expected, outside, on_edge = recount(pts.e.to_numpy(), pts.n.to_numpy(), beats, "beat_code")
    data = counts_of(http, f"beats:{version}")
    got = as_series(data)
    assert list(got.index) == list(beats["beat_code"])  # one row per area, zeros included
    diff = (got - expected).abs()
    if version == "2020":
        # Reprojected from lon/lat by two implementations: allow points within 1 mm of an edge.
        near = shapely.STRtree(beats.boundary.values).query(
            shapely.points(pts.e, pts.n), predicate="dwithin", distance=1e-3
        )[0]
        assert diff.sum() <= 2 * np.unique(near).size
        assert np.unique(near).size <= 5
    else:
        assert diff.sum() == 0, diff[diff > 0]
        assert data["meta"]["outside"] == outside
    if version == "2022":
        assert on_edge > 0  # whole-metre points on the hexagons' whole-metre edges: rule exercised
    assert data["meta"]["in_areas"] + data["meta"]["outside"] == len(pts)
    assert data["meta"]["unlocated"] == int(rows.e.isna().sum())


def test_ingest_report_matches_independent_row_accounting(
    state: dict[str, Any], rows: pd.DataFrame, shared_data: Path
) -> None:
    report = state["ingest"]
    located = rows.e.notna()
    assert report["rows_read"] == len(rows)
    assert report["unlocated"] == int((~located).sum())
    assert report["rejected"] == (
        {"beyond_max_distance": int(rows.far.sum())} if rows.far.any() else {}
    )
    kept = located_kept(rows)
    inside = shapely.contains_xy(outline_of(shared_data), kept.e.to_numpy(), kept.n.to_numpy())
    assert report["outside_area"] == int((~inside).sum())


def test_counts_carry_provenance_and_zero_rows(
    http: TestClient, rows: pd.DataFrame, built: Path, shared_data: Path
) -> None:
    data = counts_of(http, "beats:2022", **{"from": "2022-05", "to": "2022-05"})
    meta = data["meta"]
    assert meta["boundary"] == {
        "selector": "beats:2022",
        "set": "beats",
        "version": "2022",
        "valid_from": "2022-01-01",
        "valid_to": "2022-12-31",
    }
    assert meta["method"] == "point recount"
    assert meta["period"] == {"from": "2022-05", "to": "2022-05"}
    month = rows[(rows.Month == "2022-05") & ~rows.far]
    assert meta["incidents"] == len(month)
    assert meta["unlocated"] == int(month.e.isna().sum())
    beats = read_layer(built / BEATS["2022"][0], shared_data)
    pts = month[month.e.notna()]
    expected, outside, _ = recount(pts.e.to_numpy(), pts.n.to_numpy(), beats, "beat_code")
    assert meta["outside"] == outside
    got = as_series(data)
    assert (got == expected).all()
    assert len(got) == len(beats) and (got == 0).sum() >= 1  # empty areas are listed with 0


@pytest.mark.parametrize(
    ("selector", "version"),
    [
        ("beats", "2023"),
        ("beats@2021-06-30", "2020"),
        ("beats@2021-12-31", "2020"),
        ("beats@2022-01-01", "2022"),
        ("beats@2023-06-30", "2023"),
        ("beats:2022", "2022"),
        ("wards@2019-05-01", "2013"),
        ("wards@2019-05-02", "2019"),
        ("wards", "2019"),
    ],
)
def test_selectors_resolve_per_interface(http: TestClient, selector: str, version: str) -> None:
    meta = counts_of(http, selector, **{"from": "2022-06", "to": "2022-06"})["meta"]
    assert meta["boundary"]["version"] == version


@pytest.mark.parametrize(
    ("selector", "status", "words"),
    [
        ("beats@2019-12-31", 404, ["beats", "2020", "2022", "2023"]),
        ("parishes", 404, ["parishes", "wards"]),
        ("beats@2022-13-01", 400, ["2022-13-01"]),
    ],
)
def test_bad_selectors_say_what_exists(
    http: TestClient, selector: str, status: int, words: list[str]
) -> None:
    res = http.get("/api/v1/counts", params={"dataset": DATASET, "by": selector})
    assert res.status_code == status
    assert res.headers["content-type"].startswith("application/problem+json")
    assert all(w in res.json()["detail"] for w in words), res.json()


def test_locate_answers_the_ward_in_force_on_each_date(http: TestClient, shared_data: Path) -> None:
    w13 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2013.gpkg")
    w19 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    woking19 = w19[w19.LAD_NM == "Woking"].iloc[0]
    point = woking19.geometry.representative_point()
    e, n = round(point.x), round(point.y)
    code13 = w13[w13.contains(shapely.Point(e, n))].WD13CD.item()
    assert code13 != woking19.WD19CD
    for day, code in (
        ("2016-03-01", code13),
        ("2019-05-01", code13),
        ("2021-06-30", woking19.WD19CD),
    ):
        res = http.get("/api/v1/locate", params={"easting": e, "northing": n, "date": day})
        areas = {a["set"]: a for a in res.json()["areas"]}
        assert areas["wards"]["area_code"] == code, day
        assert areas["districts"]["area_name"] == "Woking"
    outside = http.get("/api/v1/locate", params={"easting": 530000, "northing": 180000})
    assert outside.status_code == 200
    assert outside.json()["areas"] and all(a["area_code"] is None for a in outside.json()["areas"])


# ----------------------------------------------------------------------------- versions, crosswalks


@pytest.fixture(scope="module")
def ward_shares(shared_data: Path) -> pd.DataFrame:
    """Share of each 2013 ward's area in each 2019 ward, by geopandas overlay."""
    w13 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2013.gpkg")
    w19 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2019.gpkg")
    pieces = gpd.overlay(
        w13[["WD13CD", "LAD_NM", "geometry"]], w19[["WD19CD", "geometry"]], keep_geom_type=True
    )
    area13 = w13.set_index("WD13CD").area
    pieces["share"] = pieces.area.to_numpy() / area13.reindex(pieces.WD13CD).to_numpy()
    return pieces[["WD13CD", "LAD_NM", "WD19CD", "share"]]


def test_diff_2013_2019_finds_exactly_the_changed_districts(
    store: Path, http: TestClient, ward_shares: pd.DataFrame, shared_data: Path
) -> None:
    out = cli_json("boundaries", "diff", "wards:2013", "wards:2019", db=store)
    w13 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2013.gpkg")
    district = dict(zip(w13.WD13CD, w13.LAD_NM, strict=True))
    changed = {district[c] for c, kind in out["changes"].items() if kind != "unchanged"}
    assert changed == CHANGED_DISTRICTS
    stable = set(w13.WD13CD[~w13.LAD_NM.isin(CHANGED_DISTRICTS)])
    assert len(stable) == 118 and set(out["unchanged"]) == stable
    pairs = pd.DataFrame(out["pairs"])
    for code in stable:
        mine = pairs[pairs.from_code == code]
        assert len(mine) == 1 and mine.to_code.item() == code and mine.share.item() == 1.0
    # Every substantive overlay piece is a pair with the same share (output rounded to 1e-6).
    big = ward_shares[ward_shares.share >= 1e-4]
    merged = big.merge(pairs, left_on=["WD13CD", "WD19CD"], right_on=["from_code", "to_code"])
    assert len(merged) == len(big)
    np.testing.assert_allclose(merged.share_y, merged.share_x, atol=2e-6)
    over_http = http.get("/api/v1/crosswalks", params={"from": "wards:2013", "to": "wards:2019"})
    assert over_http.json()["pairs"] == out["pairs"]


@pytest.fixture(scope="module")
def ward13_table(rows: pd.DataFrame, shared_data: Path) -> pd.Series:
    """Independent recount of the module's incidents on the 2013 wards (a partner's table)."""
    w13 = gpd.read_file(shared_data / "boundaries" / "surrey_wards_2013.gpkg")
    pts = located_kept(rows)
    counts, _, _ = recount(pts.e.to_numpy(), pts.n.to_numpy(), w13, "WD13CD")
    return counts


def _table_csv(values: pd.Series, extra: dict[str, float]) -> bytes:
    frame = pd.concat([values, pd.Series(extra)]).rename_axis("ward").rename("crimes")
    return frame.reset_index().to_csv(index=False).encode()


def test_reassign_2013_table_to_2019_conserves_and_reports(
    store: Path,
    http: TestClient,
    tmp_path: Path,
    ward13_table: pd.Series,
    ward_shares: pd.DataFrame,
) -> None:
    # The same incidents, recounted by the product on the old vintage, match the recount.
    assert (as_series(counts_of(http, "wards:2013")) == ward13_table).all()
    body = _table_csv(ward13_table, {"E05999999": 7})
    csv = tmp_path / "wards2013.csv"
    csv.write_bytes(body)
    args = ["reassign", str(csv), "--from", "wards:2013", "--to", "wards:2019"]
    out = cli_json(*args, "--code-field", "ward", "--value-field", "crimes", db=store)
    meta, got = out["meta"], pd.Series({r["area_code"]: r["value"] for r in out["rows"]})
    total = int(ward13_table.sum()) + 7
    assert meta["method"] == "crosswalk" and "area" in meta["weights"]
    assert meta["total_in"] == total
    assert [list(u) for u in meta["unmatched_codes"]] == [["E05999999", 7]]
    assert int(got.sum()) + meta["unallocated"] + meta["unmatched_total"] == total
    assert meta["unallocated"] == 0  # both vintages tile the same county outline
    stable = ward_shares[~ward_shares.LAD_NM.isin(CHANGED_DISTRICTS)].WD13CD.unique()
    assert (got[stable] == ward13_table[stable]).all()  # 1:1 wards keep their value
    # Each 2019 ward gets its area share of every 2013 ward, each share rounded by at most 1.
    expect = (
        ward_shares.assign(v=ward_shares.WD13CD.map(ward13_table) * ward_shares.share)
        .groupby("WD19CD")
        .agg(v=("v", "sum"), sources=("WD13CD", "nunique"))
    )
    assert ((got[expect.index] - expect.v).abs() <= expect.sources).all()
    files = {"file": ("wards2013.csv", body, "text/csv")}
    form = {"from": "wards:2013", "to": "wards:2019", "code_field": "ward", "value_field": "crimes"}
    over_http = http.post("/api/v1/reassign", files=files, data=form)
    assert over_http.status_code == 200 and over_http.json()["rows"] == out["rows"]


def test_reassign_with_population_weights(
    store: Path, tmp_path: Path, ward13_table: pd.Series, ward_shares: pd.DataFrame
) -> None:
    csv = tmp_path / "wards2013.csv"
    csv.write_bytes(_table_csv(ward13_table, {}))
    args = ["reassign", str(csv), "--from", "wards:2013", "--to", "wards:2019", "--weights"]
    out = cli_json(*args, "population", "--code-field", "ward", "--value-field", "crimes", db=store)
    meta, got = out["meta"], pd.Series({r["area_code"]: r["value"] for r in out["rows"]})
    assert meta["method"] == "crosswalk"
    assert "population" in meta["weights"] and "lsoa:2011" in meta["weights"]
    assert "2019" in meta["weights"]
    assert int(got.sum()) + meta["unallocated"] == int(ward13_table.sum())
    stable = ward_shares[~ward_shares.LAD_NM.isin(CHANGED_DISTRICTS)].WD13CD.unique()
    assert (got[stable] == ward13_table[stable]).all()


def _reassign_http(
    http: TestClient, values: dict[str, float], weights: str = "area"
) -> dict[str, Any]:
    body = pd.Series(values).rename_axis("code").rename("n").reset_index().to_csv(index=False)
    form = {"from": "toy:1", "to": "toy:2", "code_field": "code", "value_field": "n"}
    res = http.post(
        "/api/v1/reassign",
        files={"file": ("toy.csv", body.encode(), "text/csv")},
        data={**form, "weights": weights},
    )
    assert res.status_code == 200, res.text
    return dict(res.json())


def test_toy_split_and_merge_by_hand(http: TestClient) -> None:
    diff = http.get("/api/v1/crosswalks", params={"from": "toy:1", "to": "toy:2"}).json()
    assert diff["changes"] == {"A": "split", "B": "merged", "C": "merged", "D": "removed"}
    assert diff["unchanged"] == []
    assert [(p["from_code"], p["to_code"], p["share"]) for p in diff["pairs"]] == [
        ("A", "A1", 0.3),
        ("A", "A2", 0.7),
        ("B", "BC", 1.0),
        ("C", "BC", 1.0),
    ]
    # A = 11 splits 3.3 / 7.7 -> 3 / 8 (largest remainder); B + C = 10; D = 5 has nowhere to go;
    # Z is not a toy:1 code.
    out = _reassign_http(http, {"A": 11, "B": 4, "C": 6, "D": 5, "Z": 2})
    assert {r["area_code"]: r["value"] for r in out["rows"]} == {"A1": 3, "A2": 8, "BC": 10}
    meta = out["meta"]
    assert (meta["total_in"], meta["total_out"], meta["unallocated"]) == (28, 21, 5)
    assert meta["unmatched_total"] == 2 and [list(u) for u in meta["unmatched_codes"]] == [["Z", 2]]
    assert meta["method"] == "crosswalk" and "area" in meta["weights"]
    # Non-integer tables are split exactly: 2.5 -> 0.75 / 1.75.
    out = _reassign_http(http, {"A": 2.5, "B": 1.25})
    assert {r["area_code"]: r["value"] for r in out["rows"]} == {"A1": 0.75, "A2": 1.75, "BC": 1.25}


def test_toy_population_weights_follow_lsoa_density(http: TestClient, shared_data: Path) -> None:
    lsoa = gpd.read_file(shared_data / "boundaries" / "surrey_lsoa_2011.gpkg")
    pop_csv = shared_data / "population" / "surrey_lsoa2011_population_mid2019.csv"
    pop = pd.read_csv(pop_csv).set_index("LSOA11CD").population_mid2019
    density = pop.reindex(lsoa.LSOA11CD).to_numpy() / lsoa.area.to_numpy()

    def residents(g: shapely.Geometry) -> float:
        """LSOA residents spread evenly over each LSOA, summed over the part inside ``g``."""
        idx = lsoa.sindex.query(g, predicate="intersects")
        return float((density[idx] * lsoa.geometry.iloc[idx].intersection(g).area).sum())

    v1, v2 = toy_versions()
    geom = {
        **dict(zip(v1.code, v1.geometry, strict=True)),
        **dict(zip(v2.code, v2.geometry, strict=True)),
    }
    share_a1 = residents(geom["A"].intersection(geom["A1"])) / residents(geom["A"])
    assert abs(share_a1 - 0.3) > 0.2  # population puts A's weight far from its area split
    values = {"A": 1000, "B": 40, "C": 60, "D": 50}
    out = _reassign_http(http, values, weights="population")
    got = {r["area_code"]: r["value"] for r in out["rows"]}
    assert abs(got["A1"] - 1000 * share_a1) < 1 and got["A1"] + got["A2"] == 1000
    assert got["BC"] == 100 and out["meta"]["unallocated"] == 50
    assert "population" in out["meta"]["weights"]


# ----------------------------------------------------------------------------- bad layers


def _bad_layer(folder: Path, case: str) -> tuple[BoundarySpec, list[str]]:
    """A bad layer file and the words its one-line reason must contain."""
    sq = squares(500_000, 150_000, 502_000, 151_000, 1000, "X")
    path = folder / f"{case.replace(' ', '_')}.gpkg"
    code, name = "code", "name"
    if case == "duplicate codes":
        sq.assign(code=["X1", "X1"]).to_file(path)
        words = ["duplicate", "X1"]
    elif case == "empty layer":
        sq.iloc[:0].to_file(path)
        words = ["no features"]
    elif case == "empty file":
        path = folder / "zero.geojson"
        path.write_bytes(b"")
        words = ["zero.geojson", "not a vector file"]
    elif case == "not polygons":
        sq.assign(geometry=sq.geometry.centroid).to_file(path)
        words = ["not an areal geometry", "X_500_150"]
    elif case == "unknown CRS":
        path = folder / "noprj.zip"
        write_shapefile_zip(sq.rename(columns={"code": "c", "name": "n"}), path, with_prj=False)
        code, name, words = "c", "n", ["no CRS"]
    else:  # missing code field
        sq.rename(columns={"code": "id"}).to_file(path)
        words = ["no field 'code'", "id"]
    return spec(path, "bad", "1", "2022-01-01", code=code, name=name), words


BAD_LAYERS = [
    "duplicate codes",
    "empty layer",
    "empty file",
    "not polygons",
    "unknown CRS",
    "missing code field",
]


@pytest.mark.parametrize("case", BAD_LAYERS)
def test_bad_layer_rejected_with_reason_and_nothing_registered(
    case: str, atlas: Atlas, tmp_path: Path
) -> None:
    bad, words = _bad_layer(tmp_path, case)
    before = [(v.set_name, v.version) for v in atlas.areas.versions()]
    with pytest.raises((AppError, GeoError)) as err:
        atlas.import_boundaries(bad)
    detail = str(getattr(err.value, "detail", err.value))
    assert all(w in detail for w in words), detail
    assert [(v.set_name, v.version) for v in atlas.areas.versions()] == before
    assert atlas.store.boundaries.find("bad", "1") is None


def test_bad_layers_on_the_command_line_fail_in_one_line(tmp_path: Path, template_db: Path) -> None:
    db = tmp_path / "atlas.db"
    shutil.copy(template_db, db)
    env = {**os.environ, "ATLAS_VAR_DIR": str(tmp_path / "var")}
    procs = {}
    for case in ("duplicate codes", "unknown CRS"):  # run side by side: each start costs seconds
        bad, words = _bad_layer(tmp_path, case)
        args = ["boundaries", "import", str(bad.path), "--set", "bad", "--version", "1"]
        args += ["--valid-from", "2022-01-01", "--code-field", bad.code_field]
        args += ["--name-field", bad.name_field, "--db", f"sqlite:///{db}"]
        proc = subprocess.Popen(
            [*ATLAS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        procs[case] = (proc, words)
    for case, (proc, words) in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        assert proc.returncode != 0 and stdout == "", (case, stdout)
        assert stderr.count("\n") == 1 and "Traceback" not in stderr, (case, stderr)
        assert all(w in stderr for w in words), (case, stderr)
    for _atlas, client in open_client(db):
        listed = client.get("/api/v1/boundaries").json()
    assert sorted(r["set"] for r in listed) == ["csp", "districts", "lsoa", "wards", "wards"]


def test_gaps_and_overlaps_are_reported_with_their_areas(tmp_path: Path, template_db: Path) -> None:
    db = tmp_path / "atlas.db"
    shutil.copy(template_db, db)
    x, y = 500_000, 150_000
    frame = [
        shapely.box(x, y, x + 3000, y + 1000),
        shapely.box(x, y + 2000, x + 3000, y + 3000),
        shapely.box(x, y + 1000, x + 1000, y + 2000),
        shapely.box(x + 2000, y + 1000, x + 3000, y + 2000),
        shapely.box(x + 2900, y, x + 3900, y + 1000),  # overlaps P1 by 100 m x 1000 m
    ]
    codes = ["P1", "P2", "P3", "P4", "P5"]
    gpd.GeoDataFrame({"code": codes, "name": codes}, geometry=frame, crs=27700).to_file(
        tmp_path / "patchy.gpkg"
    )
    args = ["boundaries", "import", str(tmp_path / "patchy.gpkg"), "--set", "patchy"]
    args += ["--version", "1", "--valid-from", "2022-01-01", "--code-field", "code"]
    out = cli_json(*args, "--name-field", "name", db=db)
    report = out["report"]
    assert [g[0] for g in report["gaps"]] == [pytest.approx(1_000_000)]
    gx, gy = report["gaps"][0][1:]
    assert x + 1000 < gx < x + 2000 and y + 1000 < gy < y + 2000
    assert [tuple(o) for o in report["overlaps"]] == [("P1", "P5", pytest.approx(100_000))]


@pytest.mark.parametrize("epsg", [32630, 3857, 4277])  # UTM 30N, Web Mercator, OSGB36 lon/lat
def test_layer_in_another_crs_is_reprojected(
    epsg: int, atlas: Atlas, tmp_path: Path, built: Path, shared_data: Path
) -> None:
    hexes = read_layer(built / BEATS["2022"][0], shared_data)
    pyproj.datadir.append_data_dir(str(shared_data / "proj"))
    hexes.to_crs(epsg).to_file(tmp_path / "other.gpkg")
    rec = atlas.import_boundaries(
        spec(tmp_path / "other.gpkg", "other", "1", "2022-01-01", None, "beat_code", "beat_name")
    )
    assert rec.features == len(hexes)
    stored = atlas.areas.layer(rec.id)
    assert list(stored.codes) == list(hexes.beat_code)
    moved = shapely.hausdorff_distance(stored.geometries, hexes.geometry.to_numpy())
    assert moved.max() < 0.01  # metres: back on the hexagons within PROJ's round trip


# ----------------------------------------------------------------------------- another force


def test_another_force_counted_on_its_own_areas(tmp_path: Path, shared_data: Path) -> None:
    """Hampshire's 2022-06 file on a 5 km grid imported over it; the grid is the partnership."""
    grid, rows = hampshire_grid(shared_data)
    grid.to_file(tmp_path / "hgrid.gpkg")
    db = tmp_path / "atlas.db"
    empty = Atlas.open(settings=make_settings(db), migrate=True)
    empty.import_boundaries(spec(tmp_path / "hgrid.gpkg", "hantsgrid", "2022", "2022-01-01"))
    empty.close()
    # A user sets these in the environment (ATLAS_ prefix): Hampshire's own areas, no 50 km rule.
    env = {"ATLAS_PARTNERSHIP_SET": "hantsgrid", "ATLAS_MAX_DISTANCE_KM": "0"}
    csv = shared_data / "crime" / "national" / "2022-06" / "2022-06-hampshire-street.csv.gz"
    report = cli_json("ingest", str(csv), "--dataset", "hampshire", db=db, env=env)
    assert report["rows_read"] == len(rows) == 16_964
    assert (report["accepted"], report["unlocated"], report["outside_area"]) == (len(rows), 0, 0)
    data = cli_json("counts", "--dataset", "hampshire", "--by", "hantsgrid", db=db, env=env)
    # Independent recount: squares are [i*5000, (i+1)*5000) x [j*5000, (j+1)*5000), which is the
    # documented edge rule (a point on an edge goes east, then north) for whole-metre points.
    i = (rows.e // HAMPSHIRE_CELL_M).astype(int).astype(str)
    j = (rows.n // HAMPSHIRE_CELL_M).astype(int).astype(str)
    expected = ("HG_" + i + "_" + j).value_counts().reindex(grid.code, fill_value=0)
    on_edge = int(((rows.e % HAMPSHIRE_CELL_M == 0) | (rows.n % HAMPSHIRE_CELL_M == 0)).sum())
    assert on_edge > 0
    got = as_series(data)
    assert list(got.index) == list(grid.code)
    assert (got == expected).all(), (got - expected)[got != expected]
    assert data["meta"]["outside"] == 0 and data["meta"]["in_areas"] == len(rows)
    assert (got == 0).sum() > 0  # sea squares are listed with zero
