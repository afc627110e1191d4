/* Community Safety Atlas map page: choropleth PNG tiles, invisible interactive areas, legend from
 * the server, area panel with trend, downloads, print. The view is kept in the URL fragment so a
 * map can be bookmarked or sent to a colleague. */
(function () {
  "use strict";
  const U = window.AtlasUI;
  const cfg = window.ATLAS_CONFIG || {};
  const $ = (id) => document.getElementById(id);
  const api = U.client(true);
  const CONTROLS = ["dataset", "category", "from", "to", "by", "measure", "classes", "hotspots"];
  const HOTSPOT_GRID_M = 500;
  const FADED = 0.45;
  const PHONE = window.matchMedia("(max-width: 700px)");
  const state = {
    seq: 0, draws: 0, geo: new Map(), rows: new Map(), areaBy: null, areas: null, choropleth: null,
    hotspots: null, legend: null, hotLegend: null, period: null, opened: null, fitted: null, months: null,
    boundaries: new Map(),
  };

  const map = L.map("map", { zoomSnap: 0.5, minZoom: 6, maxZoom: 18, fadeAnimation: false }).setView([51.25, -0.45], 10);
  U.addBasemap(map, cfg);
  map.attributionControl.addAttribution(U.escapeHtml(cfg.attribution || ""));

  function status(text) { $("status").textContent = text; }
  /** data-state (and a count of finished draws) let people and tests see when a map is drawn. */
  function ready(flag) {
    document.body.dataset.state = flag ? "ready" : "loading";
    if (flag) document.body.dataset.draws = String(++state.draws);
  }

  /* -- the current view ------------------------------------------------------------------- */

  function view() {
    const v = {};
    for (const id of CONTROLS) v[id] = $(id).value;
    return v;
  }

  function common(v) {
    const p = new URLSearchParams({ dataset: v.dataset });
    if (v.from) p.set("from", v.from);
    if (v.to) p.set("to", v.to);
    if (v.category) p.set("category", v.category);
    return p;
  }

  function tileParams(v) {
    const p = common(v);
    p.set("by", v.by);
    p.set("classes", v.classes);
    return p;
  }

  function hotspotParams(v) {
    const p = common(v);
    if (v.hotspots === "grid") p.set("grid", String(HOTSPOT_GRID_M)); else p.set("by", v.by);
    return p;
  }

  function countParams(v) {
    const p = common(v);
    p.set("by", v.by);
    if (v.measure === "rates") p.set("rates", "true");
    return p;
  }

  function saveView(v) {
    const p = new URLSearchParams();
    for (const id of CONTROLS) if (v[id]) p.set(id, v[id]);
    history.replaceState(null, "", `#${p}`);
  }

  function restoreView() {
    const p = new URLSearchParams(location.hash.slice(1));
    for (const id of CONTROLS) {
      const value = p.get(id);
      if (value === null) continue;
      const input = $(id);
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === value)) continue;
      input.value = value;
    }
    return p;
  }

  /* -- options from the service ----------------------------------------------------------- */

  function fillSelect(select, items, keepFirst) {
    const first = keepFirst ? [select.options[0]] : [];
    select.replaceChildren(...first, ...items.map(([value, label]) => U.el("option", { value, text: label })));
  }

  async function loadDatasets() {
    const [datasets, boundaries] = await Promise.all([api.json("/api/v1/datasets"), api.json("/api/v1/boundaries")]);
    fillSelect($("dataset"), datasets.map((d) => [d.dataset, `${d.dataset}${d.access !== "open" ? ` (${d.access})` : ""}`]));
    const sorted = boundaries.slice().sort((a, b) => a.set.localeCompare(b.set) || a.valid_from.localeCompare(b.valid_from));
    state.boundaries = new Map(sorted.map((b) => [`${b.set}:${b.version}`, b]));
    fillSelect($("by"), sorted.map((b) => [`${b.set}:${b.version}`, `${U.boundaryLabel(b)} — ${U.num(b.features)} areas`]));
    for (const o of $("by").options) o.title = o.textContent;
    const wards = sorted.filter((b) => b.set === "wards").pop();
    if (wards) $("by").value = `${wards.set}:${wards.version}`;
    return datasets;
  }

  /** A boundary selector ("wards:2019") as people read it: the version's title. */
  function areasLabel(by) {
    const [set, version] = by.split(":");
    return U.boundaryLabel(state.boundaries.get(by) || { set, version });
  }

  /** Categories and months held, from GET /api/v1/datasets/{dataset}/categories. */
  async function loadCategories(dataset, keep) {
    const select = $("category");
    const note = $("category-note");
    const wanted = keep ? select.value : "";
    note.textContent = "";
    try {
      const doc = await api.json(`/api/v1/datasets/${encodeURIComponent(dataset)}/categories`);
      const cats = doc.categories || [];
      fillSelect(select, cats.map((c) => {
        const name = typeof c === "string" ? c : c.category;
        const n = typeof c === "string" ? null : c.incidents;
        return [name, n === null || n === undefined ? name : `${name} (${U.num(n)})`];
      }), true);
      select.disabled = false;
      if ([...select.options].some((o) => o.value === wanted)) select.value = wanted;
      state.months = doc.months ? new Set(doc.months) : null;
      setMonths(doc.months || [], keep);
    } catch (e) {
      state.months = null;
      fillSelect(select, [], true);
      select.disabled = true;
      note.textContent = e.status === 404
        ? `Categories are not available for ${dataset} (the service answered 404: ${e.message}); the map shows all categories.`
        : `Could not load the categories of ${dataset}: ${e.message}. The map shows all categories.`;
    }
  }

  function setMonths(months, keep) {
    if (!months.length) return;
    const first = months[0], last = months[months.length - 1];
    for (const id of ["from", "to"]) { $(id).min = first; $(id).max = last; }
    if (!keep || !$("to").value) $("to").value = last;
    if (!keep || !$("from").value) $("from").value = months[Math.max(0, months.length - 12)];
    $("period-note").textContent = `Data held: ${first} to ${last}.`;
  }

  /* -- drawing ---------------------------------------------------------------------------- */

  async function boundaryGeo(by) {
    if (!state.geo.has(by)) {
      const [set, version] = by.split(":");
      state.geo.set(by, api.json(`/api/v1/boundaries/${encodeURIComponent(set)}/${encodeURIComponent(version)}`));
    }
    try { return await state.geo.get(by); } catch (e) { state.geo.delete(by); throw e; }
  }

  function describe(feature) {
    const row = state.rows.get(feature.properties.code);
    const measure = $("measure").value;
    let value = "no data";
    if (row) {
      if (row.suppressed || row.count === null) value = "suppressed";
      else if (measure === "rates") value = row.rate_per_1000 === null || row.rate_per_1000 === undefined ? "no rate" : `${U.num(row.rate_per_1000, 2)} per 1,000`;
      else value = `${U.num(row.count)} incidents`;
    }
    return `${feature.properties.name}: ${value}`;
  }

  function replaceTiles(key, url) {
    if (state[key]) map.removeLayer(state[key]);
    state[key] = null;
    if (!url) return null;
    const layer = new U.TileLayer(url, {
      headers: api.headers, maxZoom: 18, zIndex: key === "hotspots" ? 3 : 2,
      className: key === "hotspots" ? "atlas-hotspots" : "atlas-choropleth",
    });
    layer.on("tileerror", () => status("Some map tiles could not be loaded."));
    state[key] = layer.addTo(map);
    return layer;
  }

  function buildAreas(v, geo) {
    if (state.areas) map.removeLayer(state.areas);
    state.areas = U.areaLayer(map, geo, describe, (f, l) => openArea(f.properties.code, l));
    state.areaBy = v.by;
    const names = geo.features.map((f) => [f.properties.code, f.properties.name]).sort((a, b) => a[1].localeCompare(b[1]));
    fillSelect($("area-pick"), names.map(([code, name]) => [code, `${name} (${code})`]), true);
    if (state.fitted !== v.by) {
      map.fitBounds(state.areas.getBounds(), { padding: [8, 8], animate: false });
      state.fitted = v.by;
    }
  }

  async function draw() {
    const v = view();
    if (!v.dataset || !v.by) return;
    const seq = ++state.seq;
    ready(false);
    saveView(v);
    closePanel(false);
    status("Loading the map…");
    $("dl-hotspots").hidden = !v.hotspots;
    const tp = tileParams(v), hp = hotspotParams(v);
    try {
      // The legend first: it builds (and caches) the classified map the tiles are cut from.
      const [legend, hotLegend, counts, geo] = await Promise.all([
        api.json(`/api/v1/tiles/${v.measure}/legend.json?${tp}`),
        v.hotspots ? api.json(`/api/v1/tiles/hotspots/legend.json?${hp}`) : null,
        api.json(`/api/v1/counts?${countParams(v)}`),
        boundaryGeo(v.by),
      ]);
      if (seq !== state.seq) return;
      state.legend = legend;
      state.hotLegend = hotLegend;
      state.period = (legend.meta && legend.meta.period) || counts.meta.period;
      state.rows = new Map(counts.rows.map((r) => [r.area_code, r]));
      if (state.areaBy === v.by && state.areas) U.relabel(state.areas, describe); else buildAreas(v, geo);
      const tiles = replaceTiles("choropleth", `/api/v1/tiles/${v.measure}/{z}/{x}/{y}{r}.png?${tp}`);
      // Under a hotspot overlay the choropleth is faded (and its legend with it) so hot and cold
      // cells stand out from the classes beneath.
      tiles.setOpacity(v.hotspots ? FADED : 1);
      $("legend").classList.toggle("faded", Boolean(v.hotspots));
      replaceTiles("hotspots", v.hotspots ? `/api/v1/tiles/hotspots/{z}/{x}/{y}{r}.png?${hp}` : null);
      U.renderLegend($("legend"), legend, areasLabel(v.by));
      if (hotLegend) U.renderLegend($("hot-legend"), hotLegend, areasLabel(v.by)); else $("hot-legend").hidden = true;
      updatePrintInfo(v, legend);
      await U.tilesSettled(tiles);
      if (seq !== state.seq) return;
      const p = state.period;
      status(`Showing ${U.plural(counts.rows.length, "area")} of ${areasLabel(v.by)}, ${p.from} to ${p.to}.`);
      ready(true);
    } catch (e) {
      if (seq !== state.seq) return;
      status(`Could not load the map: ${e.message}`);
      document.body.dataset.state = "error";
    }
  }

  /* -- the area panel --------------------------------------------------------------------- */

  function closePanel(refocus) {
    U.clearPanel($("panel"));
    const opened = state.opened;
    state.opened = null;
    if (state.areas) state.areas.markOpen(null);
    if (refocus && opened && opened.getElement()) opened.getElement().focus();
  }

  async function openArea(code, layer) {
    const v = view();
    const row = state.rows.get(code);
    const feature = layer ? layer.feature : null;
    const area = {
      code, name: feature ? feature.properties.name : (row ? row.area_name : code), boundary: areasLabel(v.by),
      threshold: cfg.suppressionThreshold || 5,
    };
    state.opened = layer || null;
    if (state.areas) state.areas.markOpen(state.opened);
    const figures = U.countFigures(row, cfg.suppressionThreshold || 5);
    const panel = $("panel");
    const heading = U.renderPanel(panel, area, figures, null, () => closePanel(true));
    heading.focus({ preventScroll: PHONE.matches });
    // On a phone the panel is below the map: bring it up so its figures can be read.
    if (PHONE.matches) panel.scrollIntoView({ block: "start" });
    status(`Details of ${area.name}.`);
    const p = common(v);
    p.set("by", v.by);
    p.set("area", code);
    if (state.period && state.period.from) { p.set("from", state.period.from); p.set("to", state.period.to); }
    let summary;
    try {
      summary = await api.json(`/api/v1/areas/summary?${p}`);
    } catch (e) {
      summary = { error: e.status === 404 ? `this service has no area summary for it (${e.message})` : e.message };
    }
    if (state.opened !== (layer || null) || panel.hidden) return;
    U.renderPanel(panel, area, figures, summary, () => closePanel(true));
    // The trend made the panel taller: on a phone, bring as much of it up as fits.
    if (PHONE.matches && panel.contains(document.activeElement) && panel.getBoundingClientRect().bottom > innerHeight) {
      panel.scrollIntoView({ block: "start" });
    }
  }

  function goToPicked() {
    const code = $("area-pick").value;
    if (!code || !state.areas) { status("Choose an area first."); return; }
    const layer = state.areas.getLayers().find((l) => l.feature.properties.code === code);
    if (!layer) return;
    map.fitBounds(layer.getBounds(), { maxZoom: 14 });
    openArea(code, layer);
  }

  /* -- downloads and print ---------------------------------------------------------------- */

  /** e.g. police-uk-surrey_wards-2019_counts_burglary_2023-02-to-2024-01.csv: the file says
   * which dataset, geography, measure, category and period it holds once it is passed on. */
  function filename(v, ext) {
    const slug = (t) => String(t).replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase();
    const p = state.period || {};
    const parts = [slug(v.dataset), slug(v.by), v.measure];
    if (v.category) parts.push(slug(v.category));
    parts.push(`${v.from || p.from || "first"}-to-${v.to || p.to || "last"}`);
    return `${parts.join("_")}.${ext}`;
  }

  async function download(kind) {
    const v = view();
    status(`Preparing the ${kind.toUpperCase()} download…`);
    try {
      const [blob, name] = await downloadBlob(kind, v);
      U.saveBlob(blob, name);
      const sup = state.legend && state.legend.meta && state.legend.meta.suppression;
      status(`Downloaded ${name}.${sup ? ` Small numbers are suppressed in it: ${sup.rule || `counts below ${sup.threshold} hidden`}.` : ""}`);
    } catch (e) {
      status(`Could not prepare the download: ${e.message}`);
    }
  }

  async function downloadBlob(kind, v) {
    if (kind === "csv") {
      const p = countParams(v);
      p.set("format", "csv");
      return [await api.blob(`/api/v1/counts?${p}`, "text/csv"), filename(v, "csv")];
    }
    if (kind === "hotspots") {
      return [await api.blob(`/api/v1/hotspots?${hotspotParams(v)}`, "application/geo+json"), filename(v, "hotspots.geojson")];
    }
    if (kind === "png") {
      const legends = [{ doc: state.legend, opacity: v.hotspots ? FADED : 1 }];
      if (v.hotspots && state.hotLegend) legends.push({ doc: state.hotLegend });
      const blob = await U.exportPng(map, titleOf(v), subtitleOf(v), legends, sourceNote(state.legend));
      return [blob, filename(v, "png")];
    }
    return [await geojsonBlob(v), filename(v, "geojson")];
  }

  /** GeoJSON of the view from the OGC API collection, or joined here from what is loaded. */
  async function geojsonBlob(v) {
    const [set, version] = v.by.split(":");
    const p = common(v);
    p.delete("dataset");
    p.set("limit", "10000");
    const id = `counts-${v.dataset}-${set}-${version}`;
    try {
      return await api.blob(`/collections/${encodeURIComponent(id)}/items?${p}`, "application/geo+json");
    } catch (e) {
      if (e.status !== 404) throw e;
    }
    const geo = await boundaryGeo(v.by);
    const features = geo.features.map((f) => ({
      type: "Feature", id: f.id, geometry: f.geometry,
      properties: Object.assign({}, f.properties, state.rows.get(f.properties.code) || {}),
    }));
    const doc = { type: "FeatureCollection", features, meta: state.legend ? state.legend.meta : {} };
    return new Blob([JSON.stringify(doc)], { type: "application/geo+json" });
  }

  function titleOf(v) {
    const what = v.measure === "rates" ? "Incidents per 1,000 residents" : "Incidents";
    return `${what}${v.category ? ` — ${v.category}` : ""}, ${v.dataset}`;
  }

  function subtitleOf(v) {
    const p = state.period || {};
    const hot = v.hotspots ? `; Gi* hotspots ${v.hotspots === "grid" ? `(${HOTSPOT_GRID_M} m grid)` : "by area"}` : "";
    return `${areasLabel(v.by)}, ${p.from || "?"} to ${p.to || "?"}${hot}`;
  }

  function sourceNote(legend) {
    const meta = (legend && legend.meta) || {};
    const method = meta.method_detail ? ` Method: ${meta.method_detail}.` : "";
    return `${cfg.attribution || ""}${method}`;
  }

  function updatePrintInfo(v, legend) {
    $("print-title").textContent = titleOf(v);
    $("print-period").textContent = subtitleOf(v);
    const sentence = (t) => t.charAt(0).toUpperCase() + t.slice(1).replace(/\.$/, "");
    $("print-notes").textContent = `${U.legendNotes(legend.meta || {}, areasLabel(v.by)).map(sentence).join(". ")}.`;
    $("print-source").textContent = sourceNote(legend);
    $("print-date").textContent = `Printed ${new Date().toLocaleDateString("en-GB", { day: "numeric", month: "long", year: "numeric" })}.`;
  }

  /** Lay the page out at print size, let the tiles for that view load, then print. */
  async function printView() {
    document.body.classList.add("printing");
    map.invalidateSize();
    if (state.areas) map.fitBounds(state.areas.getBounds(), { padding: [4, 4], animate: false });
    status("Preparing the printable view…");
    for (const layer of [state.choropleth, state.hotspots]) if (layer) await U.tilesSettled(layer);
    window.print();
  }

  /* -- the token box ---------------------------------------------------------------------- */

  function showTokenState() {
    $("token-state").textContent = U.token.get() ? "Access: token in use (this tab)" : "Access: public view";
  }

  async function restart() {
    state.geo.clear();
    state.areaBy = null;
    try {
      const datasets = await loadDatasets();
      if (!datasets.length) {
        status("No datasets you may see yet: load one with `atlas ingest`, or give an access token.");
        return;
      }
      await loadCategories($("dataset").value, false);
      await draw();
    } catch (e) {
      status(`Could not start: ${e.message}`);
      document.body.dataset.state = "error";
    }
  }

  /* -- wiring ----------------------------------------------------------------------------- */

  async function init() {
    showTokenState();
    if (PHONE.matches) $("options").open = false;
    try {
      const datasets = await loadDatasets();
      const saved = restoreView();
      if (!datasets.length) {
        status("No datasets you may see yet: load one with `atlas ingest`, or give an access token.");
        document.body.dataset.state = "empty";
        return;
      }
      await loadCategories($("dataset").value, saved.has("from") || saved.has("to") || saved.has("category"));
      restoreView();
      await draw();
    } catch (e) {
      status(`Could not start: ${e.message}`);
      document.body.dataset.state = "error";
    }
  }

  $("dataset").addEventListener("change", async () => { await loadCategories($("dataset").value, false); draw(); });
  for (const id of CONTROLS.slice(1)) $(id).addEventListener("change", draw);
  $("controls").addEventListener("submit", (e) => { e.preventDefault(); draw(); });
  // The area picker opens an area when the choice is committed (Enter or the Go button), not on
  // every change: in Chromium each arrow key in a closed select is a change (WCAG 3.2.2).
  $("area-pick-form").addEventListener("submit", (e) => { e.preventDefault(); goToPicked(); });
  $("area-pick").addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); goToPicked(); }
  });
  $("dl-csv").addEventListener("click", () => download("csv"));
  $("dl-geojson").addEventListener("click", () => download("geojson"));
  $("dl-hotspots").addEventListener("click", () => download("hotspots"));
  $("dl-png").addEventListener("click", () => download("png"));
  $("print").addEventListener("click", printView);
  window.addEventListener("beforeprint", () => {
    $("print-date").textContent = `Printed ${new Date().toLocaleString("en-GB")}.`;
    map.invalidateSize();
  });
  window.addEventListener("afterprint", () => {
    document.body.classList.remove("printing");
    map.invalidateSize();
  });
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = $("token").value.trim();
    if (!value) return;
    U.token.set(value);
    $("token").value = "";
    showTokenState();
    status("Token saved for this tab; reloading the datasets you may see.");
    restart();
  });
  $("token-forget").addEventListener("click", () => {
    U.token.clear();
    showTokenState();
    status("Token forgotten: public view.");
    restart();
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("panel").hidden) closePanel(true); });

  U.wireSkipLinks();
  U.addOutlineFilter();

  window.AtlasMap = { map, state, draw, openArea };
  init();
})();
