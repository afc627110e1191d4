"""Postcode lookups (Code-Point Open, NSPL), geocoding by postcode, and no Helmert fallback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.atlas import Atlas
from app.services.postcodes import PostcodeFields
from geo.errors import GridFileMissing
from tests.app.conftest import make_settings


def test_codepoint_open_import_and_geocode(atlas: Atlas, shared_data: Path) -> None:
    path = shared_data / "postcodes" / "surrey_codepoint_open_2014.csv"
    report = atlas.import_postcodes(
        path, PostcodeFields("postcode", easting="easting", northing="northing")
    )
    src = pd.read_csv(path)
    assert report["rows_read"] == len(src) == 33_380
    assert report["loaded"] == src["postcode"].nunique()
    row = src.iloc[123]
    (got,) = atlas.geocode([row["postcode"].lower().replace(" ", "")])
    assert (got.easting, got.northing) == (row["easting"], row["northing"])
    assert got.source == "postcode" and got.precision_m == 100


def test_nspl_latlon_import_matches_official_grid_refs(atlas: Atlas, shared_data: Path) -> None:
    path = shared_data / "postcodes" / "surrey_nspl_may2025_latlon.csv"
    atlas.import_postcodes(path, PostcodeFields("postcode", lat="lat", lon="lon"))
    src = pd.read_csv(path).sample(200, random_state=1)
    got = atlas.geocode(src["postcode"].tolist())
    e = np.array([g.easting for g in got])
    n = np.array([g.northing for g in got])
    # The file's derived grid refs came from the same OSTN15 grid, rounded to 1 m.
    assert np.abs(e - src["easting_derived"].to_numpy()).max() <= 1
    assert np.abs(n - src["northing_derived"].to_numpy()).max() <= 1


def test_terminated_postcodes_are_kept_with_their_dates(atlas: Atlas, tmp_path: Path) -> None:
    csv = tmp_path / "onspd.csv"
    csv.write_text(
        "pcds,oseast1m,osnrth1m,dointr,doterm\n"
        "GU1 1AA,499417,149731,198001,\n"
        "GU1 9ZZ,499500,149800,198001,201506\n"
        "NOT A PC,1,1,,\n"
    )
    fields = PostcodeFields(
        "pcds", easting="oseast1m", northing="osnrth1m", introduced="dointr", terminated="doterm"
    )
    report = atlas.import_postcodes(csv, fields)
    assert report["loaded"] == 2 and report["terminated"] == 1
    assert report["skipped"]["invalid_postcode"] == 1
    (live, dead) = atlas.geocode(["gu11aa", "GU1 9ZZ"])
    assert live.note == "" and dead.note == "terminated 201506"


def test_postcode_profile_ingest(atlas: Atlas, tmp_path: Path, shared_data: Path) -> None:
    atlas.import_postcodes(
        shared_data / "postcodes" / "surrey_codepoint_open_2014.csv",
        PostcodeFields("postcode", easting="easting", northing="northing"),
    )
    prof = tmp_path / "p.toml"
    prof.write_text(
        'name = "school-exclusions"\ndefault_category = "Exclusion"\n[dates]\ndate = "Date"\n'
        '[[locations]]\nkind = "postcode"\npostcode = "Postcode"\n'
    )
    data = tmp_path / "ex.csv"
    data.write_text(
        "Date,Postcode\n01/03/2022,CR3 0AA\n02/03/2022,cr30ab\n03/03/2022,ZZ9 9ZZ\n04/03/2022,banana\n05/03/2022,\n"
    )
    (out,) = atlas.ingest([data], "exclusions", profile=str(prof))
    r = out.report
    assert r["accepted"] == 3 and r["unlocated"] == 1
    assert r["rejected"] == {"unknown_postcode": 1, "invalid_postcode": 1}


def test_missing_grid_fails_loudly_never_helmert(
    tmp_path: Path, template_db: Path, shared_data: Path
) -> None:
    import shutil

    db = tmp_path / "a.db"
    shutil.copy(template_db, db)
    settings = make_settings(db, ostn15_grid=tmp_path / "nowhere.tif")
    atlas = Atlas.open(settings=settings)
    with pytest.raises(GridFileMissing):
        atlas.geocode(["51.24,-0.57"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.cli",
            "geocode",
            "51.24,-0.57",
            "--json",
            "--db",
            f"sqlite:///{db}",
        ],
        capture_output=True,
        text=True,
        env={"ATLAS_OSTN15_GRID": str(tmp_path / "nowhere.tif"), "PATH": "/usr/bin"},
    )
    assert proc.returncode != 0 and proc.stdout == ""
    assert "OSTN15" in proc.stderr and proc.stderr.count("\n") == 1
