"""``/map`` (the map page), ``/embed/{token}`` (read-only embeds) and ``/static``.

Everything the pages need (Leaflet, scripts, styles) is served by the service itself: partner
intranets often have no internet. The pages never classify: colours come from the server's PNG
tiles and ``legend.json``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.http.deps import PrincipalDep, SettingsDep
from app.http.routers.tiles import ATTRIBUTION
from app.web import embed
from app.web.templating import STATIC_DIR, WEB_DIR, templates

__all__ = ["STATIC_DIR", "WEB_DIR", "router"]

router = APIRouter(include_in_schema=False)
router.include_router(embed.router)


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """The interactive map for partnership staff."""
    del principal  # the page itself is public; its data calls carry the caller's token
    config = {
        "basemapUrl": settings.basemap_url,
        "basemapAttribution": settings.basemap_attribution,
        "attribution": ATTRIBUTION,
        "suppressionThreshold": settings.suppression_threshold,
    }
    response = templates.TemplateResponse(request, "map.html", {"config": config})
    # The page keeps a bearer token in sessionStorage: other sites may not frame it
    # (embeds, under /embed/, are the pages meant for iframes).
    response.headers["Content-Security-Policy"] = "frame-ancestors 'self'"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
