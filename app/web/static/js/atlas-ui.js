/* Community Safety Atlas: shared map UI for /map and /embed (no build step, no CDN).
 *
 * The pages never classify values: colours come from the server's PNG tiles and legend.json,
 * computed once per map. This file holds what both pages use: API calls (with the optional
 * bearer token), tile layers that can send it, the invisible interactive area layer, the legend,
 * the area panel with its sparkline, and PNG export of the visible view.
 */
(function (global) {
  "use strict";
  const L = global.L;
  const TOKEN_KEY = "atlas.token";
  const SVG = "http://www.w3.org/2000/svg";
  /** Tiles fill areas at alpha 215/255 (app.services.maps.FILL_ALPHA). */
  const FILL_ALPHA = 215 / 255;

  /* -- DOM helpers (text is always set as text, never as HTML) ------------------------------ */

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "style" && typeof v === "object") Object.assign(node.style, v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({
      "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    })[c]);
  }

  const fmtInt = new Intl.NumberFormat("en-GB", { maximumFractionDigits: 0 });
  const fmt1 = new Intl.NumberFormat("en-GB", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const fmt2 = new Intl.NumberFormat("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function num(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return null;
    return (digits === 1 ? fmt1 : digits === 2 ? fmt2 : fmtInt).format(value);
  }

  /* -- the bearer token (this tab only) and API calls ---------------------------------------- */

  const token = {
    get() {
      try { return global.sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
    },
    set(value) {
      try { global.sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode */ }
    },
    clear() {
      try { global.sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode */ }
    },
  };

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  /** API client; with useToken the tab's token goes in Authorization: Bearer. */
  function client(useToken) {
    const headers = (extra) => {
      const h = Object.assign({}, extra || {});
      const t = useToken ? token.get() : "";
      if (t) h.Authorization = `Bearer ${t}`;
      return h;
    };
    async function request(url, accept) {
      let r;
      try {
        r = await fetch(url, { headers: headers({ Accept: accept || "application/json" }) });
      } catch (e) {
        throw new ApiError(`the service could not be reached (${e.message})`, 0);
      }
      if (!r.ok) {
        let detail = `${r.status} ${r.statusText}`;
        try { const p = await r.json(); detail = p.detail || p.title || detail; } catch (e) { /* not JSON */ }
        throw new ApiError(detail, r.status);
      }
      return r;
    }
    return {
      headers,
      request,
      async json(url) { return (await request(url)).json(); },
      async blob(url, accept) { return (await request(url, accept)).blob(); },
    };
  }

  /* -- tiles that can carry a bearer token --------------------------------------------------- */

  /** An XYZ PNG layer; when headers() gives an Authorization header tiles are fetched with it. */
  const TileLayer = L.TileLayer.extend({
    options: { headers: null },
    createTile(coords, done) {
      const tile = document.createElement("img");
      L.DomEvent.on(tile, "load", L.Util.bind(this._tileOnLoad, this, done, tile));
      L.DomEvent.on(tile, "error", L.Util.bind(this._tileOnError, this, done, tile));
      tile.alt = "";
      tile.setAttribute("role", "presentation");
      const url = this.getTileUrl(coords);
      const headers = this.options.headers ? this.options.headers() : {};
      if (!headers.Authorization) {
        tile.src = url;
        return tile;
      }
      fetch(url, { headers })
        .then((r) => { if (!r.ok) throw new ApiError(`tile ${r.status}`, r.status); return r.blob(); })
        .then((b) => { tile.src = URL.createObjectURL(b); })
        .catch((e) => this._tileOnError(done, tile, e));
      return tile;
    },
    initialize(url, options) {
      L.TileLayer.prototype.initialize.call(this, url, options);
      this.on("tileload", (e) => {
        if (e.tile.src.startsWith("blob:")) URL.revokeObjectURL(e.tile.src);
      });
    },
  });

  /** Resolves when every tile in view has loaded (or failed). */
  function tilesSettled(layer) {
    return new Promise((resolve) => {
      if (!layer.isLoading()) { resolve(); return; }
      layer.once("load", () => resolve());
    });
  }

  /* -- the invisible interactive area layer -------------------------------------------------- */

  const HIDDEN = { stroke: true, color: "#111", weight: 3, opacity: 0, fill: true, fillColor: "#000", fillOpacity: 0 };
  /** Resting outline when the tiles draw none (area hotspots leave insignificant areas blank). */
  const OUTLINED = { weight: 1, opacity: 0.55 };

  const ARROWS = { ArrowRight: [1, 0], ArrowLeft: [-1, 0], ArrowDown: [0, 1], ArrowUp: [0, -1] };

  /** The area whose centre lies nearest in direction [dx, dy] (screen axes), or null. */
  function neighbour(map, layers, from, [dx, dy]) {
    const centre = (l) => map.latLngToLayerPoint(l.getBounds().getCenter());
    const a = centre(from);
    let best = null, bestScore = Infinity;
    for (const l of layers) {
      if (l === from) continue;
      const b = centre(l), along = (b.x - a.x) * dx + (b.y - a.y) * dy;
      if (along <= 0) continue;
      const score = along + 2 * Math.abs((b.x - a.x) * dy - (b.y - a.y) * dx);
      if (score < bestScore) { best = l; bestScore = score; }
    }
    return best;
  }

  /**
   * Areas drawn transparent above the tiles: hover outlines them, click or Enter opens them.
   * describe(feature) gives the text for the tooltip and the screen-reader label.
   * The areas are one tab stop (roving tabindex): arrow keys move to the neighbouring area in
   * that direction, Home and End to the first and last by name, so Tab leaves the map at once.
   */
  function areaLayer(map, geojson, describe, onOpen, outlined) {
    const resting = outlined ? OUTLINED : { weight: 3, opacity: 0 };
    const lit = { weight: 3, opacity: 1 };
    // The area whose figures are open keeps a heavier outline until another opens or it closes.
    const marked = { weight: 5, opacity: 1 };
    let opened = null;
    const rest = (l) => (l === opened ? marked : resting);
    const layer = L.geoJSON(geojson, {
      style: () => Object.assign({}, HIDDEN, resting, { className: "atlas-area" }),
      onEachFeature(feature, l) {
        l.on("mouseover", () => l.setStyle(lit));
        l.on("mouseout", () => { if (document.activeElement !== l.getElement()) l.setStyle(rest(l)); });
        l.on("click", () => onOpen(feature, l));
        l.bindTooltip(() => escapeHtml(describe(feature)), { sticky: true, direction: "top", opacity: 0.95 });
      },
    }).addTo(map);
    const byName = layer.getLayers().filter((l) => l.getElement())
      .sort((a, b) => String(a.feature.properties.name).localeCompare(String(b.feature.properties.name)));
    let stop = null;
    const makeStop = (l) => {
      if (stop && stop !== l) stop.getElement().setAttribute("tabindex", "-1");
      l.getElement().setAttribute("tabindex", "0");
      stop = l;
    };
    const moveTo = (l) => {
      if (!l) return;
      makeStop(l);
      const centre = l.getBounds().getCenter();
      if (!map.getBounds().contains(centre)) map.panTo(centre, { animate: false });
      l.getElement().focus({ preventScroll: true });
    };
    const keys = (l, e) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      if (e.key === "Enter" || e.key === " ") onOpen(l.feature, l);
      else if (ARROWS[e.key]) moveTo(neighbour(map, byName, l, ARROWS[e.key]));
      else if (e.key === "Home" || e.key === "End") moveTo(byName[e.key === "Home" ? 0 : byName.length - 1]);
      else return;
      e.preventDefault();
      e.stopPropagation();
    };
    for (const l of byName) {
      const path = l.getElement();
      path.setAttribute("tabindex", "-1");
      path.setAttribute("role", "button");
      path.setAttribute("aria-label", `${describe(l.feature)}. Press Enter for details.`);
      path.dataset.code = l.feature.properties.code;
      path.addEventListener("focus", () => { makeStop(l); l.setStyle(lit); });
      path.addEventListener("blur", () => l.setStyle(rest(l)));
      path.addEventListener("keydown", (e) => keys(l, e));
    }
    if (byName.length) {
      makeStop(byName[0]);
      const root = byName[0].getElement().ownerSVGElement;
      root.setAttribute("role", "group");
      root.setAttribute("aria-label", "Areas: arrow keys move between neighbouring areas, Enter opens one");
    }
    /** Mark the area whose figures are open (null: none), on the map and for screen readers. */
    layer.markOpen = (l) => {
      const before = opened;
      opened = l || null;
      if (before && before.getElement()) {
        before.setStyle(rest(before));
        before.getElement().removeAttribute("aria-current");
      }
      if (opened && opened.getElement()) {
        opened.setStyle(marked);
        opened.getElement().setAttribute("aria-current", "true");
      }
    };
    return layer;
  }

  /** Relabel an area layer in place (same geography, new figures). */
  function relabel(layer, describe) {
    layer.eachLayer((l) => {
      const path = l.getElement();
      if (path) path.setAttribute("aria-label", `${describe(l.feature)}. Press Enter for details.`);
    });
  }

  /* -- boundary labels ---------------------------------------------------------------------- */

  /** A boundary version for people: its title, else e.g. "Wards (2019)" (never "wards:2019"). */
  function boundaryLabel(b) {
    if (b.title) return b.title;
    const name = String(b.set || "");
    return `${name.charAt(0).toUpperCase()}${name.slice(1)} (${b.version})`;
  }

  /* -- legend -------------------------------------------------------------------------------- */

  function swatch(colour) {
    const transparent = /^#[0-9a-f]{6}00$/i.test(colour);
    return el("span", {
      class: `swatch${transparent ? " swatch-empty" : ""}`,
      style: { background: transparent ? "transparent" : colour },
      "aria-hidden": "true",
    });
  }

  /** Notes under a legend; areasLabel names its boundary version for people (else the selector). */
  function legendNotes(meta, areasLabel) {
    const notes = [];
    if (meta.boundary) notes.push(`Areas: ${areasLabel || meta.boundary.selector || meta.boundary}`);
    if (meta.period && meta.period.from) notes.push(`Period: ${meta.period.from} to ${meta.period.to}`);
    if (meta.category) notes.push(`Category: ${meta.category}`);
    const c = meta.classification;
    if (c) notes.push(`Classes: ${String(c.method).replace(/_/g, " ")}, ${c.k}${c.note ? ` (${c.note})` : ""}`);
    const sup = meta.suppression;
    if (sup) notes.push(`Suppression: ${sup.rule || `counts 1–${sup.threshold - 1} hidden`}${sup.cells_hidden ? ` (${num(sup.cells_hidden)} hidden here)` : ""}`);
    if (meta.rates) notes.push(`Rates: per ${num(meta.rates.per)} residents (${meta.rates.population_year} population), ${meta.rates.interval} interval`);
    for (const c2 of meta.caveats || []) notes.push(c2);
    return notes;
  }

  function renderLegend(container, doc, areasLabel) {
    container.replaceChildren(
      el("h2", { text: doc.title }),
      el("ul", { class: "legend-items" },
        doc.items.map((item) => el("li", {}, swatch(item.colour), el("span", { text: item.label })))),
      el("ul", { class: "legend-notes" }, legendNotes(doc.meta || {}, areasLabel).map((n) => el("li", { text: n }))),
    );
    container.hidden = false;
  }

  /* -- area panel ---------------------------------------------------------------------------- */

  /**
   * What a month of a trend series shows: "shown", "suppressed" or "not held". The service
   * sends null for both hidden kinds and says which in `status` (held, not_held, suppressed).
   */
  function monthState(s) {
    if (s.count !== null && s.count !== undefined) return "shown";
    if (s.status === "suppressed") return "suppressed";
    if (s.status === "not_held") return "not held";
    return "hidden";
  }

  function monthText(s, ctx) {
    const state = monthState(s);
    if (state === "shown") return num(s.count);
    if (state === "suppressed") return `fewer than ${ctx.threshold}`;
    if (state === "not held") return "not held";
    return `not shown (fewer than ${ctx.threshold}, or not held)`;
  }

  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

  /** The sparkline's text alternative: period, lowest, highest, latest and hidden months. */
  function trendLabel(series, ctx) {
    if (!series.length) return "No monthly figures";
    const shown = series.filter((s) => monthState(s) === "shown");
    const last = series[series.length - 1];
    const parts = [`Monthly incidents ${series[0].month} to ${last.month}`];
    if (shown.length) {
      const lo = shown.reduce((a, b) => (b.count < a.count ? b : a));
      const hi = shown.reduce((a, b) => (b.count > a.count ? b : a));
      parts.push(`lowest ${num(lo.count)} (${lo.month})`, `highest ${num(hi.count)} (${hi.month})`);
    }
    parts.push(`latest ${monthText(last, ctx)}`);
    const states = series.map((s) => monthState(s));
    const count = (k) => states.filter((x) => x === k).length;
    if (count("suppressed")) parts.push(`${plural(count("suppressed"), "month")} fewer than ${ctx.threshold}`);
    if (count("not held")) parts.push(`${plural(count("not held"), "month")} not held`);
    if (count("hidden")) parts.push(`${plural(count("hidden"), "month")} not shown`);
    return `${parts.join(", ")}.`;
  }

  /**
   * Inline SVG sparkline of monthly counts with the seasonal baseline (dashed), the lowest and
   * highest values and the first and last months labelled. Suppressed months are grey bars up
   * to the threshold (the count is somewhere below it); months not held are gaps.
   */
  function sparkline(series, ctx) {
    const w = 240, h = 100, left = 36, right = 6, top = 8, bottom = h - 18;
    const counts = series.map((s) => (monthState(s) === "shown" ? s.count : null));
    const expected = series.map((s) => (s.expected === undefined ? null : s.expected));
    const shown = counts.filter((v) => v !== null);
    const max = Math.max(1, ...shown, ...expected.filter((v) => v !== null));
    const x = (i) => left + (series.length < 2 ? 0 : (i * (w - left - right)) / (series.length - 1));
    const y = (v) => bottom - (v / max) * (bottom - top);
    const path = (vals) => {
      let d = "", pen = false;
      vals.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
        pen = true;
      });
      return d;
    };
    const text = (tx, ty, anchor, value, cls) => Object.assign(svg("text", { x: tx, y: ty, "text-anchor": anchor, class: cls }), { textContent: value });
    const label = trendLabel(series, ctx);
    const root = svg("svg", { viewBox: `0 0 ${w} ${h}`, width: w, height: h, role: "img", "aria-label": label, class: "sparkline" });
    root.append(Object.assign(svg("title", {}), { textContent: label }));
    for (const v of new Set(shown.length ? [Math.min(...shown), Math.max(...shown)] : [])) {
      root.append(svg("line", { x1: left, x2: w - right, y1: y(v), y2: y(v), class: "spark-axis" }));
      root.append(text(left - 4, y(v) + 4, "end", num(v), "spark-value"));
    }
    series.forEach((s, i) => {
      if (monthState(s) !== "suppressed") return;
      const top4 = y(Math.min(max, ctx.threshold - 1));
      const bar = svg("rect", { x: x(i) - 2, y: top4, width: 4, height: Math.max(2, bottom - top4), class: "spark-suppressed" });
      bar.append(Object.assign(svg("title", {}), { textContent: `${s.month}: fewer than ${ctx.threshold}` }));
      root.append(bar);
    });
    if (expected.some((v) => v !== null)) root.append(svg("path", { d: path(expected), class: "spark-expected" }));
    root.append(svg("path", { d: path(counts), class: "spark-count" }));
    // A month with no shown neighbour draws no line: mark it with a dot.
    counts.forEach((v, i) => {
      if (v === null || counts[i - 1] != null || counts[i + 1] != null) return;
      root.append(svg("circle", { cx: x(i), cy: y(v), r: 2.5, class: "spark-dot" }));
    });
    series.forEach((s, i) => {
      if (counts[i] === null || !s.flag) return;
      root.append(svg("circle", { cx: x(i), cy: y(s.count), r: 3, class: s.flag > 0 ? "spark-high" : "spark-low" }));
    });
    if (series.length) {
      root.append(text(left, h - 4, "start", series[0].month, "spark-month"));
      if (series.length > 1) root.append(text(w - right, h - 4, "end", series[series.length - 1].month, "spark-month"));
    }
    return root;
  }

  function seriesTable(series, ctx) {
    return el("details", { class: "series" },
      el("summary", { text: "Monthly figures" }),
      el("table", {},
        el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Month" }), el("th", { scope: "col", text: "Incidents" }), el("th", { scope: "col", text: "Expected" }))),
        el("tbody", {}, series.map((s) => el("tr", {},
          el("th", { scope: "row", text: s.month }),
          el("td", { text: monthText(s, ctx) }),
          el("td", { text: s.expected === null || s.expected === undefined ? "–" : num(s.expected, 1) })))),
      ));
  }

  /** One comparison; no verdict when either side is hidden (a verdict would be on hidden values). */
  function comparison(label, c, why) {
    if (!c) return el("li", { text: `${label}: not available (${why || "no data for that period"})` });
    const period = c.comparison_period ? ` ${c.comparison_period.from} to ${c.comparison_period.to}` : "";
    const missing = (v) => v === null || v === undefined;
    if (c.withheld || c.suppressed || missing(c.current) || missing(c.previous)) {
      return el("li", { class: "direction-hidden", text: `${label}${period}: not shown (small numbers)` });
    }
    const pct = missing(c.pct_change) ? "" : ` (${c.pct_change > 0 ? "+" : ""}${num(c.pct_change, 1)}%)`;
    const p = missing(c.p_value) ? "" : `, p = ${num(c.p_value, 2)}`;
    return el("li", { class: `direction-${String(c.direction || "").replace(/\s+/g, "-")}` },
      `${label}${period}: ${num(c.current)} vs ${num(c.previous)}${pct} — `, el("strong", { text: c.direction || "no test" }), p);
  }

  function panelBody(figures, summary, ctx) {
    const dl = el("dl", { class: "figures" }, figures.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    if (summary && summary.series) {
      const unavailable = (summary.meta && summary.meta.comparisons_unavailable) || {};
      return [dl, el("h3", { text: "Trend" }), sparkline(summary.series, ctx), seriesTable(summary.series, ctx),
        el("ul", { class: "comparisons" },
          comparison("Compared with the period before", summary.vs_previous, unavailable.vs_previous),
          comparison("Compared with the same period last year", summary.vs_last_year, unavailable.vs_last_year))];
    }
    if (summary && summary.error) return [dl, el("p", { class: "note", text: `Trend not available: ${summary.error}` })];
    return [dl, el("p", { class: "note", text: "Loading the trend…" })];
  }

  /**
   * Figures of one area: rows of [label, value] plus its summary (or why it is missing).
   * area: {code, name, boundary (a label for people),
   * threshold (the smallest count shown, default 5)}.
   * Rendering the same area again (its trend arrived) keeps the heading and close button, so
   * keyboard focus on them survives; focus inside the replaced part moves to the heading.
   * Returns the heading (tabindex -1) for the caller to focus.
   */
  function renderPanel(container, area, figures, summary, onClose) {
    let heading = container.querySelector(":scope > h2");
    if (!heading || container.dataset.code !== area.code) {
      heading = el("h2", { tabindex: "-1", text: area.name });
      const close = el("button", { type: "button", class: "panel-close", "aria-label": `Close details of ${area.name}`, text: "×", onclick: onClose });
      const where = el("p", { class: "note", text: `${area.code} · ${area.boundary}` });
      container.replaceChildren(close, heading, where, el("div", { class: "panel-body" }));
      container.dataset.code = area.code;
    }
    const body = container.querySelector(".panel-body");
    const focusLost = body.contains(document.activeElement);
    body.replaceChildren(...panelBody(figures, summary, { threshold: area.threshold || 5 }));
    container.hidden = false;
    if (focusLost) heading.focus();
    return heading;
  }

  /** Empty and hide an area panel. */
  function clearPanel(container) {
    container.hidden = true;
    container.replaceChildren();
    delete container.dataset.code;
  }

  /** Count, rate and interval of one counts row, as [label, value] rows. */
  function countFigures(row, threshold) {
    if (!row) return [["Incidents", "no data"]];
    const out = [["Incidents", row.count === null || row.count === undefined ? `suppressed (fewer than ${threshold})` : num(row.count)]];
    if ("rate_per_1000" in row) {
      out.push(["Rate per 1,000 residents", row.rate_per_1000 === null ? "not shown" : num(row.rate_per_1000, 2)]);
      if (row.ci_low !== null && row.ci_low !== undefined) {
        out.push(["95% interval", `${num(row.ci_low, 2)} to ${num(row.ci_high, 2)}${row.unstable ? " (unstable: few incidents)" : ""}`]);
      }
      if (row.population !== null && row.population !== undefined) out.push(["Residents", num(row.population)]);
    }
    if ("gi_z" in row) {
      out.push(["Gi* z-score", num(row.gi_z, 2)], ["Hotspot bin", String(row.hotspot_bin)]);
    }
    return out;
  }

  /* -- PNG of the visible view --------------------------------------------------------------- */

  function wrapText(ctx, text, maxWidth) {
    const words = String(text).split(/\s+/), lines = [];
    let line = "";
    for (const w of words) {
      const next = line ? `${line} ${w}` : w;
      if (ctx.measureText(next).width > maxWidth && line) { lines.push(line); line = w; } else line = next;
    }
    if (line) lines.push(line);
    return lines;
  }

  /**
   * Each tile layer of the map (not a cross-origin basemap) drawn as the screen shows it: with
   * its layer's opacity (the faded choropleth under hotspots) and its tiles' CSS filter (the
   * hotspot outline). A layer is put together first so that a filter sees no tile seams.
   */
  function drawTiles(ctx, map, top) {
    const size = map.getSize(), box = map.getContainer().getBoundingClientRect();
    const layers = [...map.getContainer().querySelectorAll(".leaflet-tile-pane .leaflet-layer")]
      .filter((l) => !l.classList.contains("atlas-basemap"))
      .sort((a, b) => (Number(a.style.zIndex) || 0) - (Number(b.style.zIndex) || 0));
    for (const layerEl of layers) {
      const tiles = layerEl.querySelectorAll("img.leaflet-tile-loaded");
      if (!tiles.length) continue;
      const whole = Object.assign(document.createElement("canvas"), { width: size.x, height: size.y });
      const w = whole.getContext("2d");
      for (const img of tiles) {
        const r = img.getBoundingClientRect();
        w.drawImage(img, r.left - box.left, r.top - box.top, r.width, r.height);
      }
      ctx.save();
      ctx.globalAlpha = Number(getComputedStyle(layerEl).opacity);
      ctx.filter = getComputedStyle(tiles[0]).filter;
      ctx.drawImage(whole, 0, top);
      ctx.restore();
    }
  }

  /** Legends beside the map; swatches at the opacity their layer has on screen. */
  function drawLegends(ctx, legends, x, top) {
    let y = top;
    for (const { doc, opacity } of legends) {
      ctx.font = "bold 13px sans-serif";
      ctx.fillStyle = "#1b1b1b";
      ctx.fillText(doc.title, x, y + 14);
      y += 26;
      ctx.font = "12px sans-serif";
      for (const item of doc.items) {
        if (!/^#[0-9a-f]{6}00$/i.test(item.colour)) {
          ctx.globalAlpha = FILL_ALPHA * (opacity === undefined ? 1 : opacity);
          ctx.fillStyle = item.colour;
          ctx.fillRect(x, y, 22, 14);
          ctx.globalAlpha = 1;
        }
        ctx.strokeStyle = "#777";
        ctx.strokeRect(x + 0.5, y + 0.5, 21, 13);
        ctx.fillStyle = "#1b1b1b";
        ctx.fillText(item.label, x + 30, y + 11);
        y += 22;
      }
      y += 12;
    }
  }

  /**
   * The visible view composed with a title, the legends ([{doc, opacity}]) and the source into
   * one PNG blob.
   */
  function exportPng(map, title, subtitle, legends, source) {
    const size = map.getSize();
    const legendW = 250, head = 56, foot = 40;
    const legendH = legends.reduce((h, l) => h + 28 + l.doc.items.length * 22 + 12, 0);
    const bodyH = Math.max(size.y, legendH);
    const canvas = Object.assign(document.createElement("canvas"), { width: size.x + legendW, height: head + bodyH + foot });
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#1b1b1b";
    ctx.font = "bold 18px sans-serif";
    ctx.fillText(title, 10, 24);
    ctx.font = "13px sans-serif";
    ctx.fillText(subtitle, 10, 44);
    drawTiles(ctx, map, head);
    ctx.strokeStyle = "#999";
    ctx.strokeRect(0.5, head + 0.5, size.x - 1, size.y - 1);
    drawLegends(ctx, legends, size.x + 12, head + 6);
    ctx.font = "11px sans-serif";
    ctx.fillStyle = "#444";
    wrapText(ctx, source, canvas.width - 20).slice(0, 2).forEach((line, i) => {
      ctx.fillText(line, 10, head + bodyH + 16 + i * 14);
    });
    return new Promise((resolve, reject) => {
      try { canvas.toBlob((b) => (b ? resolve(b) : reject(new Error("no image"))), "image/png"); } catch (e) { reject(e); }
    });
  }

  /* -- outlines around hotspot cells --------------------------------------------------------- */

  const OUTLINE_ID = "atlas-outline";

  /**
   * An SVG filter that draws a 1 px dark line just outside the filled parts of an image and
   * leaves the fills alone, so hotspot cells stand apart from a choropleth of similar reds.
   * CSS gives it to hotspot tiles (.atlas-hotspots img); exportPng applies the same filter.
   */
  function addOutlineFilter() {
    if (document.getElementById(OUTLINE_ID)) return;
    const root = svg("svg", { width: 0, height: 0, "aria-hidden": "true", focusable: "false", class: "svg-defs" });
    root.innerHTML = `<filter id="${OUTLINE_ID}" x="0" y="0" width="1" height="1" color-interpolation-filters="sRGB">
      <feComponentTransfer in="SourceAlpha" result="solid"><feFuncA type="discrete" tableValues="0 1"/></feComponentTransfer>
      <feMorphology in="solid" operator="dilate" radius="1" result="grown"/>
      <feComposite in="grown" in2="solid" operator="out" result="ring"/>
      <feFlood flood-color="#1b1b1b"/><feComposite in2="ring" operator="in" result="line"/>
      <feMerge><feMergeNode in="line"/><feMergeNode in="SourceGraphic"/></feMerge></filter>`;
    document.body.append(root);
  }

  function saveBlob(blob, filename) {
    const a = el("a", { href: URL.createObjectURL(blob), download: filename, hidden: true });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 2000);
  }

  /**
   * Skip links move focus to their target without touching the URL fragment (the map page
   * keeps its view there).
   */
  function wireSkipLinks() {
    for (const a of document.querySelectorAll("a.skip-link[href^='#']")) {
      a.addEventListener("click", (e) => {
        const target = document.getElementById(a.getAttribute("href").slice(1));
        if (!target) return;
        e.preventDefault();
        if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
        target.focus();
      });
    }
  }

  function addBasemap(map, cfg) {
    if (!cfg.basemapUrl) return null;
    return L.tileLayer(cfg.basemapUrl, {
      attribution: escapeHtml(cfg.basemapAttribution || ""),
      className: "atlas-basemap",
      zIndex: 0,
      maxZoom: 19,
    }).addTo(map);
  }

  global.AtlasUI = {
    el, escapeHtml, num, token, client, ApiError, TileLayer, tilesSettled, areaLayer, relabel,
    renderLegend, legendNotes, renderPanel, clearPanel, countFigures, sparkline, exportPng, saveBlob, addBasemap, wireSkipLinks, boundaryLabel, addOutlineFilter,
    plural,
  };
})(window);
