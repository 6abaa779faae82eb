"""Small real rasters for the imagery tests (written with rasterio in each test's folder), and clean tile state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds

BOUNDS = (116.30, 39.90, 116.32, 39.92)  # inside the demo city, CGCS2000 lon/lat


def write_geotiff(path: Path, *, count: int = 3, dtype: str = "uint8", crs: str | None = "EPSG:4490",
                  bounds: tuple[float, float, float, float] = BOUNDS, size: int = 256, driver: str = "GTiff",
                  photometric: str | None = None) -> Path:
    """A smooth gradient (so JPEG compresses it cleanly) with a bright square in the middle.

    GDAL reads a fourth 8-bit band as alpha unless ``photometric="MINISBLACK"`` (e.g. red, green, blue, near-infrared).
    """
    ramp = np.linspace(0, 200, size, dtype=np.float32)
    bands = [np.add.outer(ramp * (i + 1) / count, ramp / 2) for i in range(count)]
    data = np.clip(np.stack(bands), 0, 250).astype(dtype)
    data[:, size // 4: 3 * size // 4, size // 4: 3 * size // 4] = 240
    profile = {"driver": driver, "width": size, "height": size, "count": count, "dtype": dtype,
               "transform": from_bounds(*bounds, size, size)}
    if crs is not None:
        profile["crs"] = crs
    if photometric is not None:
        profile["photometric"] = photometric
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


@pytest.fixture
def imagery_root(settings, tmp_path) -> Path:
    """The imagery folder of this test (GEOPLATFORM_IMAGERY_DIR), empty."""
    root = tmp_path / "imagery"
    settings.GEOPLATFORM_IMAGERY_DIR = root
    return root


@pytest.fixture(autouse=True)
def _forget_tile_state():
    """The registry copy, tile decisions and tile counts live in process memory: none may leak into the next test."""
    from catalog.access import tile_decisions
    from catalog.audit import tile_counter
    from tiles.cache import tile_cache
    from tiles.registry import registry

    registry.clear()
    tile_cache.clear()
    yield
    registry.clear()
    tile_cache.clear()
    tile_decisions.items.clear()
    with tile_counter.lock:
        tile_counter.pending.clear()


@pytest.fixture
def ingest(department, imagery_root, tmp_path):
    """ingest(year=2024, slug="aerial", owner=department, **request fields) -> ImageryDataset from a fresh GeoTIFF."""
    from tiles.ingest import IngestRequest, ingest_imagery

    def run(year: int = 2024, slug: str = "aerial", owner=None, source: Path | None = None, **kw):
        source = source or write_geotiff(tmp_path / f"src-{slug}-{year}.tif")
        return ingest_imagery(IngestRequest(owner=owner or department, collection=slug, year=year, source=source,
                                            **kw))

    return run


@pytest.fixture
def client():
    """The tile service in process (FastAPI's TestClient; it answers from other threads than the test's)."""
    from fastapi.testclient import TestClient

    from tiles.app import app

    with TestClient(app) as tiles:
        yield tiles


@pytest.fixture
def aerial(ingest):
    """Collection "aerial" of ``department`` (the jtw fixture), year 2024, three 8-bit bands, shared on application."""
    return ingest(2024)


def bearer(raw: str) -> dict:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The files the tile route opens (a kept tile, a refused or unregistered request opens none)."""
    from tiles.app import tiler

    files: list[str] = []

    class RecordingReader(tiler.reader):
        def __init__(self, input, *args, **kwargs):
            files.append(input)
            super().__init__(input, *args, **kwargs)

    monkeypatch.setattr(tiler, "reader", RecordingReader)
    return files
