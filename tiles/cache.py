"""A tile cache for imagery: HTTP validators (ETag, Last-Modified, Cache-Control, 304) and hot tiles kept rendered.

A map screen asks for the same few hundred tiles again and again; drawing one costs ~3-25 ms of CPU, sending a
kept one a fraction of a millisecond. The cache never decides who may see a tile: every request, hit or not,
goes through the one access check (tiles.access.authorize_tile, which also counts the tile per department, key
and day), so a revoked, forged or expired credential gets its 401/403, never a 304 or a kept tile.

What a tile's bytes depend on names it (:func:`tile_key`, and the strong ETag derived from it): the registered
dataset (every field of its registry record plus the file's size and modification time; an ingest writes a new
uniquely named file, so a replaced year has a new key), the grid, z/x/y, the format and the rendering
parameters the service offers (tiles.limits), and the renderer (titiler, rio-tiler and GDAL versions and this
service's tile code). Never the credential: the same tile is one entry for every department allowed to see it.

- memory: per process, LRU, bounded in bytes (GEOPLATFORM_IMAGERY_TILE_CACHE_MB);
- disk (GEOPLATFORM_IMAGERY_TILE_CACHE_DIR): a folder the tile processes of one machine share, one subfolder
  per dataset version, files written atomically (temporary file, rename), its size kept in a counter under a
  file lock so the bound (GEOPLATFORM_IMAGERY_TILE_CACHE_DISK_MB) holds across processes.

Entries of a replaced dataset are unreachable by construction; they are also dropped when this process sees the
registry reload a changed dataset, so they do not wait for the LRU to push them out.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import rasterio
import rio_tiler
import titiler.core
from starlette.requests import Request

from catalog.errors import CatalogError, EntryNotFound
from tiles import conf, limits
from tiles.access import authorize_tile, dataset_key, tile_credential
from tiles.registry import RegisteredDataset, registry
from tiles.tokens import TileToken, TileTokenRejected, verify_tile_token

# titiler's tile route, as tiles.app's TilePaths rewrites XYZ and WMTS KVP URLs to it
TILE_ROUTE = re.compile(r"^/tiles/([^/]+)/([^/]+)/tiles/([^/]+)/(\d{1,3})/(\d{1,10})/(\d{1,10})(?:\.([A-Za-z0-9]+))?$")
# every query parameter the tile route reads (tests/tiles/test_cache.py checks this against the route itself)
RENDERING_PARAMETERS = ("format", "tilesize", "bidx", "resampling", "rescale", "return_mask")
TRUE = ("true", "1", "yes", "on")
# bump when a change outside tiles/app.py alters the pixels of a tile already kept on disk
SCHEME = "1"
ENTRY_OVERHEAD = 256  # bytes a memory entry costs beyond its body and headers (key, dict and set slots)
DISK_MAGIC = b"GPTILE1\n"
DISK_LOW_WATER = 0.8  # a full disk cache is trimmed to this share of its bound
VARY = "Authorization, Cookie"


def _renderer() -> str:
    """What draws the pixels: library versions and this service's tile code (a deploy that changes it starts afresh)."""
    code = hashlib.sha256(Path(__file__).with_name("app.py").read_bytes()).hexdigest()[:16]
    return f"titiler {titiler.core.__version__}; rio-tiler {rio_tiler.__version__}; gdal {rasterio.__gdal_version__}; {code}"


RENDERER = _renderer()


@dataclass(frozen=True)
class TileAddress:
    """The tile route's path parameters, as strings (z/x/y are digits)."""

    collection: str
    year: str
    grid: str
    z: str
    x: str
    y: str
    format: str | None

    def path_params(self) -> dict[str, str]:
        params = {"collection": self.collection, "year": self.year, "tileMatrixSetId": self.grid,
                  "z": self.z, "x": self.x, "y": self.y}
        return params if self.format is None else {**params, "format": self.format}


@dataclass(frozen=True)
class DatasetVersion:
    """One state of a registered dataset: ``digest`` changes whenever its file or its registry record does."""

    slug: str
    year: int
    digest: str
    modified: float | None  # the file's modification time (Last-Modified), None when it cannot be read


def parse_tile_path(path: str) -> TileAddress | None:
    """The tile route's parameters, or None for any other path."""
    match = TILE_ROUTE.match(path)
    return TileAddress(*match.groups()) if match else None


