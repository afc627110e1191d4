"""A batch is atomic: killing an ingest mid-way leaves only whole batches in the store."""

from __future__ import annotations

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
