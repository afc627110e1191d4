/* Community Safety Atlas embed: a read-only map whose every call goes to /embed/<token>/...,
 * where the server applies the embed's scope. No control here can widen it. */
(function () {
  "use strict";
  const U = window.AtlasUI;
  const cfg = window.ATLAS_EMBED;
  const $ = (id) => document.getElementById(id);
  const api = U.client(false);
  const state = { rows: new Map(), opened: null };

  const map = L.map("map", { zoomSnap: 0.5, minZoom: 6, maxZoom: 18, fadeAnimation: false }).setView([51.25, -0.45], 10);
  U.addBasemap(map, cfg);
  map.attributionControl.addAttribution(U.escapeHtml(cfg.attribution || ""));

  function status(text) { $("status").textContent = text; }

  function describe(feature) {
    return `${feature.properties.name}: ${feature.properties.label || "no data"}`;
  }

  function closePanel() {
    U.clearPanel($("panel"));
    const opened = state.opened;
    state.opened = null;
    if (state.areas) state.areas.markOpen(null);
    if (opened && opened.getElement()) opened.getElement().focus();
  }

  async function openArea(feature, layer) {
    const threshold = cfg.suppressionThreshold || 5;
    const area = { code: feature.properties.code, name: feature.properties.name, boundary: cfg.view.boundary_label || cfg.view.by, threshold };
    state.opened = layer;
    if (state.areas) state.areas.markOpen(layer);
    const panel = $("panel");
    U.renderPanel(panel, area, [["Value", feature.properties.label || "no data"]], null, closePanel).focus();
    try {
      const doc = await api.json(`${cfg.base}/areas/${encodeURIComponent(area.code)}`);
      if (state.opened !== layer) return;
      U.renderPanel(panel, area, U.countFigures(doc.figures, threshold), doc.summary || { error: "no trend" }, closePanel);
    } catch (e) {
      if (state.opened !== layer) return;
      U.renderPanel(panel, area, [["Value", feature.properties.label || "no data"]], { error: e.message }, closePanel);
    }
  }

  async function init() {
    try {
      const [legend, geo] = await Promise.all([api.json(`${cfg.base}/legend.json`), api.json(`${cfg.base}/areas.geojson`)]);
      U.renderLegend($("legend"), legend, cfg.view.boundary_label);
      const hot = cfg.view.layer === "hotspots";
      const areas = U.areaLayer(map, geo, describe, openArea, hot);
      state.areas = areas;
      if (geo.features.length) map.fitBounds(areas.getBounds(), { padding: [6, 6], animate: false });
      // Tiles only once the view is final, so none are fetched for a view never shown.
      const tiles = new U.TileLayer(`${cfg.base}/tiles/{z}/{x}/{y}{r}.png`, { maxZoom: 18, zIndex: 2, className: hot ? "atlas-hotspots" : "atlas-choropleth" }).addTo(map);
      tiles.on("tileerror", () => status("Some map tiles could not be loaded."));
      const p = legend.meta && legend.meta.period;
      $("embed-period").textContent = [p && p.from ? `${p.from} to ${p.to}` : "", cfg.view.category || "all categories"].filter(Boolean).join(" · ");
      await U.tilesSettled(tiles);
      status(`${U.plural(geo.features.length, "area")}.`);
      document.body.dataset.state = "ready";
    } catch (e) {
      status(`This map could not be loaded: ${e.message}`);
      document.body.dataset.state = "error";
    }
  }
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("panel").hidden) closePanel(); });
  U.wireSkipLinks();
  U.addOutlineFilter();
  window.AtlasEmbed = { map, state };
  init();
})();
