"""Imagery tiles: our tile service (with its tile cache) vs stock titiler.core, serving the same COG, side by side.

- The COG: a synthetic 8000x8000 RGB image (about 1.1 m pixels over part of the demo city, CGCS2000
  lon/lat) ingested with ``geoplatform imagery ingest`` (JPEG/YCbCr COG, validated), in a scratch
  database ``gp_imagery_bench`` of the local cluster (or DATABASE_URL) and .data/bench-imagery/.
- Ours: ``tiles.app:app`` (the deployed tile service), tile URLs from its TileJSON, so every tile
  request carries a signed tile token that is verified and counted (no database round trip); its tile
  cache in memory and in a disk folder the processes share (.data/bench-imagery/tile-cache).
- Stock: titiler.core's TilerFactory with its default ``?url=`` path dependency, same file, same format.
- Both: N uvicorn processes on SO_REUSEPORT sockets with TCP_NODELAY, on 127.0.0.1 only, started afresh for
  every round (empty tile cache, empty GDAL block cache) and warmed on tiles outside the measured list; the
  same fixed list of distinct tiles at z14-z17 inside the image; an asyncio keep-alive client with C
  connections; every load bounded in requests and seconds.
- A round per server: **cold** (each tile of the list requested once: ours draws and keeps every one),
  one unmeasured pass, then **warm** (the list again, several passes: ours answers from its cache, stock
  draws again with GDAL's block cache warm). Rounds alternate (A B, B A, ...) and medians are compared.

The machine is shared: the script refuses to run while the 1-minute load is >= 1.5 (``--force`` to override).

    python bench/imagery_tiles.py [--processes 2] [--connections 8] [--tiles 1000] [--warm-passes 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import morecantile
import numpy as np
import psycopg
import rasterio
from rasterio.transform import from_bounds
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DBNAME = "gp_imagery_bench"
SLUG, YEAR = "bench-aerial", 2024
BOUNDS = (116.30, 39.88, 116.40, 39.96)

SERVE = """
import socket, sys, uvicorn
sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen(2048)
if sys.argv[2] == "stock":
    from fastapi import FastAPI
    from titiler.core.errors import DEFAULT_STATUS_CODES, add_exception_handlers
    from titiler.core.factory import TilerFactory
    app = FastAPI()
    app.include_router(TilerFactory().router)
    add_exception_handlers(app, DEFAULT_STATUS_CODES)
elif sys.argv[2] == "bare":  # ours without its tile cache: what the cache costs a tile it draws
    from tiles.app import app
    from tiles.cache import TileCacheMiddleware
    app.user_middleware = [m for m in app.user_middleware if m.cls is not TileCacheMiddleware]
else:
    app = sys.argv[2]
uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])
"""


def database_url() -> str:
    """DATABASE_URL, else a scratch database of the local cluster (created from template1, which has PostGIS)."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    base = subprocess.run(["geoplatform", "db", "url"], check=True, capture_output=True, text=True).stdout.strip()
    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DBNAME]).fetchone():
            conn.execute(f'CREATE DATABASE "{DBNAME}" TEMPLATE template1')
    return base.rsplit("/", 1)[0] + "/" + DBNAME  # the local cluster's URL names no parameters after the database


