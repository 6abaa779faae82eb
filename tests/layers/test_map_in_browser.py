"""A MapLibre map in headless Chromium draws a shared layer from our TileJSON, with the key in ?token=."""

from __future__ import annotations

import json

import pytest

from catalog.keys import create_api_key
from tests.browser import chromium

pytestmark = pytest.mark.browser

MAP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css">
<script src="/static/vendor/maplibre-gl/maplibre-gl.js"></script>
<style>html, body, #map {{ margin: 0; width: 800px; height: 600px; }}</style>
</head><body><div id="map"></div><script>
window.map = new maplibregl.Map({{
  container: "map", center: [116.4, 39.95], zoom: 10,
  style: {{version: 8, sources: {{companies: {{type: "vector", url: {tilejson}}}}},
          layers: [{{id: "companies", type: "circle", source: "companies", "source-layer": "companies",
                     paint: {{"circle-radius": 8, "circle-color": "#c00"}}}}]}}
}});
</script></body></html>"""


@pytest.mark.django_db(transaction=True)
def test_maplibre_renders_the_layer_from_tilejson_with_token(live_server, department, publish, tmp_path):
    from tests.layers.conftest import write_points

    publish(write_points(tmp_path / "p.gpkg"), key="code")
    raw = create_api_key(department, "map")[1]
    tilejson = json.dumps(f"{live_server.url}/api/layers/companies/tilejson.json?token={raw}")
    tiles: list[tuple[str, int]] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("response", lambda r: tiles.append((r.url, r.status)) if ".mvt" in r.url else None)
        # the page itself is test-only; MapLibre, the TileJSON and the tiles come from the live server
        page.route(f"{live_server.url}/map-test.html",
                   lambda route: route.fulfill(content_type="text/html", body=MAP_PAGE.format(tilejson=tilejson)))
        page.goto(f"{live_server.url}/map-test.html")
        page.wait_for_function("window.map && window.map.loaded() && window.map.areTilesLoaded()", timeout=30_000)
        rendered = page.evaluate("window.map.queryRenderedFeatures({layers: ['companies']})"
                                 ".map(f => f.properties.code).sort()")
    assert tiles and all(status == 200 for _, status in tiles), tiles
    assert all(f"token={raw}" in url for url, _ in tiles)
    assert rendered and set(rendered) <= {"A1", "A2", "A3"}
