"""The layers service's knobs, in one place: Django settings when the project sets them, else environment
variables, else defaults (so an installation changes them without editing code)."""

from __future__ import annotations

import os

from django.conf import settings

# A generous box around China (west, south, east, north), in degrees of CGCS2000.
DEFAULT_EXTENT = (70.0, 0.0, 140.0, 56.0)


def _setting(name: str, env: str, default, cast):
    if hasattr(settings, name):
        return getattr(settings, name)
    raw = os.environ.get(env)
    return default if raw in (None, "") else cast(raw)


def platform_extent() -> tuple[float, float, float, float]:
    """Where the platform's data may lie; anything outside is rejected at import (GEOPLATFORM_LAYERS_EXTENT)."""
    return tuple(_setting("LAYERS_EXTENT", "GEOPLATFORM_LAYERS_EXTENT", DEFAULT_EXTENT,
                          lambda s: tuple(float(v) for v in s.split(","))))


def max_upload_bytes() -> int:
    """Largest accepted upload (GEOPLATFORM_LAYERS_MAX_UPLOAD_MB, default 2048 MB)."""
    return int(_setting("LAYERS_MAX_UPLOAD_BYTES", "GEOPLATFORM_LAYERS_MAX_UPLOAD_MB", 2048 * 2**20,
                        lambda s: int(float(s) * 2**20)))


def max_unzipped_bytes() -> int:
    """Largest total a zip may expand to (GEOPLATFORM_LAYERS_MAX_UNZIPPED_MB, default 8192 MB)."""
    return int(_setting("LAYERS_MAX_UNZIPPED_BYTES", "GEOPLATFORM_LAYERS_MAX_UNZIPPED_MB", 8192 * 2**20,
                        lambda s: int(float(s) * 2**20)))


def read_processes(geometry_type: str | None = None) -> int:
    """Processes encoding a large upload (GEOPLATFORM_LAYERS_READ_PROCESSES). Default: 1 for 2-D points, whose
    encoding costs less than PostgreSQL's COPY of them (handing batches to other processes would only add
    copying), else the cores, at most 2 (shapely's checks and repairs of lines and polygons then run in parallel).
    A whole-file update asks with no type: it hashes every row but encodes few, so it always spreads the work."""
    configured = _setting("LAYERS_READ_PROCESSES", "GEOPLATFORM_LAYERS_READ_PROCESSES", None, int)
    if configured is not None:
        return max(1, int(configured))
    return 1 if geometry_type == "Point" else min(2, os.cpu_count() or 1)


MAX_ZIP_RATIO = 200  # a zip member expanding more than this is treated as a zip bomb
TILE_CACHE_BYTES = int(float(os.environ.get("GEOPLATFORM_LAYERS_TILE_CACHE_MB", "256")) * 2**20)  # per process
TILE_MAX_FEATURES = int(os.environ.get("GEOPLATFORM_LAYERS_TILE_MAX_FEATURES", "20000"))
# point tiles expected to hold at least this many features are encoded from Arrow rows (serving.mvt), not ST_AsMVT
ARROW_TILE_MIN_FEATURES = float(os.environ.get("GEOPLATFORM_LAYERS_ARROW_TILE_MIN_FEATURES", "2000"))
ITEMS_MAX_LIMIT = 10_000
ITEMS_DEFAULT_LIMIT = 100
