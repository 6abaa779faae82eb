"""The imagery service's knobs, in one place: a Django setting when the project defines it, else an
environment variable, else a default (so an installation tunes them without editing code)."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def _setting(name: str, default, cast):
    if hasattr(settings, name):
        return cast(getattr(settings, name))
    raw = os.environ.get(name)
    return default if raw in (None, "") else cast(raw)


def imagery_dir() -> Path:
    """Where COGs live on local disk and are built before an upload (GEOPLATFORM_IMAGERY_DIR, default
    <data folder>/imagery); the registry stores local paths relative to it."""
    return Path(_setting("GEOPLATFORM_IMAGERY_DIR", settings.DATA_DIR / "imagery", Path))


def imagery_s3_bucket() -> str:
    """The S3-compatible bucket new COGs are uploaded to (GEOPLATFORM_IMAGERY_S3_BUCKET; empty: local disk).

    Endpoint and credentials are GDAL's AWS_* environment variables (see tiles.storage), never settings here.
    """
    return _setting("GEOPLATFORM_IMAGERY_S3_BUCKET", "", lambda value: str(value or "").strip())


def imagery_s3_prefix() -> str:
    """The key prefix of the COGs in that bucket (GEOPLATFORM_IMAGERY_S3_PREFIX, default ``imagery``)."""
    return _setting("GEOPLATFORM_IMAGERY_S3_PREFIX", "imagery", lambda value: str(value or "").strip("/ "))


def token_hours() -> float:
    """How long a tile token from TileJSON/WMTS capabilities stays valid (GEOPLATFORM_IMAGERY_TOKEN_HOURS, 12)."""
    return _setting("GEOPLATFORM_IMAGERY_TOKEN_HOURS", 12.0, float)


def registry_seconds() -> float:
    """How long a tile process trusts its in-memory copy of the registry (GEOPLATFORM_IMAGERY_REGISTRY_SECONDS, 30)."""
    return _setting("GEOPLATFORM_IMAGERY_REGISTRY_SECONDS", 30.0, float)


def tile_cache_mb() -> float:
    """Memory for hot rendered tiles, per tile process, in MB (GEOPLATFORM_IMAGERY_TILE_CACHE_MB, 64; 0: none)."""
    return _setting("GEOPLATFORM_IMAGERY_TILE_CACHE_MB", 64.0, float)


def tile_cache_dir() -> Path | None:
    """A folder the tile processes of one machine share for rendered tiles (GEOPLATFORM_IMAGERY_TILE_CACHE_DIR;
    unset or empty: no disk cache)."""
    raw = _setting("GEOPLATFORM_IMAGERY_TILE_CACHE_DIR", "", lambda value: "" if value is None else str(value))
    return Path(raw) if raw else None


def tile_cache_disk_mb() -> float:
    """The bound of that folder in MB (GEOPLATFORM_IMAGERY_TILE_CACHE_DISK_MB, 1024)."""
    return _setting("GEOPLATFORM_IMAGERY_TILE_CACHE_DISK_MB", 1024.0, float)


def tile_max_age() -> int:
    """How long a client may reuse a tile without asking again, in seconds (GEOPLATFORM_IMAGERY_TILE_MAX_AGE, 3600);
    never longer than the tile token it was fetched with stays valid."""
    return _setting("GEOPLATFORM_IMAGERY_TILE_MAX_AGE", 3600, int)


def platform_extent() -> tuple[float, float, float, float]:
    """Where imagery may lie (west, south, east, north): the platform's one extent, shared with the layers."""
    from geoplatform.layers.conf import platform_extent as layers_extent

    return layers_extent()