def rendering_parameters(query, path_format: str | None) -> str | None:
    """The offered rendering parameters in one canonical form (``?v=2`` and the token are not among them).

    ``query`` is a Starlette QueryParams (``get`` gives the last value, as FastAPI reads single parameters).
    Read after tiles.limits accepted the request; None when a value is still not what titiler would parse.
    """
    parts = [f"format={path_format or query.get('format') or ''}"]
    try:
        if (size := query.get("tilesize")) is not None:
            parts.append(f"tilesize={int(size)}")
        if bands := query.getlist("bidx"):
            parts.append("bidx=" + ",".join(str(int(band)) for band in bands))
        if (kernel := query.get("resampling")) is not None:
            parts.append(f"resampling={kernel}")
        if stretches := query.getlist("rescale"):
            parts.append("rescale=" + ";".join(",".join(repr(float(v)) for v in s.strip(" []").split(","))
                                               for s in stretches))
    except ValueError:
        return None
    if (mask := query.get("return_mask")) is not None:
        parts.append(f"return_mask={mask.lower() in TRUE}")
    return "&".join(parts)


def dataset_version(dataset: RegisteredDataset, stat: os.stat_result | None) -> DatasetVersion:
    """Every field of the registry record, plus the file's size and modification time when it is a local file."""
    identity = _record(dataset)
    if stat is not None:
        identity += f"|size={stat.st_size}|mtime_ns={stat.st_mtime_ns}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:32]
    return DatasetVersion(dataset.slug, dataset.year, digest, stat.st_mtime if stat is not None else None)


_records: dict[int, tuple[RegisteredDataset, str]] = {}


def _record(dataset: RegisteredDataset) -> str:
    """The registry record as text, computed once per record object (the registry makes new ones on reload)."""
    memo = _records.get(id(dataset))
    if memo is not None and memo[0] is dataset:
        return memo[1]
    text = "|".join(f"{field.name}={getattr(dataset, field.name)!r}" for field in fields(dataset))
    if len(_records) > 4096:
        _records.clear()
    _records[id(dataset)] = (dataset, text)
    return text


def tile_key(version: DatasetVersion, address: TileAddress, parameters: str) -> str:
    """The cache key of one rendered tile (hex SHA-256): what determines its bytes, and nothing else."""
    text = "|".join((SCHEME, RENDERER, version.digest, address.grid, str(int(address.z)), str(int(address.x)),
                     str(int(address.y)), parameters))
    return hashlib.sha256(text.encode()).hexdigest()


def etag(key: str) -> str:
    """A strong ETag: the same bytes for the same tag, in every process and after restarts."""
    return f'"{key[:32]}"'


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """RFC 9110 If-None-Match (weak comparison): any listed tag equal to ``tag``.

    ``*`` ("any current representation") is left to the tile route: only it knows whether the tile exists.
    """
    if not if_none_match:
        return False
    return any(candidate.strip().removeprefix("W/") == tag for candidate in if_none_match.split(","))


def unmodified_since(if_modified_since: str | None, modified: float | None) -> bool:
    """RFC 9110 If-Modified-Since: the file is not newer than the date given (an unreadable date: False)."""
    if not if_modified_since or modified is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return int(modified) <= since.timestamp()


def client_has(headers, tag: str, modified: float | None) -> bool:
    """Whether the client's copy is current (If-None-Match wins over If-Modified-Since, as RFC 9110 says)."""
    if "if-none-match" in headers:
        return etag_matches(headers.get("if-none-match"), tag)
    return unmodified_since(headers.get("if-modified-since"), modified)


def max_age(credential: object, ceiling: int, now: float) -> int:
    """Cache-Control max-age: the configured ceiling, and never past the tile token's expiry."""
    if isinstance(credential, TileToken):
        return max(0, min(ceiling, int(credential.expires - now)))
    return max(0, ceiling)


def validators(tag: str, modified: float | None, age: int) -> list[tuple[bytes, bytes]]:
    """The caching headers of a tile and of its 304: private, because an access decision stands before it."""
    headers = [(b"etag", tag.encode()), (b"cache-control", f"private, max-age={age}".encode()),
               (b"vary", VARY.encode())]
    if modified is not None:
        headers.append((b"last-modified", formatdate(int(modified), usegmt=True).encode()))
    return headers


