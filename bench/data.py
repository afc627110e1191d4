"""Benchmark inputs: real Surrey data and synthetic incidents resampled from it.

Synthetic incidents are drawn with replacement from the located police.uk rows of the bundled demo
files (``data/demo/police-uk/*.csv.gz``, which the repository ships so a fresh clone can bench),
kept within 5 km of the Surrey district outline's bounding box, and moved by a uniform jitter of
up to ±25 m in each axis, so their spatial distribution is that of real Surrey crime. Every draw
is seeded per case (:meth:`Inputs.rng`), so a case's inputs do not depend on which other cases ran.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from app.settings import PROJECT_ROOT, Settings
from bench.harness import CaseFailed
from geo.assign import AreaIndex
from geo.projection import OSTN15

SEED = 20240607
JITTER_M = 25.0
BBOX_PAD_M = 5_000.0
#: Metres per degree of latitude (and of longitude at the equator) near Surrey, for the jitter.
_M_PER_DEG = 111_250.0

DEMO_DIR = PROJECT_ROOT / "data" / "demo" / "police-uk"
BOUNDARIES_DIR = PROJECT_ROOT / "boundaries"
SHARED_DATA = Path(os.environ.get("ATLAS_SHARED_DATA", PROJECT_ROOT.parent / "shared" / "data"))


@dataclass(frozen=True)
class Layer:
    """A bundled boundary version: geometries (EPSG:27700), codes, names and its file."""

    geometries: np.ndarray
    codes: np.ndarray
    names: np.ndarray
    path: Path
    layer: str


@dataclass(frozen=True)
class Incidents:
    """Located demo incidents: lon/lat (degrees), easting/northing (metres), month index."""

    lon: np.ndarray
    lat: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    month: np.ndarray
    months: list[str]


def read_layer(set_name: str, version: str) -> Layer:
    """A bundled boundary version, read through its manifest."""
    import geopandas as gpd  # noqa: PLC0415 - heavy; only the cases that need it pay for it

    folder = BOUNDARIES_DIR / set_name / version
    manifest = tomllib.loads((folder / "manifest.toml").read_text(encoding="utf-8"))
    path = folder / manifest["file"]
    frame = gpd.read_file(path, layer=manifest.get("layer"))
    return Layer(
        geometries=np.asarray(frame.geometry.array, dtype=object),
        codes=frame[manifest["code_field"]].to_numpy(dtype=str),
        names=frame[manifest["name_field"]].to_numpy(dtype=str),
        path=path,
        layer=manifest.get("layer", ""),
    )


def surrey_2022_files() -> list[Path]:
    """The 11 police.uk Surrey files of 2022 in the shared data (CaseFailed when absent)."""
    folder = SHARED_DATA / "crime" / "surrey"
    files = sorted(folder.glob("2022-*-surrey-street.csv"))
    if len(files) != 11:
        raise CaseFailed(
            f"expected the 11 Surrey 2022 files in {folder} (../shared/data beside the repository,"
            f" or set ATLAS_SHARED_DATA); found {len(files)}"
        )
    return files


class Inputs:
    """Lazily loaded shared inputs (each loaded once per run)."""

    def __init__(self, seed: int = SEED) -> None:
        self.seed = seed

    def rng(self, salt: str) -> np.random.Generator:
        """A generator seeded by the run seed and a case-specific salt."""
        digest = hashlib.sha256(f"{self.seed}:{salt}".encode()).digest()
        return np.random.default_rng(int.from_bytes(digest[:8], "little"))

    @cached_property
    def grid_path(self) -> Path:
        return Settings().ostn15_grid

    @cached_property
    def ostn15(self) -> OSTN15:
        return OSTN15.load(self.grid_path)

    @cached_property
    def wards(self) -> Layer:
        """Surrey electoral wards, December 2019 (the bundled ``wards/2019``)."""
        return read_layer("wards", "2019")

    @cached_property
    def ward_index(self) -> AreaIndex:
        return AreaIndex.build(self.wards.geometries)

    @cached_property
    def outline(self) -> shapely.Geometry:
        """The partnership area: the union of the 11 Surrey districts."""
        return shapely.union_all(read_layer("districts", "2013").geometries)

    @cached_property
    def base(self) -> Incidents:
        """Located demo incidents near Surrey (the population synthetic points are drawn from)."""
        files = sorted(DEMO_DIR.glob("*.csv.gz"))
        if not files:
            raise CaseFailed(f"no demo police.uk files under {DEMO_DIR}")
        cols = ["Month", "Longitude", "Latitude"]
        frame = pd.concat([pd.read_csv(f, usecols=cols) for f in files], ignore_index=True)
        frame = frame.dropna(subset=["Longitude", "Latitude"])
        lon = frame["Longitude"].to_numpy(np.float64)
        lat = frame["Latitude"].to_numpy(np.float64)
        easting, northing = self.ostn15.to_bng(lon, lat)
        xmin, ymin, xmax, ymax = shapely.bounds(self.outline)
        keep = (
            (easting >= xmin - BBOX_PAD_M)
            & (easting <= xmax + BBOX_PAD_M)
            & (northing >= ymin - BBOX_PAD_M)
            & (northing <= ymax + BBOX_PAD_M)
        )
        months, month = np.unique(frame["Month"].to_numpy(str)[keep], return_inverse=True)
        return Incidents(
            lon[keep], lat[keep], easting[keep], northing[keep], month.astype(np.int32), [*months]
        )

    @cached_property
    def base_ward(self) -> np.ndarray:
        """2019 ward index of each base incident (-1 outside Surrey)."""
        return self.ward_index.assign(self.base.easting, self.base.northing)

    def sample(self, n: int, salt: str) -> np.ndarray:
        """Row numbers of ``n`` base incidents drawn with replacement."""
        return self.rng(salt + ":rows").integers(0, self.base.easting.size, n)

    def points_bng(self, n: int, salt: str) -> tuple[np.ndarray, np.ndarray]:
        """``n`` synthetic incidents, easting/northing in metres (EPSG:27700)."""
        rows = self.sample(n, salt)
        jitter = self.rng(salt + ":jitter").uniform(-JITTER_M, JITTER_M, (2, n))
        return self.base.easting[rows] + jitter[0], self.base.northing[rows] + jitter[1]

    def points_lonlat(self, n: int, salt: str) -> tuple[np.ndarray, np.ndarray]:
        """``n`` synthetic incidents, lon/lat in degrees (the jitter is ±25 m on the ground)."""
        rows = self.sample(n, salt)
        jitter = self.rng(salt + ":jitter").uniform(-JITTER_M, JITTER_M, (2, n)) / _M_PER_DEG
        lat = self.base.lat[rows]
        return self.base.lon[rows] + jitter[0] / np.cos(np.radians(lat)), lat + jitter[1]


def describe(inputs: Inputs) -> dict[str, Any]:
    """Provenance of the synthetic inputs, for results.json."""
    return {
        "seed": inputs.seed,
        "source": "located police.uk rows of data/demo/police-uk/*.csv.gz near Surrey",
        "base_incidents": int(inputs.base.easting.size),
        "jitter_m": JITTER_M,
        "months": inputs.base.months,
    }
