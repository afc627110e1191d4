"""Helpers shared by the browser tests: open /map, read its view, click an area, match colours."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
import shapely
from PIL import Image

from tests.e2e.conftest import LiveServer

#: Map fills are drawn at this alpha over the white map background (app.services.maps).
FILL_ALPHA = 215 / 255
READY = "body[data-state=ready]"


def blend(
    hex_colour: str, alpha: float = FILL_ALPHA, background: tuple[int, int, int] = (255, 255, 255)
) -> np.ndarray:
    """The colour a fill of ``alpha`` gives over ``background`` (0-255 per channel)."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)
    return np.round(rgb * alpha + np.array(background) * (1 - alpha))


def near_pixels(img: np.ndarray, colour: np.ndarray, tolerance: int = 3) -> int:
    """Pixels of an RGB array within ``tolerance`` levels of ``colour`` in every channel."""
    return int((np.abs(img - colour).max(axis=-1) <= tolerance).sum())


def rgb(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def class_pixels(png: bytes, legend: dict[str, Any], alpha: float = FILL_ALPHA) -> dict[str, int]:
    """Pixels of a screenshot within 3 levels of each class colour as drawn on white."""
    img = rgb(png)
    return {
        item["label"]: near_pixels(img, blend(item["colour"], alpha))
        for item in legend["items"]
        if item["lower"] is not None  # not "Suppressed" / "No data"
    }


def open_map(page: Any, server: LiveServer, fragment: str = "") -> list[Any]:
    """Load /map; returns the PNG tile responses seen, once the page says it is drawn."""
    tiles: list[Any] = []
    page.on(
        "response",
        lambda r: (
            tiles.append(r) if "/tiles/" in r.url and r.url.split("?")[0].endswith(".png") else None
        ),
    )
    page.goto(f"{server.url}/map{fragment}")
    page.wait_for_selector(READY, timeout=60_000)
    return tiles


def view_of(page: Any) -> dict[str, str]:
    """The view the page keeps in its URL fragment."""
    return dict(parse_qsl(page.evaluate("location.hash").lstrip("#")))


def click_area(page: Any, server: LiveServer, by: str, code: str) -> None:
    """Click a point inside the area (shapely's representative point, projected by Leaflet)."""
    set_name, version = by.split(":")
    geo = server.get(f"/api/v1/boundaries/{set_name}/{version}")
    feature = next(f for f in geo["features"] if f["properties"]["code"] == code)
    inside = shapely.geometry.shape(feature["geometry"]).representative_point()
    xy = page.evaluate(
        "([lat, lon]) => { const p = AtlasMap.map.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [inside.y, inside.x],
    )
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def active(page: Any, selector: str) -> bool:
    """Whether the focused element matches ``selector``."""
    return bool(page.evaluate("(s) => document.activeElement.matches(s)", selector))


def wait_active(page: Any, selector: str, timeout_ms: int = 15_000) -> None:
    page.wait_for_function(
        "([s]) => document.activeElement && document.activeElement.matches(s)",
        arg=[selector],
        timeout=timeout_ms,
    )
