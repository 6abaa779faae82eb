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
    """Where COGs live (GEOPLATFORM_IMAGERY_DIR, default <data folder>/imagery); the registry stores paths relative to it."""
    return Path(_setting("GEOPLATFORM_IMAGERY_DIR", settings.DATA_DIR / "imagery", Path))


def token_hours() -> float:
    """How long a tile token from TileJSON/WMTS capabilities stays valid (GEOPLATFORM_IMAGERY_TOKEN_HOURS, 12)."""
    return _setting("GEOPLATFORM_IMAGERY_TOKEN_HOURS", 12.0, float)


def registry_seconds() -> float:
    """How long a tile process trusts its in-memory copy of the registry (GEOPLATFORM_IMAGERY_REGISTRY_SECONDS, 30)."""
    return _setting("GEOPLATFORM_IMAGERY_REGISTRY_SECONDS", 30.0, float)


def platform_extent() -> tuple[float, float, float, float]:
    """Where imagery may lie (west, south, east, north): the platform's one extent, shared with the layers."""
    from geoplatform.layers.conf import platform_extent as layers_extent

    return layers_extent()
