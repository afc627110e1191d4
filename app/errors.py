"""Application errors and the one table that maps every error kind to an HTTP status.

Handlers and the CLI never build error responses themselves: they raise, and ``problem_for``
turns any known exception into an RFC 9457 problem (HTTP) or a one-line message (CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geo import errors as geo_errors

PROBLEM_BASE = "https://community-safety-atlas.example/problems/"


class AppError(Exception):
    """Base class of application errors; ``code`` is the stable problem slug."""

    code = "error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class BadRequest(AppError):
    """The request or command line is malformed."""

    code = "bad-request"


class NotFound(AppError):
    """A named dataset, batch, boundary version, area or token does not exist."""

    code = "not-found"


class Conflict(AppError):
    """The request conflicts with what is stored (overlapping correction, reused key)."""

    code = "conflict"


class BatchExists(Conflict):
    """Another writer landed the same file (or Idempotency-Key) first."""

    code = "batch-exists"


class PayloadTooLarge(AppError):
    """An upload exceeds the configured cap."""

    code = "payload-too-large"


class Unauthorized(AppError):
    """No valid credentials where they are required."""

    code = "unauthorized"


class Forbidden(AppError):
    """The caller's principal may not do or see this."""

    code = "forbidden"


class UnreadableFile(AppError):
    """An incident or boundary file cannot be read at all (corrupt, wrong format, empty)."""

    code = "unreadable-file"


class ProfileError(AppError):
    """A mapping profile is invalid or does not fit the file's columns."""

    code = "invalid-profile"


class StoreError(AppError):
    """The store is missing, not migrated, or refused an operation."""

    code = "store-error"


@dataclass(frozen=True)
class ProblemKind:
    """HTTP status and human title for one error kind."""

    status: int
    title: str


#: The one mapping from error class to HTTP status; most specific classes first.
ERROR_TABLE: tuple[tuple[type[Exception], ProblemKind], ...] = (
    (PayloadTooLarge, ProblemKind(413, "Payload too large")),
    (Unauthorized, ProblemKind(401, "Unauthorized")),
    (Forbidden, ProblemKind(403, "Forbidden")),
    (NotFound, ProblemKind(404, "Not found")),
    (Conflict, ProblemKind(409, "Conflict")),
    (UnreadableFile, ProblemKind(422, "Unreadable file")),
    (ProfileError, ProblemKind(422, "Invalid mapping profile")),
    (StoreError, ProblemKind(503, "Store unavailable")),
    (BadRequest, ProblemKind(400, "Bad request")),
    (geo_errors.GridFileMissing, ProblemKind(503, "OSTN15 grid missing")),
    (geo_errors.InvalidGridReference, ProblemKind(400, "Invalid grid reference")),
    (geo_errors.InvalidPostcode, ProblemKind(400, "Invalid postcode")),
    (geo_errors.OutsideGridExtent, ProblemKind(400, "Outside grid extent")),
    (geo_errors.CRSMismatch, ProblemKind(400, "CRS mismatch")),
    (geo_errors.InvalidGeometry, ProblemKind(422, "Invalid geometry")),
    (geo_errors.InvalidInput, ProblemKind(400, "Invalid input")),
    (geo_errors.GeoError, ProblemKind(400, "Invalid input")),
    (AppError, ProblemKind(400, "Bad request")),
)


def problem_for(exc: Exception) -> dict[str, Any] | None:
    """RFC 9457 problem document for a known error, or None for an unexpected one."""
    for cls, kind in ERROR_TABLE:
        if isinstance(exc, cls):
            code = getattr(exc, "code", "error")
            doc: dict[str, Any] = {
                "type": PROBLEM_BASE + code,
                "title": kind.title,
                "status": kind.status,
                "detail": getattr(exc, "detail", str(exc)),
            }
            doc.update(getattr(exc, "extra", {}) or {})
            return doc
    return None
