"""The imagery tile cache: HTTP validators and kept tiles, always behind the access check.

Real COGs (ingested from the conftest's GeoTIFFs), the real tile app through FastAPI's TestClient, and for the
disk cache real uvicorn processes. The tile service runs in other threads than the test, so the data must be
committed: a transactional database.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

import morecantile
import numpy as np
import pytest
import rasterio
from django.utils import timezone
from fastapi.dependencies.utils import get_flat_params
from rasterio.io import MemoryFile
from rasterio.transform import from_bounds
from starlette.datastructures import QueryParams

from catalog.access import tile_decisions
from catalog.audit import tile_counter
from catalog.keys import create_api_key, revoke_api_key
from catalog.models import Entry, Grant, TileUsage
from tests.servers import free_port, get, test_database_url
from tests.tiles.conftest import BOUNDS, bearer
from tiles.app import tiler
from tiles.cache import keys, stores, tile_cache
from tiles.tokens import TileToken, _Code, issue_tile_token

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
TMS = morecantile.tms.get("WebMercatorQuad")
TILE = TMS.tile(116.31, 39.91, 14)
ROUTE = f"/tiles/aerial/2024/tiles/WebMercatorQuad/14/{TILE.x}/{TILE.y}"


@pytest.fixture(autouse=True)
def _empty_cache():
    tile_cache.clear()
    yield
    tile_cache.clear()


def pixels(content: bytes) -> np.ndarray:
    with MemoryFile(content) as memfile, memfile.open() as image:
        return image.read()


def write_uniform(path: Path, rgb: tuple[int, int, int]) -> Path:
    """A one-colour GeoTIFF over the conftest's bounds: a replaced year whose tiles look nothing like the first."""
    data = np.stack([np.full((256, 256), value, dtype="uint8") for value in rgb])
    with rasterio.open(path, "w", driver="GTiff", width=256, height=256, count=3, dtype="uint8", crs="EPSG:4490",
                       transform=from_bounds(*BOUNDS, 256, 256)) as dst:
        dst.write(data)
    return path


def tile(content: bytes = b"x" * 1000) -> stores.CachedTile:
    return stores.CachedTile(content, (("content-type", "image/png"),))


# pure parts: the key, the validators, the bounds


def test_key_covers_every_parameter_the_tile_route_reads():
    for route in tiler.router.routes:
        if "tileMatrixSetId" in route.path and "{z}" in route.path:
            read = {param.alias for param in get_flat_params(route.dependant)}
            path = {"collection", "year", "tileMatrixSetId", "z", "x", "y", "format"}
            assert read - path <= set(keys.RENDERING_PARAMETERS), route.path


def test_key_ignores_the_token_and_cache_busters_but_not_rendering_parameters():
    def params(query: str, fmt: str | None = "png") -> str:
        return keys.rendering_parameters(QueryParams(query), fmt)

    assert params("token=gpt1.a.b&v=2") == params("") == params("token=gp_other")
    assert params("bidx=01&bidx=2&bidx=3") == params("bidx=1&bidx=2&bidx=3") != params("bidx=3&bidx=2&bidx=1")
    assert params("rescale=0,255") == params("rescale=[0, 255.0]") != params("rescale=0,200")
    assert params("return_mask=TRUE") == params("return_mask=1") != params("return_mask=off")
    assert params("tilesize=512") != params("") != params("resampling=cubic")
    assert params("format=webp", None) != params("format=png", None) == params("", "png")


def test_etag_and_dates_follow_rfc_9110():
    tag = keys.etag("ab" * 32)
    assert tag.startswith('"') and tag.endswith('"')
    assert keys.etag_matches(f'"other", W/{tag}', tag)
    assert not keys.etag_matches('"other"', tag) and not keys.etag_matches(None, tag)
    assert not keys.etag_matches("*", tag)  # only the tile route knows whether the tile exists
    modified = 1_700_000_000.7
    assert keys.unmodified_since(formatdate(1_700_000_000, usegmt=True), modified)
    assert not keys.unmodified_since(formatdate(1_699_999_999, usegmt=True), modified)
    assert not keys.unmodified_since("not a date", modified)
    assert not keys.client_has({"if-none-match": '"other"', "if-modified-since": formatdate(usegmt=True)},
                                tag, modified)


def test_max_age_never_outlives_the_tile_token():
    token = TileToken(_Code("jtw"), None, "aerial", expires=1_000_600)
    assert keys.max_age(token, 3600, now=1_000_000) == 600
    assert keys.max_age(token, 60, now=1_000_000) == 60
    assert keys.max_age(token, 3600, now=2_000_000) == 0
    assert keys.max_age(object(), 3600, now=0) == 3600


