"""The cache in front of titiler's tile route: every answer after the one access check, every drawn tile kept.

The access check (tiles.access.authorize_tile, which also counts the tile per department, key and day) runs
for every request, hit or not, so a revoked, forged or expired credential gets its 401/403, never a 304 or a
kept tile. On a hit the cache runs it; on a miss the tile route does, so each tile is checked and counted once.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from starlette.requests import Request

from catalog.errors import CatalogError, EntryNotFound
from tiles import conf, limits
from tiles.access import authorize_tile, dataset_key, tile_credential
from tiles.cache.keys import (
    DatasetVersion,
    TileAddress,
    client_has,
    dataset_version,
    etag,
    max_age,
    parse_tile_path,
    rendering_parameters,
    tile_key,
    validators,
)
from tiles.cache.stores import CachedTile, DiskTileCache, MemoryTileCache
from tiles.registry import RegisteredDataset, registry
from tiles.tokens import TileTokenRejected, verify_tile_token


@dataclass(frozen=True)
class Admission:
    """What the cache makes of a tile request: ``miss`` (render it), ``hit``, ``not-modified`` or ``refused``."""

    outcome: str
    version: DatasetVersion | None = None
    key: str = ""
    tile: CachedTile | None = None
    source: str = ""
    max_age: int = 0
    error: CatalogError | None = None


class TileCache:
    """Memory in front of the optional disk folder, tracking which version of each dataset is current."""

    def __init__(self) -> None:
        self.memory = MemoryTileCache()
        self._disk: DiskTileCache | None = None
        self.current: dict[tuple[str, int], str] = {}
        self._registry_seen = None
        self.lock = threading.Lock()

    def disk(self) -> DiskTileCache | None:
        root = conf.tile_cache_dir()
        if root is None:
            return None
        if self._disk is None or self._disk.root != root:
            self._disk = DiskTileCache(root)
        return self._disk

    def version(self, dataset: RegisteredDataset) -> DatasetVersion:
        try:
            stat = os.stat(dataset.path)
        except OSError:
            stat = None
        return dataset_version(dataset, stat)

    def get(self, version: DatasetVersion, key: str) -> tuple[CachedTile, str] | None:
        if (tile := self.memory.get(key)) is not None:
            return tile, "memory"
        disk = self.disk()
        if disk is not None and (tile := disk.get(version.digest, key)) is not None:
            self.memory.put(version.digest, key, tile, int(conf.tile_cache_mb() * 2**20))
            return tile, "disk"
        return None

    def keep_in_memory(self, version: DatasetVersion, key: str, tile: CachedTile) -> None:
        self.memory.put(version.digest, key, tile, int(conf.tile_cache_mb() * 2**20))

    def keep_on_disk(self, version: DatasetVersion, key: str, tile: CachedTile) -> None:
        if (disk := self.disk()) is not None:
            disk.put(version.digest, key, tile, int(conf.tile_cache_disk_mb() * 2**20))

    def notice(self, version: DatasetVersion) -> None:
        """Record the current version of a dataset; a different one before it is dropped."""
        with self.lock:
            previous = self.current.get((version.slug, version.year))
            self.current[(version.slug, version.year)] = version.digest
        if previous is not None and previous != version.digest:
            self.forget(previous)

    def forget_replaced(self) -> None:
        """After the registry reloaded: drop the tiles of every dataset it no longer holds as it was."""
        if registry.loaded_at == self._registry_seen:
            return
        self._registry_seen = registry.loaded_at
        with self.lock:
            tracked = list(self.current.items())
        for name, digest in tracked:
            dataset = registry.items.get(name)
            if dataset is None or self.version(dataset).digest != digest:
                with self.lock:
                    if self.current.get(name) == digest:
                        del self.current[name]
                self.forget(digest)

    def forget(self, digest: str) -> None:
        self.memory.drop_dataset(digest)
        if (disk := self.disk()) is not None:
            disk.drop_dataset(digest)

    def clear(self) -> None:
        self.memory.clear()
        with self.lock:
            self.current.clear()
        self._registry_seen = None

    def admit(self, request: Request, address: TileAddress) -> Admission | None:
        """Decide how to answer a tile request; None: not a tile the cache knows (the app answers it).

        Runs in a worker thread (the registry and the access check may use the database). The access check
        runs here only when the cache answers (a kept tile or a 304); on a miss the tile route runs it, so
        every tile is checked and counted exactly once.
        """
        try:
            slug, year = dataset_key(address.collection, address.year)
        except EntryNotFound:
            return None
        try:
            dataset = registry.lookup(slug, year)
        except CatalogError:  # e.g. the object store refuses: the tile route answers it, after the access check
            return None
        parameters = rendering_parameters(request.query_params, address.format)
        if dataset is None or parameters is None:
            return None
        self.forget_replaced()
        version = self.version(dataset)
        self.notice(version)
        key = tile_key(version, address, parameters)
        fresh = client_has(request.headers, etag(key), version.modified)
        kept = None if fresh else self.get(version, key)
        if not fresh and kept is None:
            return Admission("miss", version, key)
        try:
            credential = authorize_tile(request, slug)
        except CatalogError as exc:
            return Admission("refused", error=exc)
        age = max_age(credential, conf.tile_max_age(), time.time())
        if fresh:
            return Admission("not-modified", version, key, max_age=age)
        return Admission("hit", version, key, kept[0], kept[1], age)


tile_cache = TileCache()
# The cache's work off the event loop (registry, access check, disk): a pool of its own, lighter than anyio's
# worker threads (~30 against ~55 µs of CPU per call here); the Django connections it opens are closed after use.
_workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="tile-cache")


async def _off_loop(function, *args):
    return await asyncio.get_running_loop().run_in_executor(_workers, function, *args)


def _credential_max_age(request: Request) -> int:
    """max-age for a tile the route drew: bounded by the tile token's expiry when one was used."""
    token = tile_credential(request)
    try:
        claims = verify_tile_token(token) if token is not None else None
    except TileTokenRejected:
        return 0
    return max_age(claims, conf.tile_max_age(), time.time())


