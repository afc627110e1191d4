"""``create_app(settings)``: the FastAPI application, one router per concern."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.staticfiles import StaticFiles

from app.access.embeds import service_secret
from app.atlas import Atlas
from app.http import problems
from app.http.conditional import HeadAsGet
from app.http.guard import UploadGuard
from app.http.routers import (
    analysis,
    boundaries,
    datasets,
    docs,
    embeds,
    geocode,
    health,
    ogc,
    tiles,
)
from app.settings import Settings, get_settings
from app.store import open_store
from app.web import pages

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, atlas: Atlas | None = None) -> FastAPI:
    """The application over the store named in ``settings`` (migrated to the latest schema)."""
    settings = settings or get_settings()
    if atlas is None:
        atlas = Atlas(settings, open_store(settings.database_url, settings.home, migrate=True))
    app = FastAPI(
        title="Community Safety Atlas",
        version="0.1.0",
        # Served from our own static files (routers/docs.py): the CDN pages are blank offline.
        docs_url=None,
        redoc_url=None,
        description=(
            "Counts, rates and hotspots of partnership incident data on any version of any "
            "boundary set. Coordinates are British National Grid (EPSG:27700) unless stated. "
            "Send `Authorization: Bearer <token>`; anonymous callers see public views."
        ),
    )
    atlas.warm()
    app.state.settings = settings
    app.state.atlas = atlas
    app.state.embed_key = service_secret(settings)
    # JSON, GeoJSON and CSV compress well; tiles are left alone (PNG is compressed already, and
    # their strong ETags name the exact bytes served).
    app.add_middleware(
        GZipMiddleware,
        minimum_size=1024,
        compresslevel=6,
        exclude_content_types=(
            "text/event-stream",
            "image/png",
            "application/vnd.mapbox-vector-tile",
        ),
    )
    # Refuses anonymous or oversized uploads before their bodies arrive (only HeadAsGet, which
    # never sees an upload, is outside it).
    app.add_middleware(UploadGuard, max_upload_mb=settings.max_upload_mb)
    # HEAD on every GET route (tiles, legends, items...): the GET's head without its body.
    app.add_middleware(HeadAsGet)
    problems.install(app)
    app.include_router(health.router)
    app.include_router(docs.router)
    app.include_router(geocode.router, prefix=API_PREFIX)
    app.include_router(datasets.router, prefix=API_PREFIX)
    app.include_router(analysis.router, prefix=API_PREFIX)
    app.include_router(boundaries.router, prefix=API_PREFIX)
    app.include_router(tiles.router, prefix=API_PREFIX)
    app.include_router(embeds.router, prefix=API_PREFIX)
    app.include_router(ogc.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=pages.STATIC_DIR), name="static")
    return app
