"""A batch is atomic: killing an ingest mid-way leaves only whole batches in the store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from app.atlas import Atlas
from tests.app.conftest import make_settings


def _data_version(db: Path) -> int:
    con = sqlite3.connect(db, timeout=30)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.close()


def test_kill_during_ingest_leaves_whole_batches(atlas: Atlas, shared_data: Path) -> None:
    db = Path(atlas.store.url.removeprefix("sqlite:///"))
    start = _data_version(db)
    files = sorted((shared_data / "crime" / "national" / "2022-06").glob("*.csv.gz"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "ingest",
            *map(str, files),
            "--dataset",
            "national",
            "--db",
            atlas.store.url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _data_version(db) == start and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # let it get part-way into a later batch
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    check = Atlas.open(settings=make_settings(db))
    ds = check.store.datasets.get("national")
    batches = check.store.batches.all(ds.id)
    assert 1 <= len(batches) < len(files), "killed between the first and the last batch"
    cols = check.store.batches.load_incidents(ds.id, ["month"])
    per_batch = {b: int((cols.batch_id == b).sum()) for b in {x.id for x in batches}}
    for b in batches:
        assert per_batch[b.id] == b.report["accepted"], f"batch {b.id} is whole"
    versions = [v.id for v in check.areas.versions()]
    for v in versions:
        assert set(check.store.batches.assignments(v, [b.id for b in batches])) == {
            b.id for b in batches
        }
    check.close()


def test_concurrent_ingests_of_one_file_land_it_once(atlas: Atlas, shared_data: Path) -> None:
    db = Path(atlas.store.url.removeprefix("sqlite:///"))
    f = shared_data / "crime" / "surrey" / "2022-07-surrey-street.csv"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "ingest",
                str(f),
                "--dataset",
                "race",
                "--json",
                "--db",
                atlas.store.url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    statuses = sorted(json.loads(o[0])["status"] for o in outs)
    check = Atlas.open(settings=make_settings(db))
    ds = check.store.datasets.get("race")
    batches = check.store.batches.all(ds.id)
    assert len(batches) == 1 and statuses.count("new") == 1
    assert statuses.count("already_ingested") == 2
    assert (
        len(check.store.batches.load_incidents(ds.id, ["month"])) == batches[0].report["accepted"]
    )
    check.close()