class TileCacheMiddleware:
    """ASGI middleware in front of titiler's tile route: answers from the cache after the access check, and keeps
    what the route draws. Installed inside tiles.app's TilePaths, so XYZ and KVP URLs arrive as the tile route.

    A request with a parameter the service does not offer (tiles.limits) goes on to the app untouched, which
    answers the 400. Grid and zoom need no check here: a key is stored only from a 200 of the route, so a tile
    the route refuses is never answered from the cache.
    """

    def __init__(self, app, cache: TileCache = tile_cache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope, receive, send) -> None:
        address = parse_tile_path(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if address is None:
            await self.app(scope, receive, send)
            return
        request = Request({**scope, "path_params": address.path_params()}, receive)
        try:
            limits.check_request(request.query_params.multi_items(), address.format)
        except CatalogError:
            await self.app(scope, receive, send)
            return
        admission = await _off_loop(self.cache.admit, request, address)
        if admission is None:
            await self.app(scope, receive, send)
        elif admission.outcome == "miss":
            await self._draw_and_keep(scope, receive, send, request, admission)
        elif admission.outcome == "refused":
            response = await _error_handler(scope, admission.error)(request, admission.error)
            await response(scope, receive, send)
        else:
            await self._answer(send, admission)

    async def _answer(self, send, admission: Admission) -> None:
        headers = validators(etag(admission.key), admission.version.modified, admission.max_age)
        if admission.outcome == "not-modified":
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        tile = admission.tile
        headers += [(k.encode(), v.encode()) for k, v in tile.headers]
        headers += [(b"content-length", str(len(tile.body)).encode()), (b"x-tile-cache", admission.source.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": tile.body})

    async def _draw_and_keep(self, scope, receive, send, request: Request, admission: Admission) -> None:
        """Let the tile route draw it (its own access check), then keep a 200 image and add the validators.

        The response is held until complete (a tile is one body) so the validators go out only when the
        dataset the route read is still the one the key names.
        """
        start: dict | None = None
        chunks: list[bytes] = []
        kept: list[CachedTile] = []

        async def keep(message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 200:
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            media = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            dataset = registry.items.get((admission.version.slug, admission.version.year))
            if (media.startswith(b"image/") and dataset is not None
                    and self.cache.version(dataset).digest == admission.version.digest):
                tile = CachedTile(body, tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in headers))
                self.cache.keep_in_memory(admission.version, admission.key, tile)
                kept.append(tile)
                headers = validators(etag(admission.key), admission.version.modified,
                                     _credential_max_age(request)) + headers + [(b"x-tile-cache", b"miss")]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, keep)
        if kept:  # after the response went out: the write may wait for another process's trim
            await _off_loop(self.cache.keep_on_disk, admission.version, admission.key, kept[0])


def _error_handler(scope, exc: CatalogError):
    """The app's own handler for the catalog's errors (one mapping to HTTP, JSON or an OWS exception report)."""
    handlers = scope["app"].exception_handlers
    return next(handlers[cls] for cls in type(exc).__mro__ if cls in handlers)
