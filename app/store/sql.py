"""The SQL store: SQLite (embedded default) or PostgreSQL through SQLAlchemy."""

from __future__ import annotations

from pathlib import Path

from app.store.base import Audit, Batches, Boundaries, Datasets, Populations, Postcodes, Tokens
from app.store.engine import is_current, make_engine, migrate, read_data_version
from app.store.sql_access import SqlAudit, SqlPostcodes, SqlTokens
from app.store.sql_boundaries import SqlBoundaries, SqlPopulation
from app.store.sql_datasets import SqlBatches, SqlDatasets


class SqlStore:
    """Every repository over one SQLAlchemy engine."""

    def __init__(self, url: str, home: Path) -> None:
        self.url = url
        self.engine = make_engine(url, home)
        self.datasets: Datasets = SqlDatasets(self.engine)
        self.batches: Batches = SqlBatches(self.engine)
        self.boundaries: Boundaries = SqlBoundaries(self.engine)
        self.population: Populations = SqlPopulation(self.engine)
        self.postcodes: Postcodes = SqlPostcodes(self.engine)
        self.tokens: Tokens = SqlTokens(self.engine)
        self.audit: Audit = SqlAudit(self.engine)

    def migrate(self) -> None:
        migrate(self.engine)

    def is_current(self) -> bool:
        return is_current(self.engine)

    def data_version(self) -> int:
        with self.engine.connect() as conn:
            return read_data_version(conn)

    def close(self) -> None:
        self.engine.dispose()
