"""RFC 9457 problem+json for every error, from the one table in ``app.errors``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import PROBLEM_BASE, AppError, problem_for
from geo.errors import GeoError

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("atlas.http")


def problem_response(doc: dict[str, object]) -> JSONResponse:
    status = int(doc["status"])  # type: ignore[call-overload]
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(doc, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _instance(request: Request) -> str:
    """The request path, with an embed token (a bearer secret in the URL) left out."""
    path = str(request.url.path)
    if path.startswith("/embed/"):
        rest = path.split("/", 3)
        return "/embed/<token>" + ("/" + rest[3] if len(rest) > 3 else "")
    return path


def install(app: FastAPI) -> None:
    """Map known errors, validation errors, HTTP errors and anything unexpected to problems."""

    async def known(request: Request, exc: Exception) -> JSONResponse:
        doc = problem_for(exc)
        if doc is None:
            return await unexpected(request, exc)
        doc["instance"] = _instance(request)
        return problem_response(doc)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, RequestValidationError) else []
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors
        )
        return problem_response(
            {
                "type": PROBLEM_BASE + "invalid-request",
                "title": "Invalid request",
                "status": 400,
                "detail": detail or "invalid request",
                "instance": _instance(request),
            }
        )

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            {
                "type": PROBLEM_BASE + f"http-{exc.status_code}",
                "title": str(exc.detail) if exc.status_code != 404 else "Not found",
                "status": exc.status_code,
                "detail": str(exc.detail),
                "instance": _instance(request),
            }
        )

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path, exc_info=exc)
        return problem_response(
            {
                "type": PROBLEM_BASE + "internal-error",
                "title": "Internal error",
                "status": 500,
                "detail": "an unexpected error occurred; it has been logged",
                "instance": _instance(request),
            }
        )

    app.add_exception_handler(AppError, known)
    app.add_exception_handler(GeoError, known)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
