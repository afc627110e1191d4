"""Partners, datasets, batches and incidents in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, Row, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.errors import BatchExists, Conflict, NotFound
from app.store.columnar import decode_tables, encode, hash_strings, id_hashes
from app.store.engine import bump_data_version, insert_assignments, utc_now
from app.store.models import Assignment, Batch, BatchIncidents, Dataset, Partner
from app.store.records import (
    INCIDENT_COLUMNS,
    BatchRecord,
    DatasetRecord,
    IncidentColumns,
    NewBatch,
    PartnerRecord,
)


class SqlDatasets:
    """Partners and datasets."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_partner(self, code: str, name: str) -> PartnerRecord:
        with self.engine.begin() as conn:
            try:
                conn.execute(insert(Partner).values(code=code, name=name, created_at=utc_now()))
            except IntegrityError as exc:
                raise Conflict(f"partner {code!r} already exists") from exc
        return PartnerRecord(code, name)

    def list_partners(self) -> list[PartnerRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(Partner.code, Partner.name).order_by(Partner.code)).all()
        return [PartnerRecord(r.code, r.name) for r in rows]

    def _partner_id(self, conn: Any, code: str | None) -> int | None:
        if code is None:
            return None
        pid = conn.execute(select(Partner.id).where(Partner.code == code)).scalar()
        if pid is None:
            raise NotFound(f"no partner {code!r}; add it with `atlas partners add {code}`")
        return int(pid)

    def find(self, name: str) -> DatasetRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(_dataset_query().where(Dataset.name == name)).first()
        return _dataset(row) if row else None

    def get(self, name: str) -> DatasetRecord:
        found = self.find(name)
        if found is None:
            raise NotFound(f"no dataset {name!r}")
        return found

    def all(self) -> list[DatasetRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(_dataset_query().order_by(Dataset.name)).all()
        return [_dataset(r) for r in rows]

    def create(
        self, name: str, owner: str | None, access: str, description: str = ""
    ) -> DatasetRecord:
        with self.engine.begin() as conn:
            owner_id = self._partner_id(conn, owner)
            try:
                conn.execute(
                    insert(Dataset).values(
                        name=name,
                        owner_id=owner_id,
                        access=access,
                        description=description,
                        created_at=utc_now(),
                    )
                )
            except IntegrityError as exc:
                raise Conflict(f"dataset {name!r} already exists") from exc
        return self.get(name)

    def configure(self, name: str, owner: str | None, access: str | None) -> DatasetRecord:
        self.get(name)
        with self.engine.begin() as conn:
            values: dict[str, Any] = {}
            if owner is not None:
                values["owner_id"] = self._partner_id(conn, owner)
            if access is not None:
                values["access"] = access
            if values:
                conn.execute(update(Dataset).where(Dataset.name == name).values(**values))
                bump_data_version(conn)
        return self.get(name)

    def delete_if_empty(self, dataset_id: int) -> bool:
        """Delete a dataset that holds no batch (in one statement: a batch landing meanwhile
        keeps it). True when it was deleted."""
        has_batch = select(Batch.id).where(Batch.dataset_id == dataset_id).exists()
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(Dataset).where(Dataset.id == dataset_id, ~has_batch)
            ).rowcount
        return bool(gone)


def _dataset_query() -> Any:
    return select(
        Dataset.id,
        Dataset.name,
        Partner.code.label("owner"),
        Dataset.access,
        Dataset.description,
        Dataset.created_at,
    ).outerjoin(Partner, Partner.id == Dataset.owner_id)


def _dataset(row: Row[Any]) -> DatasetRecord:
    return DatasetRecord(
        row.id, row.name, row.owner, row.access, row.description or "", row.created_at
    )


