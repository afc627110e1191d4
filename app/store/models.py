"""SQLAlchemy 2 tables of the store. Portable across SQLite and PostgreSQL.

Geometries are stored as WKB in EPSG:27700 (``LargeBinary``), so the embedded SQLite store needs no
extension; the PostGIS store adds native geometry columns in its own migration.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments INTEGER PRIMARY KEY; BigInteger elsewhere.
IdType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base of every table."""


class Meta(Base):
    """Key/value facts about the store (data version counter for cache invalidation)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Partner(Base):
    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Dataset(Base):
    __tablename__ = "datasets"
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), nullable=True)
    access: Mapped[str] = mapped_column(String(16), default="open")
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Batch(Base):
    __tablename__ = "batches"
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    partner: Mapped[str] = mapped_column(String(64), default="")
    #: Partner plus the file's source (e.g. the reporting force): a correction replaces its stream.
    stream: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    profile: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    months: Mapped[str] = mapped_column(Text, default="")
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    report: Mapped[dict[str, object]] = mapped_column(JSON)
    rejects_csv: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (
        Index("ix_batches_dataset_sha", "dataset_id", "sha256"),
        Index("ix_batches_idem", "idempotency_key"),
        # Concurrent uploads of one file: only one may be the active batch of that content.
        Index(
            "uq_batches_active_content",
            "dataset_id",
            "sha256",
            unique=True,
            sqlite_where=text("superseded_by IS NULL"),
            postgresql_where=text("superseded_by IS NULL"),
        ),
        Index(
            "uq_batches_idempotency_key",
            "dataset_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )


class BatchIncidents(Base):
    """Every incident of one batch, column-wise (see :mod:`app.store.columnar`).

    A batch is immutable, so its incidents are one compressed Arrow IPC value: one insert per
    batch, and loads read only the columns they need. ``id_hashes`` holds the sorted distinct
    64-bit hashes of the batch's record ids (little-endian uint64), read on their own to find
    repeats of ids already held.
    """

    __tablename__ = "batch_incidents"
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id"), index=True)
    n_incidents: Mapped[int] = mapped_column(Integer)
    arrow_ipc: Mapped[bytes] = mapped_column(LargeBinary)
    id_hashes: Mapped[bytes] = mapped_column(LargeBinary)


class BoundaryVersion(Base):
    __tablename__ = "boundary_versions"
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    set_name: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, default="")
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    features: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, default="")
    licence: Mapped[str] = mapped_column(Text, default="")
    attribution: Mapped[str] = mapped_column(Text, default="")
    report: Mapped[dict[str, object]] = mapped_column(JSON)
    area_index: Mapped[bytes] = mapped_column(LargeBinary)
    imported_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("set_name", "version", name="uq_boundary_set_version"),)


class Area(Base):
    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("boundary_versions.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    area_m2: Mapped[float] = mapped_column(Float)
    geometry_wkb: Mapped[bytes] = mapped_column(LargeBinary)
    __table_args__ = (
        UniqueConstraint("version_id", "code", name="uq_area_version_code"),
        Index("ix_areas_version_idx", "version_id", "idx"),
    )


class Assignment(Base):
    """Containing area of every incident of one batch for one boundary version.

    ``area_idx`` is little-endian int32, one element per incident of the batch in id order
    (-1 = outside every area or unlocated). Computed once when either side arrives.
    """

    __tablename__ = "assignments"
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("batches.id", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(
        ForeignKey("boundary_versions.id", ondelete="CASCADE"), primary_key=True
    )
    area_idx: Mapped[bytes] = mapped_column(LargeBinary)


class Population(Base):
    __tablename__ = "population"
    version_id: Mapped[int] = mapped_column(
        ForeignKey("boundary_versions.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(Text, default="")


class Postcode(Base):
    __tablename__ = "postcodes"
    postcode: Mapped[str] = mapped_column(String(8), primary_key=True)
    easting: Mapped[int] = mapped_column(Integer)
    northing: Mapped[int] = mapped_column(Integer)
    precision_m: Mapped[int] = mapped_column(Integer, default=1)
    introduced: Mapped[str | None] = mapped_column(String(10), nullable=True)
    terminated: Mapped[str | None] = mapped_column(String(10), nullable=True)


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    partner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    scope: Mapped[dict[str, object]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    principal: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, object]] = mapped_column(JSON)
