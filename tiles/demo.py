"""A small generated aerial imagery collection over the demo city 示范市, for two years (no external data).

Deterministic synthetic RGB: farmland outside the city boundary, a built-up area that grows
from one year to the next, green parks, and the demo roads drawn in grey. Ingested through the
same pipeline owners use (tiles.ingest), so the demo exercises COG writing and validation.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.features import rasterize
from rasterio.transform import from_bounds
from shapely.geometry import shape

from catalog.models import Department, Entry
from geoplatform.demo import city
from tiles.ingest import IngestRequest, ingest_imagery
from tiles.models import ImageryDataset

DEMO_SLUG = "aerial-imagery"
DEMO_TITLE = "示范市航空影像"
DEMO_OWNER = "ghzrzyw"
DEMO_YEARS = (2024, 2025)
MARGIN = 0.01  # degrees around the city boundary


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Blocky noise blown up to pixels and blurred a little: fields and blocks, not television snow."""
    coarse = rng.random((height // cell + 2, width // cell + 2))
    big = np.kron(coarse, np.ones((cell, cell)))[:height, :width]
    return (big + np.roll(big, cell // 2, 0) + np.roll(big, cell // 2, 1)) / 3


def synthetic_city_rgb(year: int, width: int = 1600) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """(3 x H x W uint8 array, lon/lat bounds) of the demo city as seen from the air in ``year``."""
    west, south, east, north = city.CITY.bounds
    west, south, east, north = west - MARGIN, south - MARGIN, east + MARGIN, north + MARGIN
    height = round(width * (north - south) / (east - west))
    transform = from_bounds(west, south, east, north, width, height)
    rng = np.random.default_rng(year)
    inside = rasterize([city.CITY], out_shape=(height, width), transform=transform).astype(bool)
    cx, cy = city.CITY.centroid.x, city.CITY.centroid.y
    lon = west + (np.arange(width) + 0.5) * (east - west) / width
    lat = north - (np.arange(height) + 0.5) * (north - south) / height
    distance = np.hypot(lon[None, :] - cx, (lat[:, None] - cy) * 1.3)
    built_radius = 0.12 + 0.02 * (year - DEMO_YEARS[0])
    fields, blocks = _smooth_noise(rng, height, width, 24), _smooth_noise(rng, height, width, 6)
    built = inside & (distance + 0.05 * fields < built_radius)
    park = inside & ~built & (fields > 0.62)
    rgb = np.empty((3, height, width), dtype=np.float32)
    rgb[0], rgb[1], rgb[2] = 95 + 60 * fields, 120 + 50 * fields, 60 + 20 * fields  # farmland
    for band, (base, spread) in enumerate(((150, 70), (145, 60), (140, 55))):
        rgb[band][built] = (base + spread * (blocks[built] - 0.5))
    for band, value in enumerate((55, 105, 50)):
        rgb[band][park] = value + 25 * blocks[park]
    roads = [shape(f["geometry"]).buffer(0.0006) for f in city.roads()["features"]]
    on_road = rasterize(roads, out_shape=(height, width), transform=transform).astype(bool)
    rgb[:, on_road] = 175
    return np.clip(rgb, 0, 255).astype(np.uint8), (west, south, east, north)


def write_demo_geotiff(path: Path, year: int, width: int = 1600) -> Path:
    """A plain (not cloud-optimised) RGB GeoTIFF in CGCS2000 lon/lat, as an owner would bring it."""
    data, bounds = synthetic_city_rgb(year, width)
    profile = {"driver": "GTiff", "width": data.shape[2], "height": data.shape[1], "count": 3, "dtype": "uint8",
               "crs": "EPSG:4490", "transform": from_bounds(*bounds, data.shape[2], data.shape[1]),
               "photometric": "RGB"}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def load_demo_imagery(say: Callable[[str], None] = print, years: Sequence[int] = DEMO_YEARS) -> list[ImageryDataset]:
    """Ingest the demo collection's missing years (idempotent); shared unconditionally so every department sees it."""
    owner = Department.objects.get(code=DEMO_OWNER)
    present = set(ImageryDataset.objects.filter(entry__slug=DEMO_SLUG).values_list("year", flat=True))
    loaded = []
    with tempfile.TemporaryDirectory(prefix="gp-demo-imagery-") as tmp:
        for year in years:
            if year in present:
                continue
            source = write_demo_geotiff(Path(tmp) / f"aerial-{year}.tif", year)
            loaded.append(ingest_imagery(IngestRequest(owner=owner, collection=DEMO_SLUG, year=year, source=source,
                                                       title=DEMO_TITLE, sharing=Entry.Sharing.OPEN)))
            say(f"ingested demo imagery {DEMO_SLUG}/{year}")
    return loaded
