"""Cutting MVT and PNG tiles (and legend images) from a thematic map, with a bounded cache."""

from __future__ import annotations

import threading

import numpy as np

from app.services.cache import LRU
from app.services.maps import ThematicMap
from geo.tiles.legend import render_legend_png
from geo.tiles.mvt import VectorLayer, encode_tile
from geo.tiles.png import render_tile
from geo.tiles.webmercator import simplify_for_zoom, validate_tile

__all__ = ["LRU", "MAX_ZOOM", "TileCutter"]

MAX_ZOOM = 18
#: Beyond this zoom the geometry is already at full detail for these layers.
SIMPLIFY_MAX_ZOOM = 14
AREA_OUTLINE_RGBA = (40, 40, 40, 170)


class TileCutter:
    """Cuts tiles from maps; geometry is simplified once per map and zoom."""

    def __init__(self, cache_size: int = 8192) -> None:
        self.cache = LRU(cache_size)
        self._lock = threading.Lock()

    def _geometries(self, m: ThematicMap, z: int) -> np.ndarray:
        zoom = min(z, SIMPLIFY_MAX_ZOOM)
        with self._lock:
            found = m.simplified.get(zoom)
        if found is None:
            found = simplify_for_zoom(m.geometries, zoom)
            with self._lock:
                m.simplified[zoom] = found
        return found

    def mvt(self, m: ThematicMap, z: int, x: int, y: int) -> bytes:
        """Mapbox Vector Tile of the map (layer named after the map's layer)."""
        validate_tile(z, x, y, MAX_ZOOM)
        key = (m.key, "mvt", z, x, y)
        body = self.cache.get(key)
        if body is None:
            layer = VectorLayer(m.spec.layer, self._geometries(m, z), m.properties, m.ids)
            body = encode_tile([layer], z, x, y)
            self.cache.put(key, body)
        return bytes(body)

    def png(self, m: ThematicMap, z: int, x: int, y: int, scale: int = 1) -> bytes:
        """256 px (``scale`` 1) or 512 px (``scale`` 2) choropleth tile."""
        validate_tile(z, x, y, MAX_ZOOM)
        key = (m.key, "png", z, x, y, scale)
        body = self.cache.get(key)
        if body is None:
            outline = None if m.spec.grid is not None else AREA_OUTLINE_RGBA
            body = render_tile(
                self._geometries(m, z), m.fill_rgba, z, x, y, 256 * scale, outline_rgba=outline
            )
            self.cache.put(key, body)
        return bytes(body)

    def legend_png(self, m: ThematicMap, scale: int = 1) -> bytes:
        key = (m.key, "legend", scale)
        body = self.cache.get(key)
        if body is None:
            body = render_legend_png(m.legend, m.legend_title, scale)
            self.cache.put(key, body)
        return bytes(body)
