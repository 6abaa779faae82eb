"""What the CGCS2000 grid costs: tiles in ``c`` reprojected from the Web-Mercator-aligned COG, against tiles
read from a second COG aligned to ``c`` itself, beside Web Mercator tiles from the aligned COG (no warp).

    .venv/bin/python bench/imagery_grids.py [--source demo.tif] [--rounds 3] [--tiles 200]

Reads tiles in process with rio-tiler (the reader titiler calls), the same tiles every round, rounds
alternating A B C, and prints ms of CPU per tile (median of rounds) and the ratio to Web Mercator. Without
--source it makes a 4096² RGB test image of the demo city centre (CGCS2000 lon/lat), ingests it both ways
into a temporary folder, and times those.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_bounds
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles
from rio_tiler.io import Reader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")

BOUNDS = (116.30, 39.85, 116.50, 40.00)


def make_source(path: Path, size: int = 4096) -> Path:
    rng = np.random.default_rng(7)
    base = np.linspace(30, 220, size, dtype=np.float32)
    data = np.stack([np.add.outer(base, base[::-1]) / 2 + rng.normal(0, 12, (size, size)) for _ in range(3)])
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 3, "dtype": "uint8", "crs": "EPSG:4490",
               "transform": from_bounds(*BOUNDS, size, size), "tiled": True, "compress": "deflate"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.clip(data, 0, 255).astype("uint8"))
    return path


def make_cog(source: Path, target: Path, tms) -> Path:
    profile = cog_profiles.get("jpeg")
    cog_translate(str(source), str(target), profile, tms=tms, quiet=True,
                  config={"GDAL_NUM_THREADS": "ALL_CPUS"})
    return target


def tiles_of(tms, bounds, zooms, limit: int) -> list:
    out = []
    for z in zooms:
        out.extend(tms.tiles(*bounds, zooms=[z]))
    step = max(1, len(out) // limit)
    return out[::step][:limit]


def time_tiles(cog: Path, tms, tiles) -> float:
    """CPU ms per tile (process time), tiles read and encoded as JPEG like a tile request."""
    with Reader(str(cog), tms=tms) as reader:
        start = time.process_time()
        for tile in tiles:
            reader.tile(tile.x, tile.y, tile.z, tilesize=256).render(img_format="JPEG")
        return (time.process_time() - start) * 1000 / len(tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, help="a GeoTIFF (default: a generated 4096² image of the centre)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tiles", type=int, default=200, help="tiles per grid and round")
    args = parser.parse_args()

    from tiles import grids

    web, c = grids.GRIDS[grids.WEB_MERCATOR], grids.GRIDS[grids.CGCS2000]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = args.source or make_source(folder / "source.tif")
        with rasterio.open(source) as src:
            bounds = rasterio.warp.transform_bounds(src.crs, "EPSG:4490", *src.bounds)
        web_cog = make_cog(source, folder / "web.tif", web)
        c_cog = make_cog(source, folder / "c.tif", c)
        with Reader(str(web_cog), tms=web) as reader:
            maxzoom = reader.maxzoom
        zooms = range(max(maxzoom - 3, 1), maxzoom + 1)
        cases = {"WebMercatorQuad from the 3857-aligned COG": (web_cog, web, tiles_of(web, bounds, zooms, args.tiles)),
                 "c reprojected from the 3857-aligned COG": (web_cog, c, tiles_of(c, bounds, zooms, args.tiles)),
                 "c from a c-aligned second COG": (c_cog, c, tiles_of(c, bounds, zooms, args.tiles))}
        results: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.rounds):
            for name, (cog, tms, tiles) in cases.items():
                results[name].append(time_tiles(cog, tms, tiles))
        sizes = {"3857-aligned COG": web_cog.stat().st_size, "c-aligned COG": c_cog.stat().st_size}
    base = statistics.median(results["WebMercatorQuad from the 3857-aligned COG"])
    print(f"zooms {zooms.start}-{zooms.stop - 1}, {args.tiles} tiles per grid, {args.rounds} rounds (median)")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"{name:45s} {median:6.2f} ms CPU/tile   x{median / base:4.2f}   rounds {', '.join(f'{v:.2f}' for v in values)}")
    for name, size in sizes.items():
        print(f"{name:45s} {size / 1e6:6.1f} MB")


if __name__ == "__main__":
    import django

    django.setup()
    main()
