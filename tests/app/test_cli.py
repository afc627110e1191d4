"""The ``atlas`` command line as a user runs it: real process, --json, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ATLAS = [sys.executable, "-m", "app.cli"]


def run(*args: str, db: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*ATLAS, *args, "--db", f"sqlite:///{db}"], capture_output=True, text=True, timeout=600
    )
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "atlas.db"
    run("init", "--json", db=path)
    return path


def test_init_registers_bundled_boundaries(db: Path) -> None:
    listed = json.loads(run("boundaries", "list", "--json", db=db).stdout)
    got = {(b["set"], b["version"]): b["features"] for b in listed}
    assert got == {
        ("csp", "2022"): 11,
        ("districts", "2013"): 11,
        ("lsoa", "2011"): 709,
        ("wards", "2013"): 206,
        ("wards", "2019"): 187,
    }
    assert {"set", "version", "valid_from", "valid_to", "features"} == set(listed[0])


def test_ingest_json_report_and_one_line_errors(db: Path, shared_data: Path) -> None:
    f = shared_data / "crime" / "surrey" / "2022-05-surrey-street.csv"
    out = json.loads(run("ingest", str(f), "--dataset", "cli-test", "--json", db=db).stdout)
    assert out["rows_read"] == 7758 and out["status"] == "new" and out["batch_id"] >= 1
    for key in (
        "accepted",
        "unlocated",
        "outside_area",
        "duplicates",
        "identical_rows",
        "rejected",
        "rejects_file",
    ):
        assert key in out
    again = json.loads(run("ingest", str(f), "--dataset", "cli-test", "--json", db=db).stdout)
    assert again["status"] == "already_ingested"
    bad = run("ingest", "/nonexistent.csv", "--dataset", "cli-test", db=db, check=False)
    assert bad.returncode != 0 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_geocode_json(db: Path) -> None:
    out = json.loads(run("geocode", "SU9949", "TQ", "499417,149731", "--json", db=db).stdout)
    assert out[0]["easting"] == 499000 and out[0]["precision_m"] == 1000
    assert out[1] == {**out[1], "easting": 500000, "northing": 100000, "precision_m": 100000}
    assert out[2]["gridref"] == "SU 99417 49731"


def test_counts_csv_and_json(db: Path, shared_data: Path) -> None:
    f = shared_data / "crime" / "surrey" / "2022-06-surrey-street.csv"
    run("ingest", str(f), "--dataset", "counts-cli", db=db)
    data = json.loads(
        run("counts", "--dataset", "counts-cli", "--by", "districts", "--json", db=db).stdout
    )
    assert len(data["rows"]) == 11 and data["meta"]["method"] == "point recount"
    csv_text = run(
        "counts", "--dataset", "counts-cli", "--by", "districts", "--format", "csv", db=db
    ).stdout
    assert csv_text.splitlines()[0] == "area_code,area_name,count,boundary,period_from,period_to"
