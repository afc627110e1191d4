"""``Atlas``: the one engine behind the CLI, the HTTP API and notebooks.

>>> from app.atlas import Atlas
>>> atlas = Atlas.open()                      # the embedded store under var/
>>> atlas.counts("police-uk-surrey", by="wards:2019")   # doctest: +SKIP
"""

from __future__ import annotations

import re
import threading
import tomllib
from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from app.access.principal import OPERATOR, Principal
from app.errors import BadRequest, Conflict
from app.ingest.pipeline import IngestContext, Outcome, PreparedBatch
from app.ingest.profiles import Profile, load_profile
from app.ingest.reader import SourceFile, collect_sources
from app.ingest.run import ProgressFn, Step, land_all, prepare_all, read_all, stepper
from app.services.areas import AreaCatalogue
from app.services.boundaries import BoundarySpec, import_boundary, register_bundled
from app.services.counts import CountQuery, counts_table
from app.services.crosswalks import Crosswalks
from app.services.denominators import Denominators
from app.services.geocoding import Geocoder, GeocodeResult
from app.services.hotspots import HotspotOutput, HotspotQuery, Hotspots
from app.services.incidents import IncidentCache
from app.services.maps import MapBuilder
from app.services.population import import_population
from app.services.postcodes import PostcodeFields, import_postcodes
from app.services.tiles import TileCutter
from app.services.trends import Compare, Trends
from app.settings import Settings, get_settings
from app.store import Store, open_store
from app.store.records import BoundaryVersionRecord, DatasetRecord, PartnerRecord
from geo.disclosure import suppression_mask

ACCESS_LEVELS = ("open", "partner", "restricted")
DEMO_DATASET = "police-uk-surrey"


