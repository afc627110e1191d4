"""Ingest without the write: the 11 Surrey police.uk files of 2022 through the cleaning pipeline.

The same inputs and peer as :mod:`bench.cases.ingest_police_uk`, but ours stops before the
database transaction (``Atlas.dry_run``, which ``atlas ingest --dry-run`` runs): read and parse,
validate every row, geocode with OSTN15, screen plausibility, check duplicates and corrections,
find byte-identical rows, build the rejects file and assign every incident to every bundled
boundary version. The peer (``pandas.read_csv`` + ``pyproj`` + ``geopandas.sjoin`` to the 2019
wards) writes nothing either, so this isolates the pipeline from the durable SQLite write that
``ingest_police_uk`` also times.
"""

from __future__ import annotations

import shutil
from collections import Counter
from typing import Any

import numpy as np

from bench.cases.ingest_police_uk import (
    DATASET,
    PEER,
    TARGET,
    Store,
    compare,
    peer_pipeline,
    summarise,
    ward_counts_sjoin,
    ward_frame,
)
from bench.data import surrey_2022_files
from bench.harness import Context, Side, measure, record, warm_up

NAME = "ingest_pipeline"
OURS = "app.atlas.Atlas.dry_run(paths, dataset): every ingest stage except the write"


def pending() -> str | None:
    return None


def ward_counts_prepared(atlas: Any, prepared: list[Any]) -> dict[str, int]:
    """Incidents per 2019 ward from the prepared batches' assignments."""
    version = atlas.areas.resolve("wards:2019")
    codes = atlas.areas.layer(version.id).codes
    idx = np.concatenate([p.assignments[version.id] for p in prepared])
    counted = Counter(idx[idx >= 0].tolist())
    return {str(codes[i]): int(c) for i, c in counted.items()}


def run(ctx: Context) -> dict[str, Any]:
    files = surrey_2022_files()[:1] if ctx.quick else surrey_2022_files()
    wards = ward_frame(ctx)
    store = Store(ctx.workdir / NAME, copy_template=ctx.quick)
    store.setup()  # one store: a dry run writes nothing, so every call sees the same state
    store.atlas.geocoder  # noqa: B018 - load the grid once, as a running service has it
    ours = Side(lambda: store.atlas.dry_run(files, DATASET))
    peer = peer_pipeline(files, ctx.inputs.grid_path, wards)
    try:
        t_ours, prepared, t_peer, (peer_counts, e, n) = warm_up(ours, peer)
        reports = [p.new.report for p in prepared]
        rows = sum(int(r["rows_read"]) for r in reports)
        located = rows - sum(int(r.get("unlocated", 0)) for r in reports)
        rounded = ward_counts_sjoin(wards, np.round(e), np.round(n))
        verdict = compare(
            ward_counts_prepared(store.atlas, prepared), peer_counts, rounded, located
        )
        timing = measure(ours, peer, t_ours, t_peer, ctx.quick)
    finally:
        store.close()
        shutil.rmtree(ctx.workdir / NAME, ignore_errors=True)
    notes = [
        f"{len(files)} files, {rows:,} rows ({located:,} with coordinates); nothing written",
        "ours validates every row, screens plausibility, checks duplicates and corrections, finds"
        " identical rows, builds the rejects file and assigns every bundled boundary version;"
        " the peer only joins to the 2019 wards",
    ]
    return record(
        NAME,
        rows,
        PEER,
        timing,
        verdict,
        TARGET,
        notes,
        ours=OURS,
        files=len(files),
        batches=summarise(reports),
    )
