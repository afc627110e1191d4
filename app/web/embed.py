"""``/embed/{token}``: the read-only embedded map and the scoped routes its page calls.

Every route verifies the token (signature, expiry, revocation) and reads the view from its
stored scope; none accepts a parameter that could change the dataset, geography, period,
category, layer or area filter.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.responses import HTMLResponse

from app.access.embeds import Embed, title_for
from app.errors import BadRequest
from app.http.conditional import cached_response, json_body
from app.http.deps import get_atlas, get_settings_dep
from app.http.routers.tiles import ATTRIBUTION, JSON
from app.web.embed_views import EmbedViews
from app.web.templating import templates

router = APIRouter(prefix="/embed/{token}", include_in_schema=False)
_PNG = re.compile(r"^(?P<y>\d+)(?P<scale>@2x)?\.png$")
NO_REFERRER = {"Referrer-Policy": "no-referrer"}


def get_views(request: Request) -> EmbedViews:
    """One EmbedViews per application, made on first use."""
    views: EmbedViews | None = getattr(request.app.state, "embed_views", None)
    if views is None:
        views = EmbedViews(get_atlas(request), get_settings_dep(request))
        request.app.state.embed_views = views
    return views


ViewsDep = Annotated[EmbedViews, Depends(get_views)]
TokenPath = Annotated[str, Path(max_length=400)]


def get_embed(token: TokenPath, views: ViewsDep) -> Embed:
    return views.grant(token)


EmbedDep = Annotated[Embed, Depends(get_embed)]


@router.get("", response_class=HTMLResponse)
def embed_page(request: Request, token: TokenPath, embed: EmbedDep, views: ViewsDep) -> Response:
    """The embedded map (documented snippet: ``app.access.embeds``)."""
    settings = get_settings_dep(request)
    view = views.page(embed)
    config: dict[str, Any] = {
        "base": f"/embed/{token}",
        "view": view,
        "basemapUrl": settings.basemap_url,
        "basemapAttribution": settings.basemap_attribution,
        "attribution": ATTRIBUTION,
        "suppressionThreshold": settings.suppression_threshold,
    }
    response = templates.TemplateResponse(
        request,
        "embed.html",
        {"config": config, "title": title_for(embed.scope, view["boundary_label"])},
    )
    response.headers.update({**NO_REFERRER, "Cache-Control": "private, no-cache"})
    return response


@router.get("/legend.json")
def embed_legend(request: Request, embed: EmbedDep, views: ViewsDep) -> Response:
    body = json_body(views.legend(embed))
    return cached_response(body, JSON, request, views.viewer(embed), headers=NO_REFERRER)


@router.get("/areas.geojson")
def embed_areas(embed: EmbedDep, views: ViewsDep) -> Response:
    return Response(
        views.areas_geojson(embed), media_type="application/geo+json", headers=NO_REFERRER
    )


@router.get("/areas/{code}")
def embed_area(code: Annotated[str, Path(max_length=32)], embed: EmbedDep, views: ViewsDep) -> Any:
    return views.area(embed, code)


@router.get("/tiles/{z}/{x}/{tile}")
def embed_tile(
    request: Request,
    z: int,
    x: int,
    tile: Annotated[str, Path(description="{y}.png or {y}@2x.png")],
    embed: EmbedDep,
    views: ViewsDep,
) -> Response:
    """A PNG tile of the embed's map only (its areas, its classes)."""
    m_tile = _PNG.match(tile)
    if not m_tile:
        raise BadRequest("tile must be {y}.png or {y}@2x.png")
    scale = 2 if m_tile["scale"] else 1
    body = views.atlas.tiles.png(views.map(embed), z, x, int(m_tile["y"]), scale)
    return cached_response(body, "image/png", request, views.viewer(embed))
