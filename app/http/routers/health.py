"""``GET /health``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from app.http.deps import AtlasDep

router = APIRouter(tags=["service"])


@router.get("/health")
def health(atlas: AtlasDep) -> dict[str, Any]:
    """Liveness plus the store kind and data version (changes whenever data lands)."""
    return {
        "status": "ok",
        "store": atlas.store.url.split(":", 1)[0],
        "data_version": atlas.store.data_version(),
        "boundary_versions": len(atlas.areas.versions()),
    }
