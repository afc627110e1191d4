"""Conversions between numpy columns and DB-API row values (no SQL here)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from app.store.records import INCIDENT_COLUMNS


def to_db_values(arr: np.ndarray, kind: str) -> list[Any]:
    """Python values for one column: NaN/NaT -> None, floats that hold metres -> int."""
    if kind == "float64":
        obj = np.round(arr).astype(object)
        obj[np.isnan(arr)] = None
        return [None if v is None else int(v) for v in obj.tolist()]
    if kind.startswith("datetime64"):
        obj = arr.astype("datetime64[s]").astype(object)
        obj[np.isnat(arr)] = None
        return list(obj.tolist())
    if kind == "int64":
        return [int(v) for v in arr.tolist()]
    return [None if v is None or v == "" else v for v in arr.tolist()]


def from_db_values(values: Sequence[Any], kind: str) -> np.ndarray:
    """A numpy column from DB values (None -> NaN / NaT / None)."""
    if kind == "float64":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind.startswith("datetime64"):
        return np.array(
            [np.datetime64("NaT") if v is None else _as_datetime(v) for v in values],
            dtype="datetime64[s]",
        )
    if kind == "int64":
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _as_datetime(value: Any) -> np.datetime64:
    if isinstance(value, datetime):
        return np.datetime64(value.replace(tzinfo=None), "s")
    return np.datetime64(str(value), "s")


def incident_tuples(
    columns: dict[str, np.ndarray], dataset_id: int, batch_id: int
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and row tuples for a driver-level bulk insert of one batch's incidents."""
    names = list(INCIDENT_COLUMNS)
    converted = [to_db_values(columns[n], INCIDENT_COLUMNS[n]) for n in names]
    n = len(columns["month"])
    fixed = ([dataset_id] * n, [batch_id] * n)
    return ["dataset_id", "batch_id", *names], list(zip(*fixed, *converted, strict=True))