def write_source(path: Path, size: int) -> None:
    """A plain RGB GeoTIFF with structure at every zoom (blocks, streets, texture), written in strips."""
    rng = np.random.default_rng(2026)
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8", "crs": "EPSG:4490",
               "transform": from_bounds(*BOUNDS, size, size), "tiled": True, "compress": "deflate"}
    cols = np.arange(size)
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, size, 512):
            rows = np.arange(top, min(top + 512, size))[:, None]
            blocks = ((rows // 160 + cols // 160) % 5) * 25
            streets = ((rows % 160 < 6) | (cols % 160 < 6)) * 90
            noise = rng.integers(0, 40, (len(rows), size))
            band = np.clip(80 + blocks + streets + noise, 0, 255).astype("uint8")
            dst.write(np.stack([band, (band * 0.9).astype("uint8"), (band * 0.8).astype("uint8")]),
                      window=Window(0, top, size, len(rows)))


def prepare(env: dict, size: int, work: Path) -> tuple[str, Path]:
    """Migrate, make the bench department and collection when missing; an API key and the COG path."""
    def gp(*args: str) -> str:
        done = subprocess.run(["geoplatform", *args], capture_output=True, text=True, env=env)
        if done.returncode:
            raise SystemExit(f"geoplatform {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    gp("migrate")
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM catalog_department WHERE code = 'bench'").fetchone():
            gp("department", "add", "bench", "基准测试")
        row = conn.execute("SELECT d.path, d.width FROM tiles_imagerydataset d JOIN catalog_entry e ON e.id = d.entry_id "
                           "WHERE e.slug = %s AND d.year = %s", [SLUG, YEAR]).fetchone()
    if row is None or row[1] != size:
        source = work / f"source-{size}.tif"
        if not source.exists():
            write_source(source, size)
        gp("imagery", "ingest", "--owner", "bench", "--collection", SLUG, "--year", str(YEAR), "--replace",
           "--no-progress", str(source))
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            row = conn.execute("SELECT d.path, d.width FROM tiles_imagerydataset d JOIN catalog_entry e "
                               "ON e.id = d.entry_id WHERE e.slug = %s AND d.year = %s", [SLUG, YEAR]).fetchone()
    key = gp("apikey", "create", "bench", "--name", "bench-imagery").strip().splitlines()[-1]
    return key, Path(env["GEOPLATFORM_IMAGERY_DIR"]) / row[0]


def start(app: str, port: int, processes: int, env: dict) -> list[subprocess.Popen]:
    children = [subprocess.Popen([sys.executable, "-c", SERVE, str(port), app], cwd=ROOT, env=env)
                for _ in range(processes)]
    deadline = time.monotonic() + 120
    probe = "/openapi.json" if app == "stock" else "/tiles/healthz"
    while True:
        try:
            urllib.request.urlopen(f"http://{HOST}:{port}{probe}", timeout=2).read()
            return children
        except OSError:
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                stop(children)
                raise SystemExit(f"{app} did not start on port {port}") from None
            time.sleep(0.3)


def stop(children: list[subprocess.Popen]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        child.wait(timeout=30)


def tile_list(count: int, seed: int = 2026, zooms: tuple[int, ...] = (14, 15, 16, 17)) -> list[tuple[int, int, int]]:
    """A fixed list of distinct tiles inside the image, spread over ``zooms`` (``count`` draws, repeats dropped)."""
    tms, rng = morecantile.tms.get("WebMercatorQuad"), random.Random(seed)
    tiles = []
    for i in range(count):
        z = zooms[i % len(zooms)]
        lon, lat = rng.uniform(BOUNDS[0], BOUNDS[2]), rng.uniform(BOUNDS[1], BOUNDS[3])
        tile = tms.tile(lon, lat, z)
        tiles.append((z, tile.x, tile.y))
    return list(dict.fromkeys(tiles))


async def _connection(port: int, paths: list[str], cursor: list[int], limit: int, deadline: float,
                      results: dict) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        while cursor[0] < limit and time.monotonic() < deadline:
            path = paths[cursor[0] % len(paths)]
            cursor[0] += 1
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            await reader.readexactly(length)
            results[status] = results.get(status, 0) + 1
    finally:
        writer.close()


def load(port: int, paths: list[str], connections: int, limit: int, seconds: float) -> tuple[float, dict, float]:
    """(tiles/s counting 200s only, status counts, share of one core the client used) for up to ``limit``
    requests or ``seconds``."""
    results: dict[int, int] = {}
    cursor = [0]

    async def run() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_connection(port, paths, cursor, limit, deadline, results) for _ in range(connections)))

    started, cpu = time.monotonic(), time.process_time()
    asyncio.run(run())
    wall = time.monotonic() - started
    return results.get(200, 0) / wall, results, (time.process_time() - cpu) / wall


def tile_paths(name: str, port: int, key: str, cog: Path, tiles: list[tuple[int, int, int]]) -> list[str]:
    """The URLs of ``tiles``: ours from its TileJSON (a tile token in each), stock's with ``?url=``."""
    if name == "stock":
        return [f"/tiles/WebMercatorQuad/{z}/{x}/{y}.jpeg?url={cog}" for z, x, y in tiles]
    with urllib.request.urlopen(f"http://{HOST}:{port}/tiles/{SLUG}/{YEAR}/tilejson.json?token={key}") as r:
        template = json.load(r)["tiles"][0].split(f":{port}", 1)[1]
    return [template.format(z=z, x=x, y=y) for z, x, y in tiles]


def one_round(name: str, port: int, args, env: dict, key: str, cog: Path, tiles: list, warmup: list,
              cache_dir: Path) -> dict[str, float]:
    """Fresh servers; warm-up off the list; cold (each tile once), one unmeasured pass, warm; tiles/s of each."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    servers = start({"ours": "tiles.app:app"}.get(name, name), port, args.processes, env)
    try:
        load(port, tile_paths(name, port, key, cog, warmup), args.connections, len(warmup), args.seconds)
        paths = tile_paths(name, port, key, cog, tiles)
        figures = {}
        for phase, requests in (("cold", len(paths)), ("prime", len(paths)),
                                ("warm", len(paths) * (args.warm_passes if name == "ours" else 1))):
            rate, statuses, client = load(port, paths, args.connections, requests, args.seconds)
            if set(statuses) != {200}:
                raise SystemExit(f"{name} {phase}: statuses {statuses}")
            if phase != "prime":
                figures[phase] = rate
                print(f"  {name:<5} {phase}: {rate:8.1f} tiles/s  ({sum(statuses.values())} requests, client "
                      f"{client:.0%} of a core, load {os.getloadavg()[0]:.2f})", flush=True)
        return figures
    finally:
        stop(servers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--tiles", type=int, default=1000, help="tiles drawn for the list (repeats dropped)")
    parser.add_argument("--warm-passes", type=int, default=20,
                        help="times ours is asked for the list in its warm round (stock: once; rates are per second)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds per server, alternating A B / B A")
    parser.add_argument("--seconds", type=float, default=60.0, help="bound of one load")
    parser.add_argument("--size", type=int, default=8000, help="width and height of the COG")
    parser.add_argument("--force", action="store_true", help="run even when the machine is busy")
    parser.add_argument("--without-cache", action="store_true",
                        help="also run ours with its tile cache removed ('bare'), in the same rotation")
    args = parser.parse_args()
    load1 = os.getloadavg()[0]
    if load1 >= 1.5 and not args.force:
        raise SystemExit(f"1-minute load is {load1:.2f} (>= 1.5): the machine is busy, not benchmarking")
    work = ROOT / ".data" / "bench-imagery"
    work.mkdir(parents=True, exist_ok=True)
    cache_dir = work / "tile-cache"
    env = {**os.environ, "DATABASE_URL": database_url(), "GEOPLATFORM_IMAGERY_DIR": str(work / "imagery"),
           "GEOPLATFORM_LOG_LEVEL": "WARNING", "GEOPLATFORM_IMAGERY_TILE_CACHE_DIR": str(cache_dir)}
    key, cog = prepare(env, args.size, work)
    tiles = tile_list(args.tiles)
    warmup = tile_list(40, seed=7, zooms=(12, 13))  # imports, GDAL's first open, the registry copy: off the list
    names = ["ours", "stock"] + (["bare"] if args.without_cache else [])
    ports = {name: base + os.getpid() % 100 for name, base in zip(names, (18600, 18900, 18700), strict=False)}
    rates: dict[tuple[str, str], list[float]] = {}
    for run in range(args.repeat):
        print(f"run {run + 1}", flush=True)
        for name in names if run % 2 == 0 else names[::-1]:
            for phase, rate in one_round(name, ports[name], args, env, key, cog, tiles, warmup, cache_dir).items():
                rates.setdefault((name, phase), []).append(rate)
    median = {k: statistics.median(v) for k, v in rates.items()}

    def cell(name: str, phase: str) -> str:
        return f"{median[name, phase]:.1f} ({', '.join(f'{r:.1f}' for r in rates[name, phase])})"

    print(f"\n{args.size}² JPEG COG, {len(tiles)} distinct tiles z14-17, {args.processes} processes each, "
          f"{args.connections} connections, medians of {args.repeat} (runs)")
    print("| round | ours (tiles/s) | stock titiler.core (tiles/s) | ratio ours/stock |\n|---|---:|---:|---:|")
    for phase in ("cold", "warm"):
        pairs = [o / s for o, s in zip(rates["ours", phase], rates["stock", phase], strict=True)]
        print(f"| {phase} | {cell('ours', phase)} | {cell('stock', phase)} | "
              f"{median['ours', phase] / median['stock', phase]:.2f} (per run: {statistics.median(pairs):.2f}, "
              f"{min(pairs):.2f}-{max(pairs):.2f}) |")
    if args.without_cache:
        print(f"ours without its cache, cold: {cell('bare', 'cold')} tiles/s")
    shutil.rmtree(cache_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
