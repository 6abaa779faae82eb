// Small preview map of a catalog entry: its extent over a plain background (the platform's own
// basemap comes with the layers). Falls back to the extent's numbers when WebGL is unavailable.
(function () {
  const el = document.getElementById("map");
  if (!el || !el.dataset.extent) { if (el) el.remove(); return; }
  const [minx, miny, maxx, maxy] = el.dataset.extent.split(",").map(Number);
  const ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]];
  try {
    const map = new maplibregl.Map({
      container: el,
      style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#eef2f7" } }] },
      bounds: [[minx, miny], [maxx, maxy]],
      fitBoundsOptions: { padding: 30 },
      attributionControl: false,
    });
    map.on("load", () => {
      map.addSource("extent", { type: "geojson", data: { type: "Feature", geometry: { type: "Polygon", coordinates: [ring] } } });
      map.addLayer({ id: "extent-fill", type: "fill", source: "extent", paint: { "fill-color": "#1f4e8c", "fill-opacity": 0.15 } });
      map.addLayer({ id: "extent-line", type: "line", source: "extent", paint: { "line-color": "#1f4e8c", "line-width": 2 } });
      el.dataset.ready = "1";
    });
  } catch (err) {
    el.textContent = `${minx.toFixed(4)}, ${miny.toFixed(4)} — ${maxx.toFixed(4)}, ${maxy.toFixed(4)}`;
    el.dataset.ready = "fallback";
  }
})();
