"""The tile service's view of the registry: (collection slug, year) -> COG file, kept in process memory.

Tiles are requested by the hundred per map screen; asking the database for each would cost more
than drawing it. The whole registry (one row per collection-year, a few hundred at most) is
reloaded when it is older than GEOPLATFORM_IMAGERY_REGISTRY_SECONDS, when a name is not in it
(at most once a second, so a flood of unknown names cannot flood the database), or when a
file it names is gone (a year was replaced). Paths come only from here, never from a request.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

from tiles import conf

MISS_RELOAD_SECONDS = 1.0


@dataclass(frozen=True)
class RegisteredDataset:
    """One year of a collection, as the tile endpoints need it (no database object)."""

    slug: str
    year: int
    title: str
    path: Path
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    tile_format: str


@contextlib.contextmanager
def database_session() -> Iterator[None]:
    """Use the thread's Django connection, then close it.

    FastAPI runs synchronous code in a pool of threads that Django's request signals never see;
    without this each pool thread would keep a PostgreSQL connection open for ever.
    """
    try:
        yield
    finally:
        connection.close()


def load_datasets() -> dict[tuple[str, int], RegisteredDataset]:
    from tiles.models import ImageryDataset

    root = conf.imagery_dir()
    return {(d.entry.slug, d.year): RegisteredDataset(d.entry.slug, d.year, d.entry.title_zh, d.file(root),
                                                      d.bounds, d.minzoom, d.maxzoom, d.tile_format)
            for d in ImageryDataset.objects.select_related("entry")}


class Registry:
    """The in-memory copy; thread-safe, one per process."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int], RegisteredDataset] = {}
        self.loaded_at = float("-inf")
        self.lock = threading.Lock()

    def clear(self) -> None:
        with self.lock:
            self.items, self.loaded_at = {}, float("-inf")

    def reload(self) -> None:
        with database_session():
            items = load_datasets()
        with self.lock:
            self.items, self.loaded_at = items, time.monotonic()

    def lookup(self, slug: str, year: int) -> RegisteredDataset | None:
        """The dataset registered for ``slug`` and ``year`` whose file exists, else None."""
        age = time.monotonic() - self.loaded_at
        hit = self.items.get((slug, year))
        if hit is not None and age < conf.registry_seconds() and hit.path.is_file():
            return hit
        if hit is None and age < MISS_RELOAD_SECONDS:
            return None
        self.reload()
        hit = self.items.get((slug, year))
        return hit if hit is not None and hit.path.is_file() else None


registry = Registry()
