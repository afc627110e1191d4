/* Community Safety Atlas map page: choropleth of counts on any boundary version. */
(function () {
  "use strict";
  const PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]; // ColorBrewer YlOrRd 5 (colour-blind safe)
  const $ = (id) => document.getElementById(id);
  const status = (text) => { $("status").textContent = text; };
  const map = L.map("map", { preferCanvas: false }).setView([51.25, -0.45], 10);
  if (window.ATLAS_CONFIG.basemapUrl) {
    L.tileLayer(window.ATLAS_CONFIG.basemapUrl, { attribution: window.ATLAS_CONFIG.basemapAttribution }).addTo(map);
  }
  map.attributionControl.addAttribution("Boundaries: ONS (OGL v3). Crime: police.uk (OGL v3).");
  let layer = null;

  async function getJSON(url) {
    const r = await fetch(url, { headers: { Accept: "application/json" } });
    if (!r.ok) {
      let detail = r.statusText;
      try { detail = (await r.json()).detail; } catch (e) { /* keep statusText */ }
      throw new Error(detail);
    }
    return r.json();
  }

  function quantileBreaks(values, k) {
    const v = values.filter((x) => x !== null).sort((a, b) => a - b);
    if (!v.length) return [];
    const breaks = [];
    for (let i = 1; i <= k; i++) breaks.push(v[Math.min(v.length - 1, Math.ceil((i * v.length) / k) - 1)]);
    return breaks.filter((b, i) => i === 0 || b !== breaks[i - 1]);
  }

  function colourFor(value, breaks) {
    if (value === null || value === undefined) return "#bbbbbb";
    for (let i = 0; i < breaks.length; i++) if (value <= breaks[i]) return PALETTE[Math.round((i * (PALETTE.length - 1)) / Math.max(1, breaks.length - 1))];
    return PALETTE[PALETTE.length - 1];
  }

  function renderLegend(breaks, meta) {
    const el = $("legend");
    let lo = 0;
    const items = breaks.map((b, i) => {
      const c = PALETTE[Math.round((i * (PALETTE.length - 1)) / Math.max(1, breaks.length - 1))];
      const row = `<div><span class="swatch" style="background:${c}"></span>${lo} – ${b}</div>`;
      lo = b + 1;
      return row;
    });
    el.innerHTML = `<strong>Incidents</strong><br>${meta.boundary.selector}, ${meta.period.from} to ${meta.period.to}` +
      items.join("") + `<div><span class="swatch" style="background:#bbbbbb"></span>suppressed (1–4)</div>` +
      `<p>${meta.incidents ?? "?"} incidents; ${meta.unlocated ?? "?"} unlocated; ${meta.outside ?? "?"} outside.</p>`;
  }

  async function draw() {
    const dataset = $("dataset").value;
    const by = $("by").value;
    if (!dataset || !by) return;
    status("Loading…");
    const [set, version] = by.split(":");
    const params = new URLSearchParams({ dataset, by });
    if ($("from").value) params.set("from", $("from").value);
    if ($("to").value) params.set("to", $("to").value);
    if ($("category").value) params.set("category", $("category").value);
    try {
      const [geo, counts] = await Promise.all([
        getJSON(`/api/v1/boundaries/${encodeURIComponent(set)}/${encodeURIComponent(version)}`),
        getJSON(`/api/v1/counts?${params}`),
      ]);
      const byCode = new Map(counts.rows.map((r) => [r.area_code, r]));
      const breaks = quantileBreaks(counts.rows.map((r) => r.count), PALETTE.length);
      if (layer) map.removeLayer(layer);
      layer = L.geoJSON(geo, {
        style: (f) => ({ color: "#555", weight: 1, fillOpacity: 0.75, fillColor: colourFor((byCode.get(f.properties.code) || {}).count, breaks) }),
        onEachFeature: (f, l) => {
          const r = byCode.get(f.properties.code) || {};
          l.bindPopup(`<strong>${f.properties.name}</strong> (${f.properties.code})<br>Incidents: ${r.count ?? "suppressed"}`);
        },
      }).addTo(map);
      map.fitBounds(layer.getBounds());
      renderLegend(breaks, counts.meta);
      status(`${counts.rows.length} areas`);
    } catch (e) {
      status(`Could not load the map: ${e.message}`);
    }
  }

  async function init() {
    try {
      const [datasets, boundaries] = await Promise.all([getJSON("/api/v1/datasets"), getJSON("/api/v1/boundaries")]);
      $("dataset").innerHTML = datasets.map((d) => `<option>${d.dataset}</option>`).join("");
      $("by").innerHTML = boundaries.map((b) => `<option value="${b.set}:${b.version}">${b.set} ${b.version}</option>`).join("");
      const wards = boundaries.filter((b) => b.set === "wards").pop();
      if (wards) $("by").value = `${wards.set}:${wards.version}`;
      if (!datasets.length) { status("No datasets yet: load one with `atlas ingest` or `atlas demo`."); return; }
      ["dataset", "by", "category", "from", "to"].forEach((id) => $(id).addEventListener("change", draw));
      await draw();
    } catch (e) {
      status(`Could not start: ${e.message}`);
    }
  }
  init();
})();