def test_memory_bound_holds_counted_by_bytes():
    memory, limit, rng = stores.MemoryTileCache(), 50_000, random.Random(16)
    for i in range(400):
        entry = tile(b"x" * rng.randint(100, 9000))
        assert memory.put("d1" if i % 2 else "d2", f"k{i}", entry, limit)
        assert memory.bytes <= limit
        assert memory.bytes == sum(t.size for _, t in memory.entries.values())
        memory.get("k1")  # used again and again: never the least recently used
    assert "k1" in memory.entries and "k2" not in memory.entries and len(memory.entries) > 5
    assert not memory.put("d1", "huge", tile(b"x" * limit), limit) and memory.bytes <= limit
    memory.drop_dataset("d1")
    assert all(dataset == "d2" for dataset, _ in memory.entries.values())
    assert memory.bytes == sum(t.size for _, t in memory.entries.values())


def _write_many(root: str, seed: int, limit: int, results) -> None:
    disk, rng = stores.DiskTileCache(Path(root)), random.Random(seed)
    worst, kept = 0, 0
    for i in range(150):
        kept += disk.put(f"d{i % 3}", f"{seed:02d}{i:062d}", tile(b"x" * rng.randint(500, 6000)), limit)
        worst = max(worst, disk.usage())
    results.put((worst, kept))


def test_disk_bound_holds_with_several_writing_processes(tmp_path):
    limit = 120_000
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    writers = [context.Process(target=_write_many, args=(str(tmp_path), seed, limit, results)) for seed in (1, 2, 3)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
        assert writer.exitcode == 0
    disk = stores.DiskTileCache(tmp_path)
    reports = [results.get(timeout=5) for _ in writers]
    assert max(worst for worst, _ in reports) <= limit and all(kept == 150 for _, kept in reports)
    assert 0.5 * limit < disk.usage() == disk.counter() <= limit  # the count the writers keep is exact
    assert disk.get("d1", f"02{1:062d}") is None  # among the first written: trimmed long ago
    with sqlite3.connect(tmp_path / "tiles.sqlite") as db:
        dataset, key = db.execute("SELECT dataset, key FROM tiles ORDER BY used DESC LIMIT 1").fetchone()
    newest = disk.get(dataset, key)
    assert newest.headers == (("content-type", "image/png"),) and len(newest.body) >= 500


# over HTTP: validators, hits, and the access check before every answer


def test_tile_carries_a_strong_etag_last_modified_and_private_cache_control(client, aerial, api_key):
    response = client.get(f"{ROUTE}.png", headers=bearer(api_key[1]))
    assert response.status_code == 200 and response.headers["x-tile-cache"] == "miss"
    tag = response.headers["etag"]
    assert tag.startswith('"') and len(tag) == 34
    assert response.headers["cache-control"] == "private, max-age=3600"
    assert "Authorization" in response.headers["vary"] and response.headers["last-modified"].endswith(" GMT")
    assert client.get(f"{ROUTE}.jpeg", headers=bearer(api_key[1])).headers["etag"] != tag


def test_if_none_match_and_if_modified_since_get_304_without_drawing(client, aerial, api_key, opened):
    first = client.get(f"{ROUTE}.png", headers=bearer(api_key[1]))
    tile_cache.clear()  # the client's copy is current even when the server no longer keeps the tile
    again = client.get(f"{ROUTE}.png", headers={**bearer(api_key[1]), "If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    assert "private" in again.headers["cache-control"]
    since = client.get(f"{ROUTE}.png", headers={**bearer(api_key[1]),
                                                "If-Modified-Since": first.headers["last-modified"]})
    assert since.status_code == 304 and len(opened) == 1
    stale = client.get(f"{ROUTE}.png", headers={**bearer(api_key[1]), "If-None-Match": '"something-else"'})
    assert stale.status_code == 200 and stale.content == first.content


def test_a_kept_tile_is_byte_identical_and_opens_no_file(client, aerial, api_key, opened):
    token = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=1)
    drawn = client.get(f"{ROUTE}.png", params={"token": token})
    kept = client.get(f"{ROUTE}.png", params={"token": token, "v": "2"})  # a cache buster is not a new tile
    by_key = client.get(f"{ROUTE}.png", headers=bearer(api_key[1]))  # the credential is not part of the key
    assert drawn.status_code == kept.status_code == by_key.status_code == 200 and len(opened) == 1
    assert kept.headers["x-tile-cache"] == by_key.headers["x-tile-cache"] == "memory"
    assert kept.content == drawn.content == by_key.content and pixels(kept.content).shape == (4, 256, 256)
    assert kept.headers["etag"] == drawn.headers["etag"]
    assert kept.headers["content-type"] == "image/png" and kept.headers["content-bbox"] == drawn.headers["content-bbox"]
    tile_cache.clear()
    assert client.get(f"{ROUTE}.png", params={"token": token}).content == drawn.content  # what the renderer draws now


def test_xyz_urls_and_the_tile_route_share_one_entry(client, aerial, api_key, opened):
    xyz = client.get(f"/tiles/aerial/2024/14/{TILE.x}/{TILE.y}.jpg", headers=bearer(api_key[1]))
    route = client.get(f"{ROUTE}.jpeg", headers=bearer(api_key[1]))
    assert xyz.status_code == route.status_code == 200 and route.headers["x-tile-cache"] == "memory"
    assert xyz.content == route.content and len(opened) == 1


def test_refused_parameters_are_still_400_on_a_kept_tile(client, aerial, api_key):
    assert client.get(f"{ROUTE}.png", headers=bearer(api_key[1])).status_code == 200
    for query in ("expression=b1*2", "tilesize=8192", "bidx=9"):
        response = client.get(f"{ROUTE}.png?{query}", headers=bearer(api_key[1]))
        assert response.status_code == 400 and "x-tile-cache" not in response.headers, query


def test_revoked_forged_and_expired_credentials_on_a_kept_tile_are_401_never_304(client, aerial, api_key,
                                                                                 department):
    other = create_api_key(department, "to-revoke")
    first = client.get(f"{ROUTE}.png", headers=bearer(other[1]))
    assert first.status_code == 200
    revoke_api_key(other[0].prefix)
    tile_decisions.items.clear()  # the catalog reuses a tile decision for 2 s (GEOPLATFORM_TILE_DECISION_SECONDS)
    good = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=1)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    expired = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=-1)
    cases = [(bearer(other[1]), {}, "revoked"), ({}, {"token": forged}, "invalid tile token signature"),
             ({}, {"token": expired}, "tile token expired"), ({}, {}, "authentication required")]
    for headers, params, reason in cases:
        for conditional in ({}, {"If-None-Match": first.headers["etag"]}):
            response = client.get(f"{ROUTE}.png", headers={**headers, **conditional}, params=params)
            assert response.status_code == 401 and reason in response.json()["detail"], (reason, response.text)
            assert "Bearer" in response.headers["www-authenticate"] and "etag" not in response.headers
    assert client.get(f"{ROUTE}.png", params={"token": good}).headers["x-tile-cache"] == "memory"


