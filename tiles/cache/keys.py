"""What names a rendered tile (its cache key and strong ETag) and the HTTP validators: pure functions.

A tile's bytes depend on the registered dataset (every field of its registry record plus the file's size and
modification time; an ingest writes a new uniquely named file, so a replaced year has a new key), the grid,
z/x/y, the format, the rendering parameters the service offers (tiles.limits) and the renderer (titiler,
rio-tiler and GDAL versions and this service's tile code). Never on the credential: the same tile is one entry
for every department allowed to see it.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, fields
from datetime import UTC
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import rasterio
import rio_tiler
import titiler.core

from tiles.registry import RegisteredDataset
from tiles.tokens import TileToken

# titiler's tile route, as tiles.app's TilePaths rewrites XYZ and WMTS KVP URLs to it
TILE_ROUTE = re.compile(r"^/tiles/([^/]+)/([^/]+)/tiles/([^/]+)/(\d{1,3})/(\d{1,10})/(\d{1,10})(?:\.([A-Za-z0-9]+))?$")
# every query parameter the tile route reads (tests/tiles/test_cache.py checks this against the route itself)
RENDERING_PARAMETERS = ("format", "tilesize", "bidx", "resampling", "rescale", "return_mask")
TRUE = ("true", "1", "yes", "on")
# bump when a change outside tiles/app.py alters the pixels of a tile already kept on disk
SCHEME = "1"
VARY = "Authorization, Cookie"


def _renderer() -> str:
    """What draws the pixels: library versions and this service's tile code (a deploy that changes it starts afresh)."""
    code = hashlib.sha256((Path(__file__).parent.parent / "app.py").read_bytes()).hexdigest()[:16]
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
