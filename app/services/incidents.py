"""A dataset's incidents held in memory as columns, with their area in any boundary version.

Loading is one query per dataset; the frame is reused until the store's data version changes
(a batch, boundary version or population lands), so analysis never serves stale data.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from app.errors import BadRequest
from app.services.areas import AreaCatalogue
from app.store import Store
from app.store.records import DatasetRecord
from geo.aggregate import month_label, month_number, month_numbers

FRAME_COLUMNS = (
    "month",
    "category",
    "easting",
    "northing",
    "occurred_from",
    "occurred_to",
    "flags",
    "precision_m",
)


@dataclass
class IncidentFrame:
    """Active incidents of one dataset, as aligned numpy columns."""

    dataset: DatasetRecord
    data_version: int
    month: np.ndarray  # "YYYY-MM" strings
    month_no: np.ndarray  # int64 year*12 + month-1
    category: np.ndarray
    easting: np.ndarray  # float64 metres, NaN unlocated
    northing: np.ndarray
    occurred_from: np.ndarray
    occurred_to: np.ndarray
    flags: np.ndarray
    batch_id: np.ndarray
    _areas: dict[int, np.ndarray] = field(default_factory=dict)
    _distinct: dict[str, list[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __len__(self) -> int:
        return len(self.month)

    @property
    def located(self) -> np.ndarray:
        return np.asarray(np.isfinite(self.easting), dtype=bool)

    def months(self) -> list[str]:
        """The months held, in order (computed once per frame: frames never change)."""
        if "months" not in self._distinct:
            held = np.unique(self.month_no).tolist()
            self._distinct["months"] = [month_label(m) for m in held]
        return list(self._distinct["months"])

    def categories(self) -> list[str]:
        """The categories held, sorted (computed once per frame)."""
        if "categories" not in self._distinct:
            self._distinct["categories"] = sorted(set(self.category.tolist()) - {None})
        return list(self._distinct["categories"])

    def period(
        self, mask: np.ndarray, first: str | None, last: str | None
    ) -> tuple[str | None, str | None]:
        """The period asked for, else the first/last month the selected incidents cover."""
        chosen = self.month_no[mask]
        lo = first or (month_label(int(chosen.min())) if len(chosen) else None)
        hi = last or (month_label(int(chosen.max())) if len(chosen) else None)
        return lo, hi

    def select(self, first: str | None, last: str | None, category: str | None) -> np.ndarray:
        """Mask of incidents in the inclusive month range and category (case-insensitive)."""
        mask = np.ones(len(self), dtype=bool)
        lo = month_number(first) if first else None
        hi = month_number(last) if last else None
        if lo is not None and hi is not None and lo > hi:
            raise BadRequest(f"--from {first} is after --to {last}")
        if lo is not None:
            mask &= self.month_no >= lo
        if hi is not None:
            mask &= self.month_no <= hi
        if category:
            mask &= self.category == self._category(category)
        return mask

    def _category(self, category: str) -> str:
        """The held category a request names: exact, else the one case-insensitive match."""
        held = self.categories()
        if category in held:
            return category
        matches = [c for c in held if c.casefold() == category.casefold()]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise BadRequest(f"category {category!r} is ambiguous: {', '.join(matches)}")
        raise BadRequest(
            f"no incidents of category {category!r} in {self.dataset.name} "
            f"(categories: {', '.join(held)})"
        )


class IncidentCache:
    """Frames per dataset, refreshed when the store's data version moves on."""

    def __init__(self, store: Store, areas: AreaCatalogue) -> None:
        self.store = store
        self.areas = areas
        self._frames: dict[int, IncidentFrame] = {}
        self._lock = threading.Lock()

    def frame(self, dataset: DatasetRecord) -> IncidentFrame:
        version = self.store.data_version()
        with self._lock:
            cached = self._frames.get(dataset.id)
            if cached is not None and cached.data_version == version:
                return cached
        frame = self._load(dataset, version)
        with self._lock:
            self._frames[dataset.id] = frame
        return frame

    def _load(self, dataset: DatasetRecord, version: int) -> IncidentFrame:
        cols = self.store.batches.load_incidents(dataset.id, FRAME_COLUMNS)
        month = cols["month"].astype(str) if len(cols) else np.empty(0, dtype=str)
        return IncidentFrame(
            dataset=dataset,
            data_version=version,
            month=month,
            month_no=month_numbers(month) if len(month) else np.empty(0, dtype=np.int64),
            category=cols["category"],
            easting=cols["easting"],
            northing=cols["northing"],
            occurred_from=cols["occurred_from"],
            occurred_to=cols["occurred_to"],
            flags=cols["flags"],
            batch_id=cols.batch_id,
        )

    def area_idx(self, frame: IncidentFrame, version_id: int) -> np.ndarray:
        """Area index of every incident of ``frame`` in one boundary version (-1 outside)."""
        with frame._lock:
            if version_id in frame._areas:
                return frame._areas[version_id]
        batches = list(dict.fromkeys(frame.batch_id.tolist()))
        stored = self.store.batches.assignments(version_id, batches)
        missing = [b for b in batches if b not in stored]
        if missing:
            stored.update(self._assign_missing(frame, version_id, missing))
        parts = [stored[b] for b in batches]
        out = np.concatenate(parts) if parts else np.empty(0, dtype=np.int32)
        if len(out) != len(frame):
            raise RuntimeError("stored assignments do not match the incidents; re-run `atlas init`")
        with frame._lock:
            frame._areas[version_id] = out
        return out

    def _assign_missing(
        self, frame: IncidentFrame, version_id: int, batches: list[int]
    ) -> dict[int, np.ndarray]:
        """Assign batches whose assignment for this version was never stored (and store it)."""
        index = self.areas.index(version_id)
        found = {}
        for b in batches:
            sel = frame.batch_id == b
            found[b] = index.assign(frame.easting[sel], frame.northing[sel])
        self.store.batches.put_assignments(version_id, found)
        return found
