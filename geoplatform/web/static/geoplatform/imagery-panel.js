// The imagery part of a catalog entry's page: its years (one button each, the latest shown), the imagery
// itself in the preview map, and the connection addresses for QGIS/ArcGIS (WMTS, XYZ, TileJSON).
// Everything comes from the platform's own APIs with the visitor's session: /api/imagery/SLUG/ for the
// years, the year's TileJSON for the tiles (its tile URLs carry a tile token issued to the visitor).
(function () {
  const panel = document.getElementById("imagery");
  if (!panel) return;
  const yearsEl = document.getElementById("imagery-years");
  const readable = panel.dataset.readable === "1";
  const absolute = (url) => new URL(url, location.href).href;
  const withKey = (url) => `${url}${url.includes("?") ? "&" : "?"}token=YOUR_API_KEY`;
  const setValue = (id, value) => { const el = document.getElementById(id); if (el) el.value = value; };

  function whenMapLoaded(callback) {
    const map = window.previewMap;
    if (!map) return;
    // loaded() is false again while any source loads tiles, after "load" has fired: ask for the style
    if (map.isStyleLoaded()) callback(map); else map.once("load", () => callback(map));
  }

  function showYear(collection, year) {
    for (const button of yearsEl.querySelectorAll("button")) {
      button.setAttribute("aria-pressed", String(button.dataset.year === String(year.year)));
    }
    panel.dataset.year = year.year;
    if (!readable) return;
    const tilejson = new URL(year.tilejson).pathname;  // same origin: the session authenticates it
    setValue("url-wmts", withKey(collection.wmts));
    setValue("url-tilejson", withKey(absolute(tilejson)));
    const get = (url) => fetch(url, { credentials: "same-origin" }).then((r) => r.json());
    // the address shown is the year's own format; the preview draws PNG, transparent outside the imagery
    Promise.all([get(tilejson), get(`${tilejson}?format=png`)]).then(([shown, doc]) => {
      setValue("url-xyz", shown.tiles[0]);
      whenMapLoaded((map) => {
        map.resize();  // the panel has just grown the column the map is in
        if (map.getLayer("imagery")) map.removeLayer("imagery");
        if (map.getSource("imagery")) map.removeSource("imagery");
        map.addSource("imagery", { type: "raster", tiles: doc.tiles, tileSize: 256, bounds: doc.bounds,
                                   minzoom: doc.minzoom, maxzoom: doc.maxzoom });
        const below = map.getLayer("extent-line") ? "extent-line" : undefined;
        map.addLayer({ id: "imagery", type: "raster", source: "imagery" }, below);
        map.once("idle", () => { panel.dataset.ready = String(year.year); });
      });
    });
  }

  fetch(panel.dataset.api, { credentials: "same-origin" }).then((r) => r.json()).then((collection) => {
    const years = collection.years || [];
    for (const year of years) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = year.year;
      button.dataset.year = year.year;
      button.addEventListener("click", () => showYear(collection, year));
      yearsEl.appendChild(button);
    }
    if (years.length) showYear(collection, years[years.length - 1]);
  });

  for (const button of panel.querySelectorAll("button.copy")) {
    button.addEventListener("click", () => {
      const input = document.getElementById(button.dataset.copy);
      input.select();
      if (navigator.clipboard) navigator.clipboard.writeText(input.value);
    });
  }
})();
