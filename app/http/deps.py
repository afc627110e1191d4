"""Dependency aliases every route uses: the engine, the settings and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.access.principal import ANONYMOUS, Principal
from app.access.tokens import principal_for
from app.atlas import Atlas
from app.errors import Unauthorized
from app.settings import Settings


def get_atlas(request: Request) -> Atlas:
    atlas: Atlas = request.app.state.atlas
    return atlas


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_principal(request: Request) -> Principal:
    """Anonymous callers are public; a bad token is an error, never a silent downgrade."""
    header = request.headers.get("authorization")
    if not header:
        return ANONYMOUS
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'")
    key: bytes | None = getattr(request.app.state, "embed_key", None)
    return principal_for(get_atlas(request).store, token.strip(), key)


AtlasDep = Annotated[Atlas, Depends(get_atlas)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