def test_another_department_without_a_grant_gets_403_on_a_kept_tile(client, aerial, api_key, other_department):
    assert client.get(f"{ROUTE}.png", headers=bearer(api_key[1])).status_code == 200
    raw = create_api_key(other_department, "gis")[1]
    for conditional in ({}, {"If-None-Match": "*"}):
        response = client.get(f"{ROUTE}.png", headers={**bearer(raw), **conditional})
        assert response.status_code == 403 and "apply to" in response.json()["detail"]
    elsewhere = issue_tile_token("swj", "", "other-collection", hours=1)
    response = client.get(f"{ROUTE}.png", params={"token": elsewhere})
    assert response.status_code == 403 and "issued for other-collection" in response.json()["detail"]
    Grant.objects.create(department=other_department, entry=Entry.objects.get(slug="aerial"),
                         valid_to=timezone.now() + timedelta(days=30))
    tile_decisions.items.clear()
    granted = client.get(f"{ROUTE}.png", headers=bearer(raw))
    assert granted.status_code == 200 and granted.headers["x-tile-cache"] == "memory"


def test_kept_tiles_are_counted_per_department_key_and_day(client, aerial, api_key):
    token = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=1)
    etag = client.get(f"{ROUTE}.png", params={"token": token}).headers["etag"]
    for _ in range(3):
        client.get(f"{ROUTE}.png", params={"token": token})
    client.get(f"{ROUTE}.png", params={"token": token}, headers={"If-None-Match": etag})
    tile_counter.flush()
    usage = TileUsage.objects.get(entry="aerial", department="jtw", api_key=api_key[0].prefix)
    assert (usage.requests, usage.denied) == (5, 0)


def test_token_urls_are_cached_no_longer_than_the_token_lives(client, aerial, api_key):
    short = issue_tile_token("jtw", api_key[0].prefix, "aerial", hours=0.1)
    for _ in range(2):  # drawn, then kept
        response = client.get(f"{ROUTE}.png", params={"token": short})
        age = int(response.headers["cache-control"].rsplit("=", 1)[1])
        assert response.status_code == 200 and 300 <= age <= 360


