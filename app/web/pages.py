"""``/map`` (the map page) and ``/static``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.http.deps import PrincipalDep, SettingsDep

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
templates = Jinja2Templates(directory=str(WEB_DIR / "templates"))

router = APIRouter(include_in_schema=False)


@router.get("/map", response_class=HTMLResponse)
def map_page(request: Request, settings: SettingsDep, principal: PrincipalDep) -> HTMLResponse:
    """The interactive map for partnership staff."""
    del principal  # the page itself is public; its data calls carry the caller's token
    return templates.TemplateResponse(
        request,
        "map.html",
        {
            "basemap_url": settings.basemap_url,
            "basemap_attribution": settings.basemap_attribution,
        },
    )
