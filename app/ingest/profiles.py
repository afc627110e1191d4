"""Mapping profiles: which column of a partner's CSV is what.

A profile is a TOML file (see ``profiles/police-uk.toml`` and the README). It names the columns for
the record id, category, dates and location, the date formats, an optional category mapping, and
what to do with implausible locations.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from app.errors import ProfileError

BUILTIN_DIR = Path(__file__).resolve().parent / "profiles"
#: What a built-in profile name may look like (never a path).
BUILTIN_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Columns(_Strict):
    """Source column names for the non-date, non-location fields (all optional but category)."""

    record_id: str | None = None
    category: str | None = None
    location_text: str | None = None
    supplied_area: str | None = None
    outcome: str | None = None
    #: Who within the partner produced each row (police.uk: the force); part of a batch's stream.
    source: str | None = None


class Dates(_Strict):
    """Where the occurrence date comes from: a month, a date (+ time), or a from/to window."""

    month: str | None = None
    date: str | None = None
    time: str | None = None
    datetime: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    month_formats: tuple[str, ...] = ("%Y-%m", "%Y/%m", "%m/%Y", "%b %Y", "%B %Y")
    date_formats: tuple[str, ...] = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d")
    time_formats: tuple[str, ...] = ("%H:%M", "%H:%M:%S", "%H%M")
    datetime_formats: tuple[str, ...] = (
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M:%S",
        "%d/%m/%Y %H:%M",
    )
    #: Accept Excel serial day numbers (1900 date system) in date and datetime columns.
    excel_serials: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> Dates:
        sources = [self.month, self.date, self.datetime, self.from_]
        if sum(s is not None for s in sources) != 1:
            raise ValueError("[dates] needs exactly one of month, date, datetime or from")
        if self.time is not None and self.date is None:
            raise ValueError("[dates] time needs date")
        return self


class Location(_Strict):
    """One way of locating a row; a profile lists them in order and the first that works wins."""

    kind: Literal["lonlat", "en", "gridref", "postcode"]
    lon: str | None = None
    lat: str | None = None
    easting: str | None = None
    northing: str | None = None
    gridref: str | None = None
    postcode: str | None = None

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Location:
        needed = {
            "lonlat": ("lon", "lat"),
            "en": ("easting", "northing"),
            "gridref": ("gridref",),
            "postcode": ("postcode",),
        }[self.kind]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"location kind {self.kind!r} needs {', '.join(missing)}")
        return self

    def source_columns(self) -> tuple[str, ...]:
        names = (self.lon, self.lat, self.easting, self.northing, self.gridref, self.postcode)
        return tuple(n for n in names if n is not None)


class Profile(_Strict):
    """A complete mapping profile."""

    name: str
    description: str = ""
    delimiter: str = ","
    columns: Columns = Columns()
    dates: Dates
    locations: tuple[Location, ...] = ()
    #: Raw category -> canonical category; unmapped values are kept as they are.
    categories: dict[str, str] = {}
    #: Category for files that have no category column (e.g. one partner's single-type file).
    default_category: str | None = None
    #: What to do with a supplied but unusable location: reject the row, or keep it unlocated.
    implausible_location: Literal["reject", "unlocate"] = "reject"
    #: Swap lon/lat back when a pair is only plausible swapped (reported either way).
    fix_swapped_lonlat: bool = False

    @model_validator(mode="after")
    def _category_source(self) -> Profile:
        if self.columns.category is None and self.default_category is None:
            raise ValueError("a profile needs [columns] category or default_category")
        if len(self.delimiter) != 1:
            raise ValueError("delimiter must be one character")
        return self

    def required_columns(self) -> tuple[str, ...]:
        """Every source column the profile reads."""
        d = self.dates
        names = [d.month, d.date, d.time, d.datetime, d.from_, d.to]
        names += [
            self.columns.record_id,
            self.columns.category,
            self.columns.location_text,
            self.columns.supplied_area,
            self.columns.outcome,
            self.columns.source,
        ]
        for loc in self.locations:
            names.extend(loc.source_columns())
        return tuple(dict.fromkeys(n for n in names if n is not None))


def load_profile(spec: str | None) -> Profile:
    """The built-in profile of that name (default ``police-uk``) or a TOML profile file.

    For the operator's command line only: ``spec`` may name any readable file. Over HTTP use
    ``profile_from_request``, which never opens a path.

    Raises ProfileError with the reason when the file is missing, unreadable or invalid.
    """
    spec = spec or "police-uk"
    path = Path(spec)
    if not path.suffix:
        return builtin_profile(spec, hint="; or give a FILE.toml")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProfileError(f"profile file not found: {spec}") from exc
    except UnicodeDecodeError as exc:
        raise ProfileError(f"profile file is not UTF-8 text: {spec}") from exc
    except OSError as exc:
        # IsADirectoryError, PermissionError and the like: a clear reason, never a traceback.
        raise ProfileError(f"profile file cannot be read: {spec} ({exc.strerror})") from exc
    return parse_profile(text)


def builtin_profile(name: str, hint: str = "") -> Profile:
    """The built-in profile called ``name`` (lower-case letters, digits and '-').

    Raises ProfileError for any other name, naming the built-in profiles.
    """
    path = BUILTIN_DIR / f"{name}.toml"
    if not BUILTIN_NAME.fullmatch(name) or not path.is_file():
        known = ", ".join(builtin_names())
        raise ProfileError(f"no built-in profile {name!r} (built-in: {known}{hint})")
    return parse_profile(path.read_text(encoding="utf-8"))


def builtin_names() -> list[str]:
    """Names of the built-in profiles, sorted."""
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def profile_from_request(value: str) -> Profile:
    """A profile sent by an HTTP client: a built-in profile name or TOML profile text.

    Decided by content, never by trying the file system: a name matches ``BUILTIN_NAME``; text
    holding '=' or a line break is parsed as TOML; anything else (such as a file path) is refused
    without being opened, so a client learns nothing about the server's files.

    Raises ProfileError.
    """
    if BUILTIN_NAME.fullmatch(value):
        return builtin_profile(value)
    if "=" in value or "\n" in value:
        return parse_profile(value)
    raise ProfileError(
        "profile must be a built-in profile name "
        f"({', '.join(builtin_names())}) or the text of a TOML profile; file paths are not accepted"
    )


def parse_profile(text: str) -> Profile:
    """A profile from TOML text. Raises ProfileError with every problem listed."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile is not valid TOML: {exc}") from exc
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'profile'}: {e['msg']}" for e in exc.errors()
        )
        raise ProfileError(f"invalid profile: {problems}") from exc
