"""Real clients against a real server: GDAL's WMTS driver and MapLibre in Chromium, through the one ASGI entry point.

pytest-django's live_server serves only Django, so the ASGI application (Django + the tile service)
runs under uvicorn in a child process on a free loopback port, with the test database.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg.conninfo
import pytest
import rasterio
from django.db import connection
from rasterio.io import MemoryFile

from catalog.keys import create_api_key
from tests.browser import chromium

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(imagery_root) -> Iterator[str]:
    """http://127.0.0.1:PORT serving geoplatform.asgi:application on the test database and imagery folder."""
    db = connection.settings_dict
    url = psycopg.conninfo.make_conninfo(dbname=db["NAME"], host=db["HOST"], port=str(db["PORT"] or ""),
                                         user=db["USER"], password=db["PASSWORD"])
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "GEOPLATFORM_IMAGERY_DIR": str(imagery_root)}
    child = subprocess.Popen([sys.executable, "-m", "uvicorn", "geoplatform.asgi:application", "--host", "127.0.0.1",
                              "--port", str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/tiles/healthz", timeout=2).read()
                break
            except OSError:
                if child.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the ASGI server did not start (exit code {child.poll()})") from None
                time.sleep(0.2)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=20)


def gdal(*args: str, cache: Path) -> subprocess.CompletedProcess:
    """A GDAL command; its WMS/WMTS tile cache (else ./gdalwmscache) goes to ``cache``."""
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, "GDAL_HTTP_TIMEOUT": "30", "CPL_DEBUG": "OFF",
                               "GDAL_DEFAULT_WMS_CACHE_PATH": str(cache)})


def test_gdal_reads_the_wmts_capabilities_and_the_tiles(server, ingest, department, tmp_path):
    ingest(2023)
    ingest(2024)
    raw = create_api_key(department, "gdal")[1]
    cache = tmp_path / "gdalwmscache"
    listing = gdal("gdalinfo", f"WMTS:{server}/tiles/wmts?SERVICE=WMTS&REQUEST=GetCapabilities&token={raw}",
                   cache=cache)
    assert listing.returncode == 0, listing.stderr
    assert "layer=aerial:2023" in listing.stdout and "layer=aerial:2024" in listing.stdout
    layer = f"WMTS:{server}/tiles/1.0.0/WMTSCapabilities.xml?token={raw},layer=aerial:2024"
    info = gdal("gdalinfo", layer, cache=cache)
    assert info.returncode == 0, info.stderr
    assert 'ID["EPSG",3857]' in info.stdout and "Band 3" in info.stdout
    out = tmp_path / "from-wmts.tif"
    copy = gdal("gdal_translate", "-q", "-outsize", "128", "128", layer, str(out), cache=cache)
    assert copy.returncode == 0, copy.stderr
    with rasterio.open(out) as image:
        pixels = image.read()
    # GDAL's WMTS driver adds an alpha band; the bright middle square of the source is at the centre
    assert pixels.shape[1:] == (128, 128) and (pixels[:3, 64, 64] >= 200).all() and pixels[:3, 2, 2].max() < 200


def test_the_same_server_serves_django(server):
    with urllib.request.urlopen(f"{server}/healthz", timeout=10) as response:
        assert response.status == 200 and json.load(response)["status"] in ("ok", "degraded")


MAP_PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<link rel="stylesheet" href="/static/vendor/maplibre-gl/maplibre-gl.css">
<script src="/static/vendor/maplibre-gl/maplibre-gl.js"></script>
<style>html, body, #map {{ margin: 0; width: 512px; height: 512px; }}</style>
</head><body><div id="map"></div><script>
window.map = new maplibregl.Map({{
  container: "map", center: [116.31, 39.91], zoom: 14, fadeDuration: 0,
  style: {{version: 8, sources: {{aerial: {{type: "raster", url: {tilejson}, tileSize: 256}}}},
          layers: [{{id: "background", type: "background", paint: {{"background-color": "#0000ff"}}}},
                   {{id: "aerial", type: "raster", source: "aerial"}}]}}
}});
</script></body></html>"""


@pytest.mark.browser
def test_maplibre_draws_the_imagery_from_tilejson(server, ingest, department):
    ingest(2024)
    raw = create_api_key(department, "map")[1]
    tilejson = json.dumps(f"{server}/tiles/aerial/2024/tilejson.json?token={raw}")
    tiles: list[tuple[str, int]] = []
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 512, "height": 512})
        page.on("response", lambda r: tiles.append((r.url, r.status)) if "/tiles/aerial/2024/14/" in r.url else None)
        page.route(f"{server}/map-test.html",
                   lambda route: route.fulfill(content_type="text/html", body=MAP_PAGE.format(tilejson=tilejson)))
        page.goto(f"{server}/map-test.html")
        page.wait_for_function("window.map && window.map.loaded() && window.map.areTilesLoaded()", timeout=30_000)
        shot = page.screenshot()
    assert tiles and all(status == 200 and "token=gpt1." in url and raw not in url for url, status in tiles), tiles
    with MemoryFile(shot) as memfile, memfile.open() as image:
        centre = image.read()[:3, 256, 256]
    assert (centre >= 200).all() and not np.array_equal(centre, [0, 0, 255])  # imagery, not the blue background
