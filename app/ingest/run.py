"""One ``atlas ingest`` (or upload) of several files: read and check them all, then land each as
its own atomic batch; or prepare them all without writing (a dry run).

Every file is read and checked before any is written, so a bad file stops the command before
anything lands. Errors name the file they are about, and a failure after some files landed
says which batches were already written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from app.errors import AppError
from app.ingest.pipeline import (
    IngestContext,
    Outcome,
    PreparedBatch,
    ingest_source,
    prepare_batch,
    read_checked,
)
from app.ingest.profiles import Profile
from app.ingest.reader import RawTable, SourceFile
from app.store.records import DatasetRecord

#: Progress callback: (stage description, steps done, steps in all).
ProgressFn = Callable[[str, int, int], None]
#: What a run tells its progress callback at each stage of each file.
Step = Callable[[str], None]


def stepper(progress: ProgressFn | None, total: int) -> Step:
    """A per-stage callback that counts steps towards ``total`` (four per file)."""
    done = 0

    def step(stage: str) -> None:
        nonlocal done
        if progress is not None:
            progress(stage, done, total)
        done += 1

    return step


def read_all(sources: Sequence[SourceFile], profile: Profile, step: Step) -> list[RawTable]:
    """Read and check every file before anything is written (a bad file stops them all)."""
    tables = []
    for s in sources:
        step(f"reading {s.name}")
        try:
            tables.append(read_checked(s, profile))
        except AppError as exc:
            name_file(exc, s.name)
            raise
    return tables


def land_all(
    ctx: IngestContext,
    ds: DatasetRecord,
    files: Sequence[tuple[SourceFile, RawTable]],
    profile: Profile,
    partner: str | None,
    idempotency_key: str | None,
) -> list[Outcome]:
    """Land read files one atomic batch each, in order; the outcome of each."""
    who = sender(ds, partner)
    done: list[Outcome] = []
    for source, table in files:
        try:
            done.append(ingest_source(ctx, ds, source, table, profile, who, idempotency_key))
        except AppError as exc:
            # Each file is its own atomic batch: say which failed and what already landed.
            name_file(exc, source.name)
            landed = ", ".join(f"{o.batch.id} ({o.report.get('file')})" for o in done)
            if landed:
                exc.detail += f" [batches already written by this command: {landed}]"
                exc.args = (exc.detail,)
            raise
    return done


def prepare_all(
    ctx: IngestContext,
    ds: DatasetRecord,
    files: Sequence[tuple[SourceFile, RawTable]],
    profile: Profile,
    partner: str | None,
) -> list[PreparedBatch]:
    """Every stage but the write, for each file (a dry run)."""
    who = sender(ds, partner)
    return [prepare_batch(ctx, ds, s, t, profile, who) for s, t in files]


def sender(ds: DatasetRecord, partner: str | None) -> str:
    """Who sends the files: the partner named, else the dataset's owner ("" for the operator)."""
    return partner if partner is not None else (ds.owner or "")


def name_file(exc: AppError, name: str) -> None:
    """Start an error's message with the file it is about (once)."""
    if not exc.detail.startswith(f"{name}:"):
        exc.detail = f"{name}: {exc.detail}"
        exc.args = (exc.detail,)
