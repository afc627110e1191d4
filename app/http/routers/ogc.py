"""OGC API - Features (Part 1 core, GeoJSON; Part 2 CRS) over boundaries, counts and hotspots."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["OGC API - Features"])
