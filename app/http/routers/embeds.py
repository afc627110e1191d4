"""Embed tokens over HTTP: create and revoke read-only, scoped map embeds."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["embeds"])
