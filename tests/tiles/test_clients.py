"""Real clients against a real server: GDAL's WMTS driver and MapLibre in Chromium, through the one ASGI entry point.

pytest-django's live_server serves only Django, so the ASGI application (Django + the tile service)
runs under uvicorn in a child process on a free loopback port, with the test database.
"""

from __future__ import annotations

import json
import os
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
from tests.servers import free_port
from tests.tiles.conftest import BOUNDS

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


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


def test_gdal_reads_a_window_of_the_cgcs2000_grid(server, ingest, department, tmp_path):
    """GDAL derives a level's resolution from its scale denominator with OGC's 0.28 mm pixel, so it reads the
    CGCS2000 tiles through CGCS2000Quad (the same tiles as ``c``, whose 天地图 scales assume 96 dpi)."""
    ingest(2024)
    raw = create_api_key(department, "gdal")[1]
    cache = tmp_path / "gdalwmscache"
    layer = f"WMTS:{server}/tiles/1.0.0/WMTSCapabilities.xml?token={raw},layer=aerial:2024,tilematrixset=CGCS2000Quad"
    info = gdal("gdalinfo", layer, cache=cache)
    assert info.returncode == 0, info.stderr
    assert 'ID["EPSG",4490]' in info.stdout
    out = tmp_path / "from-c.tif"
    west, south, east, north = BOUNDS
    copy = gdal("gdal_translate", "-q", "-projwin", str(west), str(north), str(east), str(south),
                "-outsize", "100", "100", layer, str(out), cache=cache)
    assert copy.returncode == 0, copy.stderr
    with rasterio.open(out) as image:
        pixels = image.read()
        assert image.crs.to_epsg() == 4490
    # the bright middle half of the source, and only it, is bright: the tiles are placed in lon/lat
    assert (pixels[:3, 50, 50] >= 200).all() and (pixels[:3, 30, 30] >= 200).all()
    assert not (pixels[:3, 10, 10] >= 200).all() and not (pixels[:3, 90, 90] >= 200).all()


def test_owslib_parses_the_capabilities_and_fetches_a_tile_of_each_grid(server, ingest, department):
    from owslib.wmts import WebMapTileService

    from tiles import grids

    ingest(2023)
    ingest(2024)
    raw = create_api_key(department, "owslib")[1]
    service = WebMapTileService(f"{server}/tiles/1.0.0/WMTSCapabilities.xml?token={raw}")
    assert {"aerial", "aerial:2023", "aerial:2024"} <= set(service.contents)
    assert {"WebMercatorQuad", "c", "CGCS2000Quad"} <= set(service.tilematrixsets)
    assert service.provider.name and "image/webp" in service.contents["aerial:2024"].formats
    for grid in ("WebMercatorQuad", "c"):
        tile = grids.GRIDS[grid].tile(116.31, 39.91, 14)
        response = service.gettile(layer="aerial:2024", tilematrixset=grid, tilematrix="14", row=tile.y,
                                   column=tile.x, format="image/png")
        with MemoryFile(response.read()) as memfile, memfile.open() as image:
            assert (image.width, image.height) == (256, 256) and image.read().max() >= 200, grid


QGIS_PYTHON = "/usr/bin/python3"


def qgis(provider: str, uri: str, out: Path, extent: str | None = None) -> dict:
    """Render a layer with QGIS 3.22 in a subprocess of the system Python (Debian's python3-qgis)."""
    script = [QGIS_PYTHON, str(Path(__file__).with_name("qgis_render.py")), provider, uri, str(out)]
    done = subprocess.run(script + ([extent] if extent else []),
                          capture_output=True, text=True, timeout=180, env=qgis_environment(out.parent))
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def qgis_environment(home: Path) -> dict:
    """A clean environment: the test process's PROJ_DATA/GDAL_DATA (set for the wheels' own PROJ and GDAL)
    would point Debian's QGIS at data of other versions."""
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(runtime),
            "LANG": "C.UTF-8"}


def has_qgis() -> bool:
    return subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True).returncode == 0


@pytest.mark.skipif(not has_qgis(), reason="Debian's python3-qgis is not installed (scripts/setup --with-browser installs it)")
@pytest.mark.parametrize("how", ["wmts-webmercator-token", "wmts-cgcs2000-basic", "xyz-token"])
def test_qgis_draws_the_imagery(server, ingest, department, tmp_path, how):
    from urllib.parse import quote

    ingest(2024)
    raw = create_api_key(department, "qgis")[1]
    capabilities = f"{server}/tiles/1.0.0/WMTSCapabilities.xml"
    if how == "wmts-webmercator-token":
        uri = (f"crs=EPSG:3857&dpiMode=7&format=image/png&layers=aerial:2024&styles=default"
               f"&tileMatrixSet=WebMercatorQuad&url={capabilities}?token%3D{raw}")
        provider, crs = "wms", "EPSG:3857"
    elif how == "wmts-cgcs2000-basic":
        uri = (f"crs=EPSG:4490&dpiMode=7&format=image/jpeg&layers=aerial:2024&styles=default"
               f"&tileMatrixSet=CGCS2000Quad&username=qgis&password={raw}&url={capabilities}")
        provider, crs = "wms", "EPSG:4490"
    else:
        template = quote(f"{server}/tiles/aerial/2024/{{z}}/{{x}}/{{y}}.png?token={raw}", safe=":/")
        uri = f"type=xyz&url={template}&zmin=10&zmax=17&crs=EPSG3857"
        provider, crs = "wms", "EPSG:3857"
    out = tmp_path / "qgis.png"
    from tiles import grids

    mercator = grids.GRIDS[grids.WEB_MERCATOR]
    # an XYZ layer's extent is the whole world: zoom to the imagery, as a user would
    extent = ",".join(map(str, (*mercator.xy(*BOUNDS[:2]), *mercator.xy(*BOUNDS[2:])))) if how == "xyz-token" else None
    layer = qgis(provider, uri, out, extent)
    assert layer["valid"], layer
    assert layer["crs"] == crs
    if how != "xyz-token":  # WMTS layers know their extent (ows:BoundingBox in the grid's CRS)
        west, south, east, north = layer["extent"]
        if crs == "EPSG:4490":
            assert (round(west, 2), round(south, 2), round(east, 2), round(north, 2)) == BOUNDS
        else:
            assert 12_940_000 < west < east < 12_960_000 and 4_840_000 < south < north < 4_860_000
    with rasterio.open(out) as image:
        pixels = image.read()
    # the source's bright middle square in the middle of the drawing, imagery (not the blue background) around it
    assert (pixels[:3, 128, 128] >= 200).all(), pixels[:3, 128, 128]
    background = (pixels[0] == 0) & (pixels[1] == 0) & (pixels[2] == 255)
    assert background.mean() < 0.5  # mostly imagery (the margins of a square drawing of the extent stay blue)


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
