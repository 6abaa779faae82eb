"""Small real files for the layers tests, written with pyogrio (GDAL) in each test's folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely

from geoplatform.layers.publish import PublishRequest, publish_version

POINTS = [(116.30, 39.90), (116.40, 39.95), (116.50, 40.00)]


def write_points(path: Path, driver: str = "GPKG", crs: str | None = "EPSG:4490", points=POINTS,
                 names=("甲公司", "乙公司", "丙公司"), codes=("A1", "A2", "A3"), **options) -> Path:
    geometry = shapely.to_wkb(shapely.points(np.array(points)))
    fields = [np.array(codes, dtype=object), np.array(names, dtype=object),
              np.array(["110101199001011234", "110101199001015678", None], dtype=object),
              np.array([10, 20, 30], dtype=np.int32)]
    pyogrio.raw.write(str(path), geometry, fields, ["code", "name", "id_number", "staff"], driver=driver,
                      geometry_type="Point", crs=crs, **options)
    return path


@pytest.fixture(autouse=True)
def _forget_tile_state():
    """Tile decisions, tile counts and cached tiles live in process memory: none may leak into the next test."""
    yield
    from catalog.access import tile_decisions
    from catalog.audit import tile_counter
    from geoplatform.layers.serving.tiles import CACHE, close_arrow_connections

    close_arrow_connections()  # the test database is dropped at the end: no connection may stay open on it
    tile_decisions.items.clear()
    with tile_counter.lock:
        tile_counter.pending.clear()
    with CACHE.lock:
        CACHE.items.clear()
        CACHE.size = 0


def geojson(path: Path, features: list[dict]) -> Path:
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False))
    return path


@pytest.fixture
def publish(department):
    """publish(path, **request fields) -> LayerVersion, as the owner ``department``."""

    def run(path: Path, slug: str = "companies", **kw):
        kw.setdefault("owner", department)
        return publish_version(path, PublishRequest(slug=slug, **kw))

    return run


@pytest.fixture
def published(publish, tmp_path):
    """Version 1 of "companies" (3 points, key "code"), published by ``department``."""
    return publish(write_points(tmp_path / "v1.gpkg"), key="code", title="企业")