class SqlBatches:
    """Batches, their incidents and their cached area assignments."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _query(self) -> Any:
        return select(*Batch.__table__.c, Dataset.name.label("dataset_name")).join(
            Dataset, Dataset.id == Batch.dataset_id
        )

    def find_active_by_sha(self, dataset_id: int, sha256: str) -> BatchRecord | None:
        q = self._query().where(
            Batch.dataset_id == dataset_id, Batch.sha256 == sha256, Batch.superseded_by.is_(None)
        )
        return self._first(q)

    def find_by_idempotency_key(self, dataset_id: int, key: str) -> BatchRecord | None:
        q = self._query().where(Batch.dataset_id == dataset_id, Batch.idempotency_key == key)
        return self._first(q)

    def _first(self, query: Any) -> BatchRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(Batch.id.desc())).first()
        return _batch(row) if row else None

    def get(self, dataset_id: int, batch_id: int) -> BatchRecord:
        q = self._query().where(Batch.dataset_id == dataset_id, Batch.id == batch_id)
        found = self._first(q)
        if found is None:
            raise NotFound(f"no batch {batch_id} in this dataset")
        return found

    def all(self, dataset_id: int, active_only: bool = False) -> list[BatchRecord]:
        q = self._query().where(Batch.dataset_id == dataset_id)
        if active_only:
            q = q.where(Batch.superseded_by.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(Batch.id)).all()
        return [_batch(r) for r in rows]

    def all_active_ids(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(Batch.id).where(Batch.superseded_by.is_(None))).all()
        return [int(r[0]) for r in rows]

    def rejects_csv(self, batch_id: int) -> bytes:
        with self.engine.connect() as conn:
            data = conn.execute(select(Batch.rejects_csv).where(Batch.id == batch_id)).scalar()
        if data is None:
            raise NotFound(f"no batch {batch_id}")
        return bytes(data)

    def held_source_ids(
        self, dataset_id: int, candidates: np.ndarray, exclude_batches: Sequence[int]
    ) -> np.ndarray:
        """Which of ``candidates`` (source record ids) active batches of the dataset already hold.

        Reads only the batches' id hashes; a batch's ids themselves are read only when one of
        the candidates' hashes is among its own, and the answer is their exact comparison.
        """
        q = (
            select(BatchIncidents.batch_id, BatchIncidents.id_hashes)
            .join(Batch, Batch.id == BatchIncidents.batch_id)
            .where(BatchIncidents.dataset_id == dataset_id, Batch.superseded_by.is_(None))
            .where(BatchIncidents.batch_id.not_in([int(b) for b in exclude_batches]))
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        if not rows:  # nothing held yet
            return np.array([], dtype=str)
        wanted = pa.array(np.asarray(candidates, dtype=object), type=pa.string(), from_pandas=True)
        wanted = pc.unique(pc.filter(wanted, pc.not_equal(pc.fill_null(wanted, ""), "")))
        if len(wanted) == 0:
            return np.array([], dtype=str)
        hashes = np.unique(hash_strings(wanted))
        suspects = [
            int(r[0])
            for r in rows
            if np.isin(hashes, np.frombuffer(r[1], dtype="<u8"), assume_unique=True).any()
        ]
        if not suspects:
            return np.array([], dtype=str)
        held = pa.array(self._columns(suspects, ["source_id"])["source_id"], type=pa.string())
        found = pc.filter(wanted, pc.is_in(wanted, value_set=held))
        return np.array(found.to_pylist(), dtype=str)

    def write(
        self,
        dataset_id: int,
        new: NewBatch,
        incidents: IncidentColumns,
        assignments: dict[int, np.ndarray],
    ) -> BatchRecord:
        """Write one batch atomically: its row, incidents, assignments and any replacements."""
        try:
            with self.engine.begin() as conn:
                batch_id = self._write(conn, dataset_id, new, incidents, assignments)
        except IntegrityError as exc:
            raise BatchExists(
                f"{new.filename} was loaded by another upload at the same time"
            ) from exc
        return self.get(dataset_id, batch_id)

    def _write(
        self,
        conn: Any,
        dataset_id: int,
        new: NewBatch,
        incidents: IncidentColumns,
        assignments: dict[int, np.ndarray],
    ) -> int:
        batch_id = self._insert_batch(conn, dataset_id, new)
        conn.execute(
            insert(BatchIncidents).values(
                batch_id=batch_id,
                dataset_id=dataset_id,
                n_incidents=len(incidents),
                arrow_ipc=encode(incidents.columns),
                id_hashes=id_hashes(incidents["source_id"]).tobytes(),
            )
        )
        for version_id, area_idx in assignments.items():
            insert_assignments(conn, version_id, {batch_id: area_idx})
        if new.replaces:
            replaced = conn.execute(
                update(Batch)
                .where(Batch.id.in_(list(new.replaces)), Batch.superseded_by.is_(None))
                .values(superseded_by=batch_id)
            )
            if replaced.rowcount != len(new.replaces):
                raise Conflict(
                    f"a batch {new.filename} corrects was corrected by another upload meanwhile;"
                    " check the dataset's batches and send it again"
                )
        bump_data_version(conn)
        return batch_id

    def _insert_batch(self, conn: Any, dataset_id: int, new: NewBatch) -> int:
        report = dict(new.report)
        result = conn.execute(
            insert(Batch)
            .values(
                dataset_id=dataset_id,
                partner=new.partner,
                stream=new.stream,
                filename=new.filename,
                sha256=new.sha256,
                idempotency_key=new.idempotency_key,
                profile=new.profile,
                status=new.status,
                months=",".join(new.months),
                report=report,
                rejects_csv=new.rejects_csv,
                created_at=utc_now(),
            )
            .returning(Batch.id)
        )
        batch_id = int(result.scalar_one())
        report["batch_id"] = batch_id
        conn.execute(update(Batch).where(Batch.id == batch_id).values(report=report))
        return batch_id

    def load_incidents(
        self, dataset_id: int, columns: Sequence[str] | None = None
    ) -> IncidentColumns:
        """Incidents of the dataset's active batches in (batch, source order) order."""
        q = (
            select(BatchIncidents.batch_id, BatchIncidents.n_incidents)
            .join(Batch, Batch.id == BatchIncidents.batch_id)
            .where(BatchIncidents.dataset_id == dataset_id, Batch.superseded_by.is_(None))
            .order_by(BatchIncidents.batch_id)
        )
        with self.engine.connect() as conn:
            held = conn.execute(q).all()
        batch_ids = [int(r[0]) for r in held]
        # ``month`` always comes too: IncidentColumns counts its incidents by it.
        names = list(dict.fromkeys([*(columns or INCIDENT_COLUMNS), "month"]))
        data = self._columns(batch_ids, names)
        sizes = [int(r[1]) for r in held]
        return IncidentColumns(data, np.repeat(np.array(batch_ids, dtype=np.int64), sizes))

    def _columns(self, batch_ids: Sequence[int], names: Sequence[str]) -> dict[str, np.ndarray]:
        """The named incident columns of the given batches, concatenated in that order."""
        q = select(BatchIncidents.batch_id, BatchIncidents.arrow_ipc).where(
            BatchIncidents.batch_id.in_(list(batch_ids))
        )
        with self.engine.connect() as conn:
            blobs = {int(r[0]): bytes(r[1]) for r in conn.execute(q)}
        return decode_tables([blobs[b] for b in batch_ids], names)

    def batch_locations(self, batch_id: int) -> tuple[np.ndarray, np.ndarray]:
        """Easting and northing (NaN when unlocated) of one batch's incidents in source order."""
        cols = self._columns([batch_id], ["easting", "northing"])
        return cols["easting"], cols["northing"]

    def assignments(self, version_id: int, batch_ids: Sequence[int]) -> dict[int, np.ndarray]:
        q = select(Assignment.batch_id, Assignment.area_idx).where(
            Assignment.version_id == version_id, Assignment.batch_id.in_(list(batch_ids))
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return {int(r[0]): np.frombuffer(r[1], dtype="<i4").astype(np.int32) for r in rows}

    def put_assignments(self, version_id: int, by_batch: dict[int, np.ndarray]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                delete(Assignment).where(
                    Assignment.version_id == version_id, Assignment.batch_id.in_(list(by_batch))
                )
            )
            insert_assignments(conn, version_id, by_batch)


def _batch(b: Row[Any]) -> BatchRecord:
    return BatchRecord(
        id=int(b.id),
        dataset=b.dataset_name,
        partner=b.partner,
        stream=b.stream,
        filename=b.filename,
        sha256=b.sha256,
        idempotency_key=b.idempotency_key,
        profile=b.profile,
        status=b.status,
        months=tuple(m for m in (b.months or "").split(",") if m),
        superseded_by=b.superseded_by,
        report=dict(b.report or {}),
        created_at=b.created_at,
    )
