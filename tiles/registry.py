"""The tile service's view of the registry: (collection slug, year) -> COG file, kept in process memory.

Tiles are requested by the hundred per map screen; asking the database for each would cost more
than drawing it. The whole registry (one row per collection-year, a few hundred at most) is
reloaded when it is older than GEOPLATFORM_IMAGERY_REGISTRY_SECONDS, when a name is not in it
(at most once a second, so a flood of unknown names cannot flood the database), or when a
file it names is gone (a year was replaced). Paths come only from here, never from a request.

"Gone" is a stat of a local file on every lookup, and a HEAD request for an object in a bucket at
most once a second per dataset (REMOTE_CHECK_SECONDS): a process notices a year replaced on S3
within about a second, and a store that refuses or cannot be reached is a StorageError (503), not
a missing file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection

from tiles import conf, storage
from tiles.storage import StorageError

MISS_RELOAD_SECONDS = 1.0
REMOTE_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class RegisteredDataset:
    """One year of a collection, as the tile endpoints need it (no database object)."""

    slug: str
    year: int
    title: str
    path: str  # what GDAL opens: the COG's absolute path, or /vsis3/bucket/key
    bounds: tuple[float, float, float, float]
    minzoom: int
    maxzoom: int
    tile_format: str
    path_c: str | None = None  # the COG aligned to the CGCS2000 grid c, when the year has one

    def path_for(self, grid: str | None) -> str:
        """The COG a tile of ``grid`` is read from: the one aligned to that grid when there is one."""
        return self.path_c if grid == "c" and self.path_c else self.path


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

    return {(d.entry.slug, d.year): RegisteredDataset(d.entry.slug, d.year, d.entry.title_zh,
                                                      storage.readable_path(d.path), d.bounds, d.minzoom,
                                                      d.maxzoom, d.tile_format,
                                                      storage.readable_path(d.path_c) if d.path_c else None)
            for d in ImageryDataset.objects.select_related("entry")}


class Registry:
    """The in-memory copy; thread-safe, one per process."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, int], RegisteredDataset] = {}
        self.loaded_at = float("-inf")
        self.lock = threading.Lock()
        self.remote_checks: dict[str, tuple[float, bool | StorageError]] = {}  # object path -> (when, outcome)

    def clear(self) -> None:
        with self.lock:
            self.items, self.loaded_at = {}, float("-inf")
            self.remote_checks = {}

    def reload(self) -> None:
        with database_session():
            items = load_datasets()
        with self.lock:
            self.items, self.loaded_at = items, time.monotonic()
            paths = {p for d in items.values() for p in (d.path, d.path_c) if p}
            self.remote_checks = {p: c for p, c in self.remote_checks.items() if p in paths}

    def lookup(self, slug: str, year: int) -> RegisteredDataset | None:
        """The dataset registered for ``slug`` and ``year`` whose file exists, else None."""
        age = time.monotonic() - self.loaded_at
        hit = self.items.get((slug, year))
        if hit is not None and age < conf.registry_seconds() and self._files_present(hit):
            return hit
        if hit is None and age < MISS_RELOAD_SECONDS:
            return None
        self.reload()
        hit = self.items.get((slug, year))
        return hit if hit is not None and self._files_present(hit) else None

    def _files_present(self, dataset: RegisteredDataset) -> bool:
        return self.present(dataset.path) and (dataset.path_c is None or self.present(dataset.path_c))

    def present(self, path: str) -> bool:
        """Whether the file is there: a stat for a local file; for an object, a HEAD at most every
        REMOTE_CHECK_SECONDS, its answer (there, gone, or the store's failure) reused in between. Objects are
        never rewritten under the same name, so a replaced year is noticed through its new path at once."""
        if not storage.is_remote(path):
            return os.path.isfile(path)
        now = time.monotonic()
        checked = self.remote_checks.get(path)
        if checked is None or now - checked[0] >= REMOTE_CHECK_SECONDS:
            try:
                outcome: bool | StorageError = storage.exists(path)
            except StorageError as exc:
                outcome = exc
            checked = self.remote_checks[path] = (now, outcome)
        if isinstance(checked[1], StorageError):
            raise StorageError(str(checked[1]))
        return checked[1]


registry = Registry()
