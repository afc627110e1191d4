"""Conditional requests and HEAD: the one mechanism every cacheable representation goes through.

Tiles, legends, TileJSON and OGC items are served by :func:`cached_response`: an ETag, a
``Cache-Control`` that never lets a cache reuse them without revalidating (a changed map is never
served stale), and ``304 Not Modified`` when ``If-None-Match`` matches. ``If-None-Match`` uses the
weak comparison of RFC 9110 section 13.1.2 (``W/"x"`` matches ``"x"``), and ``*`` matches any
current representation. :class:`HeadAsGet` answers ``HEAD`` on every ``GET`` route with the
``GET`` response's status and headers and no body (RFC 9110 section 9.3.2).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access.principal import Principal

#: One entity-tag of an ``If-None-Match`` list: optional weakness marker and an opaque tag.
_ENTITY_TAG = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')


def strong_etag(body: bytes) -> str:
    """A strong ETag: a hash of the exact bytes served."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def weak_etag(basis: bytes) -> str:
    """A weak ETag over ``basis``: for bodies that differ only in what does not matter (a
    generation time stamp) from one request to the next."""
    return "W/" + strong_etag(basis)


def _opaque(etag: str) -> str:
    return etag.removeprefix("W/")


def none_match_hits(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` value matches ``etag`` (weak comparison, ``*`` matches)."""
    if header is None or not header.strip():
        return False
    if header.strip() == "*":
        return True
    wanted = _opaque(etag)
    return any(tag == wanted for tag in _ENTITY_TAG.findall(header))


def json_body(doc: Any) -> bytes:
    """The compact UTF-8 JSON FastAPI would send for ``doc`` (NaN refused, as there)."""
    return json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def cached_response(
    body: bytes,
    media_type: str,
    request: Request,
    principal: Principal,
    etag: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``body`` with validators, or ``304 Not Modified`` when ``If-None-Match`` matches.

    Parameters
    ----------
    body, media_type
        The representation.
    request, principal
        The request (its ``If-None-Match``) and the caller: anonymous views may be stored by
        shared caches (``public``), others only privately; either way ``no-cache``.
    etag
        The representation's ETag; default a strong hash of ``body``.
    headers
        Further headers of the response (also sent with a 304, as RFC 9110 asks).
    """
    tag = etag or strong_etag(body)
    scope = "public" if principal.is_anonymous else "private"
    out = {
        **(headers or {}),
        "ETag": tag,
        "Cache-Control": f"{scope}, no-cache",
        "Vary": "Authorization",
    }
    if none_match_hits(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=out)
    return Response(body, media_type=media_type, headers=out)


class HeadAsGet:
    """ASGI middleware: ``HEAD`` runs the ``GET`` route and sends its head without the body.

    The ``Content-Length`` of the ``GET`` response is kept, so a client learns the size without
    the bytes; conditional headers work as for ``GET``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def head_only(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
            elif not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self.app({**scope, "method": "GET"}, receive, head_only)
