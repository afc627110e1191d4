"""``UploadGuard``: refuse an upload before its body is received, not after.

FastAPI parses a multipart body completely (spooling files to disk) before a handler or a
dependency runs, so checks made there come after the whole body has arrived: an anonymous
client could make the server take in 300 MB to learn it needed a token. This ASGI middleware
sits in front of the upload routes and answers at once, from the request head alone, when
there is no ``Authorization`` header (batch uploads) or the declared ``Content-Length`` is over
the cap; a body without a length (chunked) is counted as it is passed through and cut off with
413 once it goes past the cap. The answers are the same RFC 9457 problems the handlers raise.
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import AppError, PayloadTooLarge, Unauthorized, problem_for
from app.http.problems import problem_response

#: Room in a multipart body for boundaries, part headers and a TOML profile beside the file.
MULTIPART_ALLOWANCE = 256 * 1024
#: POST routes whose bodies are capped; the first group also needs a token to upload at all.
_CAPPED = re.compile(r"/api/v1/(?:(datasets/[^/]+/batches)|reassign)/?$")


def upload_body_cap(max_upload_mb: int) -> int:
    """Largest request body (bytes) the upload routes take: the file cap plus the allowance."""
    return max_upload_mb * 2**20 + MULTIPART_ALLOWANCE


class UploadGuard:
    """ASGI middleware capping the bodies of the upload routes (see the module docstring).

    Parameters
    ----------
    app
        The application to guard.
    max_upload_mb
        The upload cap in MiB (``Settings.max_upload_mb``); bodies may exceed it by
        ``MULTIPART_ALLOWANCE`` bytes.
    """

    def __init__(self, app: ASGIApp, max_upload_mb: int) -> None:
        self.app = app
        self.max_body_bytes = upload_body_cap(max_upload_mb)
        self.too_large = PayloadTooLarge(f"the upload is larger than the {max_upload_mb} MB limit")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _CAPPED.search(scope["path"]) if scope["type"] == "http" else None
        if route is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(headers, needs_token=route.group(1) is not None)
        if refusal is not None:
            await _problem(refusal, scope, receive, send)
            return
        await _CountedBody(self.app, self.max_body_bytes, self.too_large)(scope, receive, send)

    def _refusal(self, headers: Headers, needs_token: bool) -> AppError | None:
        if needs_token and not headers.get("authorization"):
            return Unauthorized("uploading needs a partner, analyst or admin token")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            return self.too_large
        return None


class _CountedBody:
    """One request: pass the body through, counting, and answer 413 once it passes the cap."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, too_large: AppError) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.too_large = too_large
        self.received = 0
        self.exceeded = False
        self.started = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            if self.exceeded:
                raise _BodyTooLarge
            return self._count(await receive())

        async def guarded_send(message: Message) -> None:
            if self.exceeded and not self.started:
                # The application's answer to a body cut short (a 400 parse error, say) is
                # replaced by the 413 below.
                return
            self.started = self.started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not self.exceeded or self.started:
                raise
        if self.exceeded and not self.started:
            await _problem(self.too_large, scope, receive, send)

    def _count(self, message: Message) -> Message:
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
        if self.received > self.max_body_bytes:
            self.exceeded = True
            # Stops the application's body parsing; it never sees more than the cap.
            raise _BodyTooLarge
        return message


class _BodyTooLarge(Exception):
    """Raised into the application's body reading once the body passes the cap."""


async def _problem(error: AppError, scope: Scope, receive: Receive, send: Send) -> None:
    doc = problem_for(error)
    assert doc is not None  # every AppError is in the table
    doc["instance"] = scope["path"]
    await problem_response(doc)(scope, receive, send)
