"""Boundary versions, their areas and populations in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import shapely
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, NotFound
from app.store.engine import bump_data_version, insert_assignments, utc_now
from app.store.models import Area, Assignment, BoundaryVersion, Population
from app.store.records import AreaLayer, BoundaryVersionRecord, PopulationTable

_VERSION_COLUMNS = (
    BoundaryVersion.id,
    BoundaryVersion.set_name,
    BoundaryVersion.version,
    BoundaryVersion.title,
    BoundaryVersion.valid_from,
    BoundaryVersion.valid_to,
    BoundaryVersion.features,
    BoundaryVersion.sha256,
    BoundaryVersion.source,
    BoundaryVersion.licence,
    BoundaryVersion.attribution,
    BoundaryVersion.report,
    BoundaryVersion.imported_at,
)


def _version(row: Any) -> BoundaryVersionRecord:
    return BoundaryVersionRecord(
        id=int(row.id),
        set_name=row.set_name,
        version=row.version,
        title=row.title or "",
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        features=int(row.features),
        sha256=row.sha256,
        source=row.source or "",
        licence=row.licence or "",
        attribution=row.attribution or "",
        report=dict(row.report or {}),
        imported_at=row.imported_at,
    )


class SqlBoundaries:
    """Boundary sets and versions with their areas, area index and assignments."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add_version(
        self,
        meta: dict[str, Any],
        codes: np.ndarray,
        names: np.ndarray,
        geometries: np.ndarray,
        area_index: bytes,
        assignments: dict[int, np.ndarray],
    ) -> BoundaryVersionRecord:
        """Register a version with its areas and the assignment of every held batch, atomically.

        ``meta`` holds set_name, version, title, valid_from, valid_to, sha256, source, licence,
        attribution and report.
        """
        wkb = shapely.to_wkb(geometries)
        area_m2 = shapely.area(geometries)
        with self.engine.begin() as conn:
            try:
                vid = conn.execute(
                    insert(BoundaryVersion)
                    .values(
                        **meta,
                        features=len(codes),
                        area_index=area_index,
                        imported_at=utc_now(),
                    )
                    .returning(BoundaryVersion.id)
                ).scalar_one()
            except IntegrityError as exc:
                raise Conflict(
                    f"boundary version {meta['set_name']}:{meta['version']} already exists"
                ) from exc
            rows = [
                {
                    "version_id": vid,
                    "idx": i,
                    "code": str(codes[i]),
                    "name": str(names[i]),
                    "area_m2": float(area_m2[i]),
                    "geometry_wkb": wkb[i],
                }
                for i in range(len(codes))
            ]
            conn.execute(insert(Area), rows)
            insert_assignments(conn, int(vid), assignments)
            bump_data_version(conn)
        return self.get_by_id(int(vid))

    def all(self) -> list[BoundaryVersionRecord]:
        q = select(*_VERSION_COLUMNS).order_by(
            BoundaryVersion.set_name, BoundaryVersion.valid_from, BoundaryVersion.version
        )
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(q).all()]

    def get_by_id(self, version_id: int) -> BoundaryVersionRecord:
        q = select(*_VERSION_COLUMNS).where(BoundaryVersion.id == version_id)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            raise NotFound(f"no boundary version with id {version_id}")
        return _version(row)

    def find(self, set_name: str, version: str) -> BoundaryVersionRecord | None:
        q = select(*_VERSION_COLUMNS).where(
            BoundaryVersion.set_name == set_name, BoundaryVersion.version == version
        )
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return _version(row) if row else None

    def layer(self, version_id: int) -> AreaLayer:
        record = self.get_by_id(version_id)
        q = (
            select(Area.code, Area.name, Area.area_m2, Area.geometry_wkb)
            .where(Area.version_id == version_id)
            .order_by(Area.idx)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        codes = np.array([r.code for r in rows], dtype=object)
        names = np.array([r.name for r in rows], dtype=object)
        geoms = shapely.from_wkb(np.array([bytes(r.geometry_wkb) for r in rows], dtype=object))
        area = np.array([r.area_m2 for r in rows], dtype=np.float64)
        return AreaLayer(record, codes, names, geoms, area)

    def area_index(self, version_id: int) -> bytes:
        q = select(BoundaryVersion.area_index).where(BoundaryVersion.id == version_id)
        with self.engine.connect() as conn:
            data = conn.execute(q).scalar()
        if data is None:
            raise NotFound(f"no boundary version with id {version_id}")
        return bytes(data)

    def delete(self, version_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(Assignment).where(Assignment.version_id == version_id))
            conn.execute(delete(Population).where(Population.version_id == version_id))
            conn.execute(delete(Area).where(Area.version_id == version_id))
            conn.execute(delete(BoundaryVersion).where(BoundaryVersion.id == version_id))
            bump_data_version(conn)


class SqlPopulation:
    """Resident population per area of a boundary version, by year."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def put(
        self, version_id: int, year: int, codes: np.ndarray, values: np.ndarray, source: str
    ) -> int:
        """Replace the population of one version and year; returns the number of areas."""
        rows = [
            {
                "version_id": version_id,
                "year": year,
                "area_code": str(c),
                "value": float(v),
                "source": source,
            }
            for c, v in zip(codes.tolist(), values.tolist(), strict=True)
        ]
        with self.engine.begin() as conn:
            conn.execute(
                delete(Population).where(
                    Population.version_id == version_id, Population.year == year
                )
            )
            if rows:
                conn.execute(insert(Population), rows)
            bump_data_version(conn)
        return len(rows)

    def layers(self) -> list[tuple[int, int]]:
        """(version_id, year) of every population layer held."""
        q = select(Population.version_id, Population.year).distinct()
        with self.engine.connect() as conn:
            return [(int(r[0]), int(r[1])) for r in conn.execute(q).all()]

    def get(self, version_id: int, year: int) -> PopulationTable:
        q = select(Population.area_code, Population.value).where(
            Population.version_id == version_id, Population.year == year
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        if not rows:
            raise NotFound(f"no population for boundary version {version_id} in {year}")
        return PopulationTable(
            version_id,
            year,
            np.array([r[0] for r in rows], dtype=object),
            np.array([r[1] for r in rows], dtype=np.float64),
        )


def parse_date(value: object) -> date | None:
    """A date from a TOML/ISO value (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))
