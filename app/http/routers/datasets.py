"""Datasets and batches: upload an incident file, read batch reports and rejects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, File, Form, Header, Path, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from app.access.principal import Principal
from app.atlas import Atlas
from app.errors import Conflict, Forbidden, PayloadTooLarge, Unauthorized
from app.http.deps import AtlasDep, PrincipalDep, SettingsDep
from app.ingest.profiles import profile_from_request
from app.ingest.reader import open_upload
from app.store.records import BatchRecord, DatasetRecord

router = APIRouter(tags=["datasets"])


def _dataset_doc(d: DatasetRecord, batches: int) -> dict[str, Any]:
    return {"dataset": d.name, "owner": d.owner, "access": d.access, "batches": batches}


@router.get("/datasets")
def list_datasets(atlas: AtlasDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Datasets the caller may read."""
    return [
        _dataset_doc(d, len(atlas.store.batches.all(d.id, active_only=True)))
        for d in atlas.store.datasets.all()
        if principal.can_read(d)
    ]


def _writable(atlas: Atlas, principal: Principal, name: str) -> DatasetRecord:
    """The dataset, if ``principal`` may write it: batch reports and rejects are for its loaders.

    Reports carry small counts (rows accepted, unlocated, rejected by reason) and rejects files
    carry raw partner rows; neither is suppressed, so reading the dataset is not enough.
    """
    dataset = atlas.store.datasets.get(name)
    principal.check_read(dataset)
    if not principal.can_write(dataset):
        if principal.is_anonymous:
            raise Unauthorized("batch reports need a token that may load data into this dataset")
        raise Forbidden(
            "batch reports and rejects files are for those who may load data into this dataset"
        )
    return dataset


#: Batch ids are positive int64 in every store; larger values are refused before any lookup.
BatchId = Annotated[int, Path(ge=1, le=2**62, description="Batch id")]


@router.get("/datasets/{dataset}/batches")
def list_batches(dataset: str, atlas: AtlasDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every batch of the dataset, including those replaced by corrections (writers only)."""
    ds = _writable(atlas, principal, dataset)
    return [_batch_doc(dataset, b) for b in atlas.store.batches.all(ds.id)]


@router.get("/datasets/{dataset}/batches/{batch_id}")
def get_batch(
    dataset: str, batch_id: BatchId, atlas: AtlasDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One batch report (writers only)."""
    ds = _writable(atlas, principal, dataset)
    return _batch_doc(dataset, atlas.store.batches.get(ds.id, batch_id))


def _batch_doc(dataset: str, b: BatchRecord) -> dict[str, Any]:
    report = {**b.report, "batch_id": b.id, "active": b.active, "superseded_by": b.superseded_by}
    return _with_rejects_url(dataset, b.id, report)


@router.get("/datasets/{dataset}/batches/{batch_id}/rejects.csv")
def get_rejects(
    dataset: str, batch_id: BatchId, atlas: AtlasDep, principal: PrincipalDep
) -> Response:
    """The rows of a batch that were not accepted, with their reasons (CSV; writers only)."""
    ds = _writable(atlas, principal, dataset)
    b = atlas.store.batches.get(ds.id, batch_id)
    return Response(
        atlas.store.batches.rejects_csv(b.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{b.id}-rejects.csv"'},
    )


@dataclass(frozen=True)
class _Upload:
    """What an upload request carries, handed whole to the worker thread."""

    dataset: str
    filename: str
    file: BinaryIO
    profile: str
    idempotency_key: str | None
    max_bytes: int


@router.post("/datasets/{dataset}/batches", status_code=201)
async def upload_batch(
    dataset: str,
    response: Response,
    atlas: AtlasDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    file: Annotated[UploadFile, File(description="Incident file: CSV, .csv.gz or .zip of one CSV")],
    profile: Annotated[
        str, Form(description="Built-in profile name or TOML profile text")
    ] = "police-uk",
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> dict[str, Any]:
    """Load one incident file as an atomic batch and return its report.

    ``UploadGuard`` has already refused anonymous and oversized requests before their bodies
    arrived. Everything else (reading, decompressing, parsing, the store) runs in one worker
    thread so the event loop keeps serving other requests meanwhile.
    """
    upload = _Upload(
        dataset,
        file.filename or "upload.csv",
        file.file,
        profile,
        idempotency_key,
        settings.max_upload_mb * 2**20,
    )
    status, report = await run_in_threadpool(_load_upload, atlas, principal, upload)
    response.status_code = status
    response.headers["Location"] = f"/api/v1/datasets/{dataset}/batches/{report['batch_id']}"
    return report


def _load_upload(atlas: Atlas, principal: Principal, upload: _Upload) -> tuple[int, dict[str, Any]]:
    """(HTTP status, report) of one upload; runs in a worker thread, never on the event loop."""
    existing = atlas.store.datasets.find(upload.dataset)
    _check_write(principal, existing)
    data = _read_capped(upload.file, upload.max_bytes)
    prof = profile_from_request(upload.profile)
    source = open_upload(upload.filename, data, upload.max_bytes)
    if upload.idempotency_key and existing is not None:
        held = atlas.store.batches.find_by_idempotency_key(existing.id, upload.idempotency_key)
        if held is not None:
            if held.sha256 != source.sha256:
                raise Conflict("this Idempotency-Key was used for a different file")
            report = {**held.report, "batch_id": held.id, "status": "already_ingested"}
            return 200, _with_rejects_url(upload.dataset, held.id, report)
    outcome = atlas.ingest_sources(
        [source],
        upload.dataset,
        prof,
        principal.partner,
        upload.idempotency_key,
        owner=principal.partner,
    )[0]
    atlas.store.audit.log(
        principal.id, "ingest", f"{upload.dataset}/{outcome.batch.id}", {"file": source.name}
    )
    status = 200 if outcome.report["status"] == "already_ingested" else 201
    return status, _with_rejects_url(upload.dataset, outcome.batch.id, outcome.report)


def _read_capped(file: BinaryIO, cap: int) -> bytes:
    data = file.read(cap + 1)
    if len(data) > cap:
        raise PayloadTooLarge(f"the file is larger than the {cap // 2**20} MB upload limit")
    return data


def _check_write(principal: Principal, dataset: DatasetRecord | None) -> None:
    if principal.can_write(dataset):
        return
    if principal.is_anonymous:
        raise Unauthorized("uploading needs a partner, analyst or admin token")
    raise Forbidden("this token may not load data into this dataset")


def _with_rejects_url(dataset: str, batch_id: int, report: dict[str, Any]) -> dict[str, Any]:
    """The report with ``rejects_file``: the rejects.csv URL when rows were set aside, else null."""
    if not report.get("rejected") and not report.get("duplicates"):
        return {**report, "rejects_file": None}
    return {**report, "rejects_file": f"/api/v1/datasets/{dataset}/batches/{batch_id}/rejects.csv"}
