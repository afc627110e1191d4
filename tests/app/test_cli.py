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


def bare(*args: str) -> subprocess.CompletedProcess[str]:
    """The command exactly as typed (no --db appended)."""
    return subprocess.run([*ATLAS, *args], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "x.csv"),  # missing --dataset
        ("counts", "--dataset", "d", "--by", "districts", "--bogus"),
        ("nosuch",),
        ("geocode",),
        ("reassign", "/nonexistent.csv", "--from", "wards:2013", "--to", "wards:2019"),
        ("counts", "--dataset", "d", "--by", "districts", "--format", "xml"),  # a bad value
    ],
)
def test_usage_errors_are_one_line(args: tuple[str, ...]) -> None:
    out = bare(*args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("atlas: error: ")
    assert "--help" in out.stderr


def test_store_named_before_the_command(db: Path) -> None:
    listed = json.loads(bare("--db", f"sqlite:///{db}", "boundaries", "list", "--json").stdout)
    assert len(listed) == 5


def test_geocode_keeps_the_good_answers_when_one_query_fails(db: Path) -> None:
    out = run("geocode", "SU9949", "XX 123", "TQ", "--json", db=db, check=False)
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert "1 of 3 queries" in out.stderr
    got = json.loads(out.stdout)
    assert [r["query"] for r in got] == ["SU9949", "XX 123", "TQ"]
    assert got[0]["easting"] == 499000 and got[2]["northing"] == 100000
    assert set(got[1]) == {"query", "error"} and "XX" in got[1]["error"]


def test_piped_tables_are_never_cut(db: Path) -> None:
    out = run("geocode", "SU 99417 49731", db=db).stdout
    assert "SU 99417 49731" in out and "easting-northing" not in out
    assert "gridref" in out and "…" not in out


def test_partner_names_are_checked(db: Path) -> None:
    bad = run("partners", "add", "bad name!", db=db, check=False)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "partner name 'bad name!'" in bad.stderr


def test_batch_history_and_distance_limit(db: Path, tmp_path: Path) -> None:
    header = "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,Crime type,Last outcome category,Context"
    far = "z1,2022-04,X,X,-1.449245,53.585310,Barnsley,,,Burglary,,"  # 230 km from Surrey
    near = "z2,2022-04,X,X,-0.57,51.24,Guildford,,,Burglary,,"
    first = tmp_path / "a.csv"
    first.write_text("\n".join([header, far, near]) + "\n")
    out = json.loads(run("ingest", str(first), "--dataset", "hist", "--json", db=db).stdout)
    assert out["rejected"] == {"beyond_max_distance": 1} and out["accepted"] == 1
    second = tmp_path / "b.csv"
    second.write_text("\n".join([header, far, near, near.replace("z2", "z3")]) + "\n")
    fix = json.loads(
        run(
            "ingest", str(second), "--dataset", "hist", "--max-distance-km", "0", "--json", db=db
        ).stdout
    )
    assert fix["status"] == "replaced" and fix["accepted"] == 3 and fix["rejected"] == {}
    assert fix["replaced_accepted"] == 1
    history = json.loads(run("datasets", "batches", "hist", "--json", db=db).stdout)
    assert [(b["file"], b["superseded_by"], b["active"]) for b in history] == [
        ("a.csv", fix["batch_id"], False),
        ("b.csv", None, True),
    ]
    # The same names as the ingest report.
    assert history[1]["rejected"] == {} and history[1]["rows_read"] == 3
    assert history[1]["months"] == ["2022-04"] and history[1]["batch_id"] == fix["batch_id"]
    active = json.loads(run("datasets", "batches", "hist", "--active", "--json", db=db).stdout)
    assert [b["batch_id"] for b in active] == [fix["batch_id"]]
