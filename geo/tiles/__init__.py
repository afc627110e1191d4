"""Map rendering core: Web Mercator tile arithmetic, Mapbox Vector Tiles, PNG tiles and legends.

* :mod:`geo.tiles.webmercator`: tile bounds, EPSG:27700 -> EPSG:3857 through the injected OSTN15
  ``to_lonlat``, tile cover of a lon/lat box, zoom-dependent simplification.
* :mod:`geo.tiles.mvt`: ``VectorLayer`` and ``encode_tile`` (MVT 2.1, own protobuf writer).
* :mod:`geo.tiles.png`: ``render_tile`` (256/512 px choropleth PNG).
* :mod:`geo.tiles.legend`: ``LegendItem``, ``choropleth_legend``, ``hotspot_legend``,
  ``render_legend_png``.

Everything works on geometries already in EPSG:3857 and on a classification computed once per map
(:mod:`geo.classify`), so that colours agree across tiles and the legend. Submodules are imported
explicitly (``from geo.tiles.mvt import encode_tile``) so that vector tiles never load Pillow.
"""
