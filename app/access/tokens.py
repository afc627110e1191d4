"""Issuing, checking and revoking bearer tokens. Only a SHA-256 of each secret is stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, date, datetime, time
from typing import Any

from app.access.embeds import embed_principal, looks_like_embed
from app.access.principal import ROLES, Principal
from app.errors import BadRequest, NotFound, Unauthorized
from app.store import Store

PREFIX = "csa"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    store: Store,
    role: str,
    partner: str | None = None,
    expires: date | None = None,
    scope: dict[str, Any] | None = None,
) -> tuple[str, str]:
    """(token id, full token). The full token is shown once and never stored."""
    if role not in ROLES:
        # Embed tokens are scoped and signed: they come from `atlas embeds create` only.
        raise BadRequest(f"role must be one of {', '.join(ROLES)}")
    if role == "partner" and not partner:
        raise BadRequest("a partner token needs --partner")
    if partner is not None and partner not in {p.code for p in store.datasets.list_partners()}:
        raise NotFound(f"no partner {partner!r}; add it with `atlas partners add {partner}`")
    if expires is not None and expires <= date.today():
        raise BadRequest("--expires must be a future date")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(24)
    expires_at = datetime.combine(expires, time.max) if expires else None
    store.tokens.create(token_id, _hash(secret), role, partner, scope or {}, expires_at)
    return token_id, f"{PREFIX}_{token_id}_{secret}"


def principal_for(store: Store, token: str, embed_key: bytes | None = None) -> Principal:
    """The principal a bearer token stands for (Unauthorized: invalid, expired, revoked).

    Embed tokens (``payload.signature``, see ``app.access.embeds``) give a role ``embed``
    principal scoped to their dataset.
    """
    if looks_like_embed(token):
        return embed_principal(store, token, embed_key)
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthorized("malformed token")
    record = store.tokens.by_secret(_hash(parts[2]))
    if record is None or record.id != parts[1]:
        raise Unauthorized("unknown token")
    if record.revoked_at is not None:
        raise Unauthorized("this token has been revoked")
    if record.expires_at is not None and record.expires_at < datetime.now(UTC).replace(tzinfo=None):
        raise Unauthorized("this token has expired")
    return Principal(id=record.id, role=record.role, partner=record.partner, scope=record.scope)  # type: ignore[arg-type]