class Atlas:
    """Store + geocoder + boundary catalogue, with the operations every interface offers."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self.areas = AreaCatalogue(store, settings.partnership_set)
        self._geocoder: Geocoder | None = None
        self._build_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        database_url: str | None = None,
        settings: Settings | None = None,
        migrate: bool = False,
    ) -> Atlas:
        """Open the store named by ``database_url`` (default: settings / ``ATLAS_DATABASE_URL``)."""
        settings = settings or get_settings()
        url = database_url or settings.database_url
        return cls(settings, open_store(url, settings.home, migrate=migrate))

    @property
    def geocoder(self) -> Geocoder:
        """The exact geocoder; loading it reads the OSTN15 grid (GridFileMissing if absent).

        Built once, under a lock: concurrent first requests must not load the grid twice.
        """
        with self._build_lock:
            if self._geocoder is None:
                self._geocoder = Geocoder(self.settings.ostn15_grid, self.store)
            return self._geocoder

    def warm(self) -> None:
        """Build the shared engine parts now (a server does this before taking requests)."""
        for part in (
            "incidents",
            "denominators",
            "crosswalks",
            "trends",
            "hotspot_engine",
            "maps",
            "tiles",
        ):
            getattr(self, part)

    def close(self) -> None:
        self.store.close()

    # -- set-up -------------------------------------------------------------------------------

    def init(self, empty: bool = False) -> dict[str, Any]:
        """Create or migrate the store; unless ``empty`` register bundled boundaries, population."""
        self.store.migrate()
        out: dict[str, Any] = {"store": self.store.url, "boundaries": [], "population": []}
        if not empty:
            out["boundaries"] = register_bundled(
                self.store, self.areas, self.geocoder, self.settings.boundaries_dir
            )
            out["population"] = self._bundled_population()
        return out

    def _bundled_population(self) -> list[dict[str, Any]]:
        manifest = self.settings.data_dir / "population" / "manifest.toml"
        if not manifest.exists():
            return []
        entries = tomllib.loads(manifest.read_text(encoding="utf-8")).get("population", [])
        held = set(self.store.population.layers())
        out = []
        for e in entries:
            version = self.areas.resolve(f"{e['set']}:{e['version']}")
            if (version.id, int(e["year"])) in held:
                out.append({"population": f"{version.selector} {e['year']}", "status": "present"})
                continue
            rep = self.import_population(
                manifest.parent / e["file"],
                version.selector,
                e["code_field"],
                e["value_field"],
                int(e["year"]),
            )
            out.append(
                {"population": f"{version.selector} {e['year']}", "status": "registered", **rep}
            )
        return out

    def demo(self) -> dict[str, Any]:
        """Load the bundled demo police.uk files (a no-op for files already held)."""
        folder = self.settings.data_dir / "demo" / "police-uk"
        outcomes = self.ingest([folder], DEMO_DATASET, profile="police-uk", access="open")
        return {"dataset": DEMO_DATASET, "batches": [o.report for o in outcomes]}

    # -- boundaries and reference data --------------------------------------------------------

    def import_boundaries(self, spec: BoundarySpec) -> BoundaryVersionRecord:
        return import_boundary(self.store, self.areas, self.geocoder, spec)

    def import_population(
        self, path: Path, selector: str, code_field: str, value_field: str, year: int
    ) -> dict[str, Any]:
        version = self.areas.resolve(selector)
        return import_population(
            self.store, self.areas.layer(version.id), path, code_field, value_field, year
        )

    def import_postcodes(self, path: Path, fields: PostcodeFields) -> dict[str, Any]:
        return import_postcodes(path, fields, self.geocoder)

    # -- datasets and ingest ------------------------------------------------------------------

    def dataset(
        self, name: str, owner: str | None = None, access: str | None = None, create: bool = False
    ) -> DatasetRecord:
        """The named dataset; with ``create`` it is created when missing.

        A partner's data is private unless said otherwise: a new dataset with an owner is
        ``restricted`` by default, one without (the operator's open data) ``open``. Owner and
        access given for an existing dataset must match it (change them with
        ``atlas datasets configure``), never silently ignored.
        """
        if not create:
            found = self.store.datasets.get(name)
            _check_unchanged(found, owner, access)
            return found
        return self._find_or_create(name, owner, access)[0]

    def add_partner(self, code: str, name: str | None = None) -> PartnerRecord:
        """Register a partner organisation (its code follows the dataset naming rule)."""
        check_name("partner", code)
        return self.store.datasets.add_partner(code, name or code)

    def _find_or_create(
        self, name: str, owner: str | None, access: str | None
    ) -> tuple[DatasetRecord, bool]:
        """The dataset and whether this call created it (a lost race reuses the winner's)."""
        if access is not None and access not in ACCESS_LEVELS:
            raise BadRequest(f"access must be one of {', '.join(ACCESS_LEVELS)}")
        found = self.store.datasets.find(name)
        if found is None:
            check_name("dataset", name)
            try:
                made = self.store.datasets.create(
                    name, owner, access or ("restricted" if owner else "open")
                )
                return made, True
            except Conflict:
                # Another process created it between our look and our insert: use theirs.
                found = self.store.datasets.find(name)
                if found is None:
                    raise
        _check_unchanged(found, owner, access)
        return found, False

    def ingest(
        self,
        paths: Sequence[Path],
        dataset: str,
        profile: str | None = None,
        owner: str | None = None,
        access: str | None = None,
        partner: str | None = None,
        progress: ProgressFn | None = None,
    ) -> list[Outcome]:
        """Ingest files (every file read and checked before any is written)."""
        prof = load_profile(profile)
        sources = collect_sources(list(paths), max_bytes=2**31)
        return self._ingest_sources(sources, dataset, prof, owner, access, partner, None, progress)

    def ingest_sources(
        self,
        sources: Sequence[SourceFile],
        dataset: str,
        profile: Profile,
        partner: str | None = None,
        idempotency_key: str | None = None,
        owner: str | None = None,
        access: str | None = None,
    ) -> list[Outcome]:
        return self._ingest_sources(
            sources, dataset, profile, owner, access, partner, idempotency_key, None
        )

    def _ingest_sources(
        self,
        sources: Sequence[SourceFile],
        dataset: str,
        profile: Profile,
        owner: str | None,
        access: str | None,
        partner: str | None,
        idempotency_key: str | None,
        progress: ProgressFn | None,
    ) -> list[Outcome]:
        step = stepper(progress, total=4 * len(sources))
        files = list(zip(sources, read_all(sources, profile, step), strict=True))
        ds, created = self._find_or_create(dataset, owner, access)
        try:
            return land_all(self._context(step), ds, files, profile, partner, idempotency_key)
        except Exception:
            if created:
                # A failed first load leaves no empty dataset (the store keeps one with batches).
                self.store.datasets.delete_if_empty(ds.id)
            raise

    def dry_run(
        self,
        paths: Sequence[Path],
        dataset: str,
        profile: str | None = None,
        partner: str | None = None,
        progress: ProgressFn | None = None,
    ) -> list[PreparedBatch]:
        """Everything ``ingest`` does except writing: the batch reports and rejects of each file.

        Checks against what the dataset already holds (duplicates, corrections) when it exists.
        """
        prof = load_profile(profile)
        sources = collect_sources(list(paths), max_bytes=2**31)
        step = stepper(progress, total=3 * len(sources))
        files = list(zip(sources, read_all(sources, prof, step), strict=True))
        ds = self.store.datasets.find(dataset) or DatasetRecord(
            -1, dataset, None, "open", "", datetime.now(UTC).replace(tzinfo=None)
        )
        return prepare_all(self._context(step), ds, files, prof, partner)

    def _context(self, step: Step) -> IngestContext:
        return IngestContext(
            store=self.store,
            geocoder=self.geocoder,
            areas=self.areas,
            max_distance_km=self.settings.max_distance_km,
            today=date.today(),
            progress=step,
        )

    # -- analysis -----------------------------------------------------------------------------

    @cached_property
    def incidents(self) -> IncidentCache:
        return IncidentCache(self.store, self.areas)

    @cached_property
    def denominators(self) -> Denominators:
        return Denominators(self.store, self.areas)

    @cached_property
    def crosswalks(self) -> Crosswalks:
        return Crosswalks(self.store, self.areas, self.denominators)

    def readable_dataset(self, name: str, principal: Principal) -> DatasetRecord:
        """The dataset, if ``principal`` may read it (NotFound, Unauthorized, Forbidden)."""
        dataset = self.store.datasets.get(name)
        principal.check_read(dataset)
        return dataset

    def counts(self, query: CountQuery, principal: Principal = OPERATOR) -> dict[str, Any]:
        """One row per area of the selected boundary version (see ``atlas counts``)."""
        dataset = self.readable_dataset(query.dataset, principal)
        return counts_table(
            self.areas,
            self.incidents,
            self.denominators,
            dataset,
            query,
            principal,
            self.settings.suppression_threshold,
        )

    @cached_property
    def hotspot_engine(self) -> Hotspots:
        return Hotspots(
            self.areas, self.incidents, self.denominators, self.settings.suppression_threshold
        )

    def hotspots(self, query: HotspotQuery, principal: Principal = OPERATOR) -> HotspotOutput:
        """Gi* hotspots on a grid or on areas (see ``atlas hotspots``)."""
        dataset = self.readable_dataset(query.dataset, principal)
        return self.hotspot_engine.run(dataset, query, principal)

    @cached_property
    def trends(self) -> Trends:
        return Trends(self.areas, self.incidents, self.settings.suppression_threshold)

    def categories(self, dataset: str, principal: Principal = OPERATOR) -> dict[str, Any]:
        """Categories held in a dataset with their counts, and the months held."""
        frame = self.incidents.frame(self.readable_dataset(dataset, principal))
        names, counts = np.unique(frame.category.astype(str), return_counts=True)
        hide = suppression_mask(counts, self.settings.suppression_threshold)
        if not principal.suppressed:
            hide[:] = False
        return {
            "dataset": dataset,
            "months": frame.months(),
            "categories": [
                {"category": str(n), "incidents": None if h else int(c)}
                for n, c, h in zip(names, counts, hide, strict=True)
            ],
        }

    def change(
        self,
        dataset: str,
        by: str,
        first: str | None = None,
        last: str | None = None,
        category: str | None = None,
        compare: Compare = "last_year",
        principal: Principal = OPERATOR,
    ) -> dict[str, Any]:
        """Per area: the period against the previous one or the same period last year."""
        ds = self.readable_dataset(dataset, principal)
        return self.trends.change(ds, by, first, last, category, compare, principal)

    def area_summary(
        self,
        dataset: str,
        by: str,
        area: str,
        first: str | None = None,
        last: str | None = None,
        category: str | None = None,
        principal: Principal = OPERATOR,
    ) -> dict[str, Any]:
        """One area's monthly series with its baseline and its changes."""
        ds = self.readable_dataset(dataset, principal)
        return self.trends.area_summary(ds, by, area, first, last, category, principal)

    def time_profile(
        self,
        dataset: str,
        first: str | None = None,
        last: str | None = None,
        category: str | None = None,
        principal: Principal = OPERATOR,
    ) -> dict[str, Any]:
        """Incidents by day of week x hour of day."""
        ds = self.readable_dataset(dataset, principal)
        return self.trends.time_profile(ds, first, last, category, principal)

    @cached_property
    def maps(self) -> MapBuilder:
        return MapBuilder(self)

    @cached_property
    def tiles(self) -> TileCutter:
        return TileCutter()

    # -- geocoding ----------------------------------------------------------------------------

    def geocode(self, queries: Sequence[str]) -> list[GeocodeResult]:
        return [self.geocoder.geocode(q) for q in queries]


def _check_unchanged(found: DatasetRecord, owner: str | None, access: str | None) -> None:
    clashes = []
    if owner is not None and owner != found.owner:
        clashes.append(f"owner {found.owner or 'none'}")
    if access is not None and access != found.access:
        clashes.append(f"access {found.access}")
    if clashes:
        raise Conflict(
            f"dataset {found.name!r} already exists with {' and '.join(clashes)}; change them "
            f"with `atlas datasets configure {found.name}`"
        )


def check_name(kind: str, name: str) -> None:
    """Dataset and partner names appear in URLs, file names and tokens: keep them plain."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}", name):
        raise BadRequest(
            f"{kind} name {name!r}: letters, digits, '-', '_', '.'; start with a letter or digit"
        )
