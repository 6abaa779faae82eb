"""A tile cache for imagery: HTTP validators (ETag, Last-Modified, Cache-Control, 304) and hot tiles kept rendered.

A map screen asks for the same few hundred tiles again and again; drawing one costs ~3-25 ms of CPU, sending a
kept one a fraction of a millisecond. The cache never decides who may see a tile: every request, hit or not,
goes through the one access check (tiles.access.authorize_tile, which also counts the tile per department, key
and day), so a revoked, forged or expired credential gets its 401/403, never a 304 or a kept tile.

What a tile's bytes depend on names it (:func:`tiles.cache.keys.tile_key`, and the strong ETag derived from it): the registered
dataset (every field of its registry record plus the file's size and modification time; an ingest writes a new
uniquely named file, so a replaced year has a new key), the grid, z/x/y, the format and the rendering
parameters the service offers (tiles.limits), and the renderer (titiler, rio-tiler and GDAL versions and this
service's tile code). Never the credential: the same tile is one entry for every department allowed to see it.

Modules: ``keys`` (the key, the ETag and the validators: pure functions), ``stores`` (memory and disk),
``middleware`` (the ASGI middleware and the access check before every answer).

- memory: per process, LRU, bounded in bytes (GEOPLATFORM_IMAGERY_TILE_CACHE_MB);
- disk (GEOPLATFORM_IMAGERY_TILE_CACHE_DIR): one SQLite database in a folder the tile processes of one machine
  share; each write is a transaction that keeps the byte count exact, so the bound
  (GEOPLATFORM_IMAGERY_TILE_CACHE_DISK_MB) holds across processes.

Entries of a replaced dataset are unreachable by construction; they are also dropped when this process sees the
registry reload a changed dataset, so they do not wait for the LRU to push them out.
"""

from tiles.cache.middleware import TileCache, TileCacheMiddleware, tile_cache

__all__ = ["TileCache", "TileCacheMiddleware", "tile_cache"]
