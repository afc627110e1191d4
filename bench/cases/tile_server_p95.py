"""Tile server latency under 16 concurrent clients (absolute p50/p95, cold and cached).

Pending until the HTTP layer serves ``/api/v1/tiles/counts/{z}/{x}/{y}.mvt``: the case checks the
routers under ``app/http`` for that route and reports "pending" (README and results.json
``pending``) while it is absent. It is an absolute measurement (no peer, no speedup target).
"""

from __future__ import annotations

import re
from typing import Any

from app.settings import PROJECT_ROOT
from bench.harness import CaseFailed, Context

NAME = "tile_server_p95"
TARGET = None
ROUTE = "/api/v1/tiles/counts/{z}/{x}/{y}.mvt"
_ROUTE_PATTERN = re.compile(r"""["'](?:/api/v1)?/tiles/\{layer\}/\{z\}/\{x\}/\{y\}\.mvt["']""")


def route_served() -> bool:
    """Whether a router under app/http declares the MVT tile route."""
    http = PROJECT_ROOT / "app" / "http"
    sources = [p.read_text(encoding="utf-8") for p in http.rglob("*.py")] if http.exists() else []
    return any(_ROUTE_PATTERN.search(text) or "/tiles/counts/" in text for text in sources)


def pending() -> str | None:
    """Why the case cannot run yet: always, until its load-generating client is written."""
    if not route_served():
        return f"tile routes not yet served ({ROUTE} is not in app/http)"
    return (
        f"{ROUTE} is now declared in app/http, but this case's 16-client load generator is not"
        " written yet (bench/cases/tile_server_p95.py)"
    )


def run(ctx: Context) -> dict[str, Any]:
    del ctx
    raise CaseFailed(pending() or "tile_server_p95 is not implemented")