def datasets_on_disk(disk: stores.DiskTileCache) -> set[str]:
    with sqlite3.connect(disk.root / "tiles.sqlite") as db:
        return {row[0] for row in db.execute("SELECT DISTINCT dataset FROM tiles")}


def test_replacing_the_year_serves_the_new_pixels(client, ingest, api_key, tmp_path, settings):
    settings.GEOPLATFORM_IMAGERY_TILE_CACHE_DIR = tmp_path / "tile-cache"
    ingest(2024)
    before = client.get(f"{ROUTE}.png", headers=bearer(api_key[1]))
    assert client.get(f"{ROUTE}.png", headers=bearer(api_key[1])).headers["x-tile-cache"] == "memory"
    old_entries = set(tile_cache.memory.entries)
    disk = stores.DiskTileCache(tmp_path / "tile-cache")
    old_version = tile_cache.current["aerial", 2024]
    assert datasets_on_disk(disk) == {old_version}
    ingest(2024, source=write_uniform(tmp_path / "green.tif", (20, 160, 40)), replace=True)
    after = client.get(f"{ROUTE}.png", headers={**bearer(api_key[1]), "If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["x-tile-cache"] == "miss"
    assert after.headers["etag"] != before.headers["etag"] and after.content != before.content
    data = pixels(after.content)
    inside = data[3] == 255
    assert inside.any() and abs(int(np.median(data[1][inside])) - 160) < 10
    assert not old_entries & set(tile_cache.memory.entries)  # the old year's tiles were dropped
    assert datasets_on_disk(disk) == {tile_cache.current["aerial", 2024]} != {old_version}


def test_memory_bound_holds_while_serving(client, aerial, api_key, settings):
    settings.GEOPLATFORM_IMAGERY_TILE_CACHE_MB = 0.02
    limit = int(0.02 * 2**20)
    kept = 0
    for z in (14, 15, 16):
        first, last = TMS.tile(BOUNDS[0], BOUNDS[3], z), TMS.tile(BOUNDS[2], BOUNDS[1], z)
        for x in range(first.x, last.x + 1):
            for y in range(first.y, last.y + 1):
                response = client.get(f"/tiles/aerial/2024/tiles/WebMercatorQuad/{z}/{x}/{y}.png",
                                      headers=bearer(api_key[1]))
                assert response.status_code == 200
                kept += len(response.content)
                assert 0 < tile_cache.memory.bytes <= limit
    assert kept > 2 * limit  # the bound was tested, not merely never reached


# the disk cache: shared by processes, surviving a restart


def serve(env: dict) -> tuple[subprocess.Popen, str]:
    """uvicorn tiles.app:app (the deployed tile service) on a free loopback port."""
    port = free_port()
    child = subprocess.Popen([sys.executable, "-m", "uvicorn", "tiles.app:app", "--host", "127.0.0.1", "--port",
                              str(port), "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            get(f"{base}/tiles/healthz")
            return child, base
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                child.terminate()
                raise RuntimeError(f"the tile service did not start (exit code {child.poll()})") from None
            time.sleep(0.2)


def test_disk_cache_survives_a_new_process(aerial, api_key, imagery_root, tmp_path):
    folder = tmp_path / "tile-cache"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "GEOPLATFORM_IMAGERY_DIR": str(imagery_root),
           "GEOPLATFORM_IMAGERY_TILE_CACHE_DIR": str(folder), "GEOPLATFORM_LOG_LEVEL": "WARNING"}
    results = []
    for _ in range(2):
        child, base = serve(env)
        try:
            _, _, body = get(f"{base}/tiles/aerial/2024/tilejson.json?token={api_key[1]}")
            url = urlsplit(json.loads(body)["tiles"][0].format(z=14, x=TILE.x, y=TILE.y))
            results.append(get(f"{base}{url.path}?{url.query}"))
            forged = get(f"{base}{url.path}?{url.query[:-4]}{'AAAA' if not url.query.endswith('AAAA') else 'BBBB'}")
            assert forged[0] == 401 and b"tile token" in forged[2]
        finally:
            child.terminate()
            child.wait(timeout=20)
    (first_status, first_headers, first_body), (second_status, second_headers, second_body) = results
    assert first_status == second_status == 200
    assert first_headers["x-tile-cache"] == "miss" and second_headers["x-tile-cache"] == "disk"
    assert second_body == first_body and second_headers["etag"] == first_headers["etag"]
    assert len(first_body) < stores.DiskTileCache(folder).usage() == stores.DiskTileCache(folder).counter() < 2 * len(first_body)
