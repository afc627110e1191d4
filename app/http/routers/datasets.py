"""Datasets and batches: upload an incident file, read batch reports and rejects."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Header, Request, Response, UploadFile

from app.access.principal import Principal
from app.errors import Conflict, Forbidden, PayloadTooLarge, Unauthorized
from app.http.deps import AtlasDep, PrincipalDep, SettingsDep
from app.ingest.profiles import load_profile, parse_profile
from app.ingest.reader import open_upload
from app.store.records import DatasetRecord

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


def _readable(atlas: AtlasDep, principal: Principal, name: str) -> DatasetRecord:
    dataset = atlas.store.datasets.get(name)
    principal.check_read(dataset)
    return dataset


@router.get("/datasets/{dataset}/batches")
def list_batches(dataset: str, atlas: AtlasDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every batch of the dataset, including those replaced by corrections."""
    ds = _readable(atlas, principal, dataset)
    return [
        {**b.report, "batch_id": b.id, "active": b.active, "superseded_by": b.superseded_by}
        for b in atlas.store.batches.all(ds.id)
    ]


@router.get("/datasets/{dataset}/batches/{batch_id}")
def get_batch(
    dataset: str, batch_id: int, atlas: AtlasDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One batch report."""
    ds = _readable(atlas, principal, dataset)
    b = atlas.store.batches.get(ds.id, batch_id)
    return {**b.report, "batch_id": b.id, "active": b.active, "superseded_by": b.superseded_by}


@router.get("/datasets/{dataset}/batches/{batch_id}/rejects.csv")
def get_rejects(dataset: str, batch_id: int, atlas: AtlasDep, principal: PrincipalDep) -> Response:
    """The rows of a batch that were not accepted, with their reasons (CSV)."""
    ds = _readable(atlas, principal, dataset)
    if not principal.can_write(ds):
        raise Forbidden(
            "rejects files hold raw partner rows: only writers of the dataset may read them"
        )
    b = atlas.store.batches.get(ds.id, batch_id)
    return Response(
        atlas.store.batches.rejects_csv(b.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="batch-{b.id}-rejects.csv"'},
    )


async def _read_capped(upload: UploadFile, cap: int) -> bytes:
    data = await upload.read(cap + 1)
    if len(data) > cap:
        raise PayloadTooLarge(f"the file is larger than the {cap // 2**20} MB upload limit")
    return data


@router.post("/datasets/{dataset}/batches", status_code=201)
async def upload_batch(
    dataset: str,
    request: Request,
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
    """Load one incident file as an atomic batch and return its report."""
    cap = settings.max_upload_mb * 2**20
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > cap + 65536:
        raise PayloadTooLarge(f"the upload is larger than the {settings.max_upload_mb} MB limit")
    existing = atlas.store.datasets.find(dataset)
    _check_write(principal, existing)
    data = await _read_capped(file, cap)
    prof = parse_profile(profile) if "\n" in profile or "=" in profile else load_profile(profile)
    sources = open_upload(file.filename or "upload.csv", data, cap)
    if len(sources) != 1:
        raise Conflict(f"upload one CSV per request ({len(sources)} found in the archive)")
    if idempotency_key and existing is not None:
        held = atlas.store.batches.find_by_idempotency_key(existing.id, idempotency_key)
        if held is not None:
            if held.sha256 != sources[0].sha256:
                raise Conflict("this Idempotency-Key was used for a different file")
            response.status_code = 200
            return {**held.report, "status": "already_ingested"}
    outcome = atlas.ingest_sources(
        sources, dataset, prof, principal.partner, idempotency_key, owner=principal.partner
    )[0]
    atlas.store.audit.log(
        principal.id, "ingest", f"{dataset}/{outcome.batch.id}", {"file": sources[0].name}
    )
    if outcome.report["status"] == "already_ingested":
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/datasets/{dataset}/batches/{outcome.batch.id}"
    return _with_rejects_url(dataset, outcome.batch.id, outcome.report)


def _check_write(principal: Principal, dataset: DatasetRecord | None) -> None:
    if principal.can_write(dataset):
        return
    if principal.is_anonymous:
        raise Unauthorized("uploading needs a partner, analyst or admin token")
    raise Forbidden("this token may not load data into this dataset")


def _with_rejects_url(dataset: str, batch_id: int, report: dict[str, Any]) -> dict[str, Any]:
    if not report.get("rejected") and not report.get("duplicates"):
        return {**report, "rejects_file": None}
    return {**report, "rejects_file": f"/api/v1/datasets/{dataset}/batches/{batch_id}/rejects.csv"}
