"""Plain records the store hands out and takes in. No SQLAlchemy types cross this boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PartnerRecord:
    code: str
    name: str


@dataclass(frozen=True)
class DatasetRecord:
    id: int
    name: str
    owner: str | None
    access: str
    description: str
    created_at: datetime


@dataclass(frozen=True)
class BatchRecord:
    id: int
    dataset: str
    partner: str
    stream: str
    filename: str
    sha256: str
    idempotency_key: str | None
    profile: str
    status: str
    months: tuple[str, ...]
    superseded_by: int | None
    report: dict[str, Any]
    created_at: datetime

    @property
    def active(self) -> bool:
        """True while no later batch has replaced this one."""
        return self.superseded_by is None


@dataclass(frozen=True)
class NewBatch:
    """Everything about a batch except its incidents, ready to be written."""

    dataset: str
    partner: str
    stream: str
    filename: str
    sha256: str
    idempotency_key: str | None
    profile: str
    status: str
    months: tuple[str, ...]
    report: dict[str, Any]
    rejects_csv: bytes
    replaces: tuple[int, ...] = ()


#: Names and numpy dtypes of the incident columns exchanged with the store.
INCIDENT_COLUMNS: dict[str, str] = {
    "source_row": "int64",
    "source_id": "object",
    "month": "object",
    "occurred_from": "datetime64[s]",
    "occurred_to": "datetime64[s]",
    "category": "object",
    "easting": "float64",
    "northing": "float64",
    "precision_m": "float64",
    "geocode_method": "object",
    "location_text": "object",
    "supplied_area": "object",
    "outcome": "object",
    "flags": "int64",
}


@dataclass
class IncidentColumns:
    """Incidents as aligned numpy columns (one element per incident).

    ``easting``/``northing`` are EPSG:27700 metres, NaN when unlocated. ``month`` is ``YYYY-MM``.
    ``occurred_from``/``occurred_to`` are NaT when only the month is known; otherwise the
    half-open window ``[occurred_from, occurred_to)`` (equal for an exact time; a date without
    a time of day is its whole day, midnight to the next midnight).
    """

    columns: dict[str, np.ndarray]
    batch_id: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.columns["month"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def take(self, index: np.ndarray) -> IncidentColumns:
        """The subset at ``index`` (bool mask or integer positions)."""
        batch = self.batch_id[index] if len(self.batch_id) else self.batch_id
        return IncidentColumns({k: v[index] for k, v in self.columns.items()}, batch)


@dataclass(frozen=True)
class BoundaryVersionRecord:
    id: int
    set_name: str
    version: str
    title: str
    valid_from: date
    valid_to: date | None
    features: int
    sha256: str
    source: str
    licence: str
    attribution: str
    report: dict[str, Any]
    imported_at: datetime

    @property
    def selector(self) -> str:
        """``set:version``, the canonical selector of this version."""
        return f"{self.set_name}:{self.version}"

    @property
    def label(self) -> str:
        """How people see the version named: ``"Title — set version"``, or ``"set version"``
        alone when it has no title of its own (an untitled import is titled ``set version``)."""
        plain = f"{self.set_name} {self.version}"
        title = self.title.strip()
        return plain if title.casefold() in ("", plain.casefold()) else f"{title} — {plain}"


@dataclass(frozen=True)
class AreaLayer:
    """The areas of one boundary version; arrays aligned by area index."""

    version: BoundaryVersionRecord
    codes: np.ndarray
    names: np.ndarray
    geometries: np.ndarray
    area_m2: np.ndarray


@dataclass(frozen=True)
class PostcodeTable:
    postcode: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    precision_m: np.ndarray
    introduced: np.ndarray
    terminated: np.ndarray


@dataclass(frozen=True)
class TokenRecord:
    id: str
    role: str
    partner: str | None
    scope: dict[str, Any]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class PopulationTable:
    version_id: int
    year: int
    codes: np.ndarray
    values: np.ndarray
