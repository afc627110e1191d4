"""Embed tokens over HTTP: create, list and revoke read-only, scoped map embeds.

``POST /api/v1/embeds`` returns the embed's ``path`` (``/embed/<token>``), its absolute ``url``
and an ``iframe`` snippet to paste into an intranet page (see ``app.access.embeds``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from app.access.embeds import EmbedScope, create_embed, list_embeds, revoke_embed
from app.http.deps import AtlasDep, PrincipalDep, SettingsDep

router = APIRouter(tags=["embeds"])
MONTH = r"^\d{4}-\d{2}$"


class EmbedCreate(BaseModel):
    """What the embedded map shows; nothing in the embed page can widen it."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    dataset: str
    by: str = Field(description="Boundary selector: set:version, set@date or set (pinned)")
    layer: Literal["counts", "rates", "hotspots"] = "counts"
    areas: list[str] | None = Field(default=None, description="Area codes to show (default all)")
    first: str | None = Field(default=None, alias="from", pattern=MONTH)
    last: str | None = Field(default=None, alias="to", pattern=MONTH)
    category: str | None = None
    expires: date = Field(description="Last day the embed works (UTC)")


@router.post("/embeds", status_code=201)
def create(
    body: EmbedCreate,
    request: Request,
    atlas: AtlasDep,
    settings: SettingsDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Create an embed (partners: their own datasets; analysts and admins: any readable one)."""
    scope = EmbedScope(
        body.dataset,
        body.by,
        body.layer,
        tuple(body.areas) if body.areas is not None else None,
        body.first,
        body.last,
        body.category,
    )
    embed = create_embed(atlas, settings, principal, scope, body.expires)
    return embed.doc(base_url=str(request.base_url))


@router.get("/embeds")
def list_all(atlas: AtlasDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Embeds the caller may manage (never their tokens: those are shown once)."""
    return [e.doc() for e in list_embeds(atlas, principal)]


@router.delete("/embeds/{embed_id}")
def revoke(
    embed_id: Annotated[str, Path(max_length=32)], atlas: AtlasDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Revoke an embed: its page and data routes answer 401 from the next request."""
    return revoke_embed(atlas, principal, embed_id).doc()
