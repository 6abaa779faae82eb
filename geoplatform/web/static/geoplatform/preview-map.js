// Preview map of a catalog entry: the platform's own base layers (district boundaries, roads),
// the entry's features when the visitor may read them, else its extent as a box.
// Falls back to the extent's numbers when WebGL is unavailable.
(function () {
  const el = document.getElementById("map");
  if (!el || !el.dataset.extent) { if (el) el.remove(); return; }
  const layers = JSON.parse(document.getElementById("map-layers").textContent);
  const [minx, miny, maxx, maxy] = el.dataset.extent.split(",").map(Number);
  const ring = [[minx, miny], [maxx, miny], [maxx, maxy], [minx, maxy], [minx, miny]];
  const style = { version: 8, sources: {}, layers: [{ id: "bg", type: "background", paint: { "background-color": "#f4f1ea" } }] };
  const entry = layers.find((l) => l.role === "entry");
  for (const l of layers) {
    style.sources[l.slug] = { type: "vector", url: new URL(l.tilejson, location.href).href };
    const base = l.role === "base";
    const colour = base ? "#9aa5b1" : "#c0392b";
    style.layers.push(
      { id: `${l.slug}-fill`, type: "fill", source: l.slug, "source-layer": l.slug,
        filter: ["==", ["geometry-type"], "Polygon"],
        paint: { "fill-color": base ? "#e7e2d6" : colour, "fill-opacity": base ? 1 : 0.35, "fill-outline-color": colour } },
      { id: `${l.slug}-line`, type: "line", source: l.slug, "source-layer": l.slug,
        filter: ["in", ["geometry-type"], ["literal", ["LineString", "Polygon"]]],
        paint: { "line-color": base ? (l.slug === "roads" ? "#ffffff" : "#8d8270") : colour, "line-width": base && l.slug === "roads" ? 2.5 : 1 } },
      { id: `${l.slug}-point`, type: "circle", source: l.slug, "source-layer": l.slug,
        filter: ["==", ["geometry-type"], "Point"],
        paint: { "circle-radius": 3, "circle-color": colour, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
  }
  try {
    const map = new maplibregl.Map({ container: el, style, bounds: [[minx, miny], [maxx, maxy]],
      fitBoundsOptions: { padding: 20 }, attributionControl: false });
    window.previewMap = map;
    map.on("load", () => {
      if (!entry) {
        map.addSource("extent", { type: "geojson", data: { type: "Feature", geometry: { type: "Polygon", coordinates: [ring] } } });
        map.addLayer({ id: "extent-line", type: "line", source: "extent", paint: { "line-color": "#1f4e8c", "line-width": 2 } });
      }
    });
    map.once("idle", () => { el.dataset.ready = entry ? "features" : "extent"; });
  } catch (err) {
    el.textContent = `${minx.toFixed(4)}, ${miny.toFixed(4)} — ${maxx.toFixed(4)}, ${maxy.toFixed(4)}`;
    el.dataset.ready = "fallback";
  }
})();