@dataclass(frozen=True)
class CachedTile:
    """A rendered tile: its body and the headers titiler gave it (media type, Content-Bbox, Content-Crs)."""

    body: bytes
    headers: tuple[tuple[str, str], ...]

    @property
    def size(self) -> int:
        """Bytes it holds in memory, counted against the bound."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD

    def encode(self) -> bytes:
        return DISK_MAGIC + json.dumps(self.headers).encode() + b"\n" + self.body

    @classmethod
    def decode(cls, blob: bytes) -> CachedTile | None:
        """The tile a disk file holds, or None for anything else (a foreign or truncated file)."""
        if not blob.startswith(DISK_MAGIC):
            return None
        head, newline, body = blob[len(DISK_MAGIC):].partition(b"\n")
        try:
            headers = tuple((str(k), str(v)) for k, v in json.loads(head))
        except (ValueError, TypeError):
            return None
        return cls(body, headers) if newline else None


class MemoryTileCache:
    """Least recently used tiles of this process, never more than ``limit`` bytes (:attr:`CachedTile.size`)."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[str, CachedTile]] = OrderedDict()
        self.by_dataset: dict[str, set[str]] = {}
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: str) -> CachedTile | None:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return None
            self.entries.move_to_end(key)
            return hit[1]

    def put(self, dataset: str, key: str, tile: CachedTile, limit: int) -> bool:
        """Keep ``tile``, evicting the least recently used first; a tile larger than ``limit`` is not kept."""
        if tile.size > limit:
            return False
        with self.lock:
            if key in self.entries:
                return True
            while self.entries and self.bytes + tile.size > limit:
                self._remove(next(iter(self.entries)))
            self.entries[key] = (dataset, tile)
            self.by_dataset.setdefault(dataset, set()).add(key)
            self.bytes += tile.size
            return True

    def drop_dataset(self, dataset: str) -> int:
        """Forget every tile of one dataset version; how many there were."""
        with self.lock:
            keys = self.by_dataset.pop(dataset, set())
            for key in keys:
                self._remove(key)
            return len(keys)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.by_dataset.clear()
            self.bytes = 0

    def _remove(self, key: str) -> None:
        dataset, tile = self.entries.pop(key)
        self.bytes -= tile.size
        if (keys := self.by_dataset.get(dataset)) is not None:
            keys.discard(key)
            if not keys:
                del self.by_dataset[dataset]


class DiskTileCache:
    """Tiles in ``root/<dataset version>/<key[:2]>/<key>``, shared by the processes of one machine.

    Readers take no lock: a file appears only complete (written beside, then renamed). Writers and trimmers
    serialise on ``root/.lock`` (flock) and keep the folder's size in ``root/.usage``, so the bound holds
    whatever the number of processes; the counter only ever over-states (a file removed by hand), and every
    trim recounts it.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, dataset: str, key: str) -> Path:
        return self.root / dataset / key[:2] / key

    def get(self, dataset: str, key: str) -> CachedTile | None:
        path = self._file(dataset, key)
        try:
            tile = CachedTile.decode(path.read_bytes())
        except OSError:
            return None
        if tile is not None:
            with contextlib.suppress(OSError):
                os.utime(path)  # recently used: trimmed last
        return tile

    def put(self, dataset: str, key: str, tile: CachedTile, limit: int) -> bool:
        """Write ``tile`` unless it is there already, trimming the oldest files first if the bound needs it."""
        blob = tile.encode()
        if len(blob) > limit:
            return False
        path = self._file(dataset, key)
        with self._locked():
            if path.exists():
                return True
            used = self._usage()
            if used + len(blob) > limit:
                used = self._trim(int(limit * DISK_LOW_WATER) - len(blob))
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{key}.{os.getpid()}.{threading.get_ident()}.part")
            partial.write_bytes(blob)
            os.replace(partial, path)
            self._set_usage(used + len(blob))
        return True

    def drop_dataset(self, dataset: str) -> int:
        """Remove one dataset version's folder; the bytes it held."""
        folder = self.root / dataset
        if not folder.is_dir():
            return 0
        with self._locked():
            freed = sum(size for _, size, _ in self._files(folder))
            shutil.rmtree(folder, ignore_errors=True)
            self._set_usage(max(0, self._usage() - freed))
        return freed

    def usage(self) -> int:
        """The bytes the folder's tile files hold now (counted, not the counter)."""
        return sum(size for _, size, _ in self._files(self.root))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _usage(self) -> int:
        try:
            return int((self.root / ".usage").read_text())
        except (OSError, ValueError):
            return self.usage()

    def _set_usage(self, value: int) -> None:
        counter = self.root / ".usage"
        partial = counter.with_name(f".usage.{os.getpid()}.part")
        partial.write_text(str(value))
        os.replace(partial, counter)

    @staticmethod
    def _files(folder: Path) -> Iterator[tuple[float, int, str]]:
        """(mtime, size, path) of every tile and partial file under ``folder``."""
        for top, _dirs, names in os.walk(folder):
            for name in names:
                if top == str(folder) and name in (".lock", ".usage"):
                    continue
                path = os.path.join(top, name)
                with contextlib.suppress(OSError):
                    stat = os.stat(path)
                    yield stat.st_mtime, stat.st_size, path

    def _trim(self, target: int) -> int:
        """Remove the least recently used files until at most ``target`` bytes remain; the bytes left."""
        files = sorted(self._files(self.root))
        used = sum(size for _, size, _ in files)
        for _, size, path in files:
            if used <= target:
                break
            with contextlib.suppress(OSError):
                os.unlink(path)
                used -= size
        return used


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
        dataset = registry.lookup(slug, year)
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
