"""Mapbox vector tiles from PostGIS (ST_AsMVT) in WebMercatorQuad, with a per-process cache.

A tile's bytes depend only on the layer, the version, the caller's visible fields and their
masking, and z/x/y; versions never change once published, so a cached tile cannot go stale.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from django.db import connection
from psycopg import sql as pgsql

from geoplatform.layers import conf, storage
from geoplatform.layers.serving.access import LayerAccess

EXTENT = 4096
BUFFER = 64
WORLD = 40075016.685578488


class TileCache:
    """A byte-bounded LRU of encoded tiles, shared by the threads of one process."""

    def __init__(self, max_bytes: int = 128 * 2**20):
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
            return value

    def put(self, key: str, value: bytes) -> None:
        with self.lock:
            if key in self.items:
                return
            self.items[key] = value
            self.size += len(value)
            while self.size > self.max_bytes and self.items:
                _, old = self.items.popitem(last=False)
                self.size -= len(old)


CACHE = TileCache()


def cache_key(access: LayerAccess, z: int, x: int, y: int) -> str:
    fields = "|".join(f"{f.name}={f.sql}" for f in access.fields)
    digest = hashlib.sha1(fields.encode()).hexdigest()[:16]
    return f"{access.layer.pk}:{access.version.number}:{digest}:{z}/{x}/{y}"


def tile_sql(access: LayerAccess, z: int) -> pgsql.Composed:
    """The MVT query for one tile of ``access``'s version; simplification to one pixel for lines and polygons."""
    geom = "ST_Transform(t.gp_geom, 3857)"
    if access.version.geometry_type not in ("Point", "MultiPoint"):
        geom = f"ST_Simplify({geom}, {WORLD / 2 ** z / EXTENT!r}, true)"
    columns = [pgsql.SQL(", {} AS {}").format(pgsql.SQL(f.sql), pgsql.Identifier(f.name)) for f in access.fields]
    return pgsql.SQL(
        "SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'fid') FROM ("
        "SELECT t.gp_fid AS fid, ST_AsMVTGeom({geom}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {extent}, {buffer}, true)"
        " AS geom{columns} FROM {table} t WHERE {valid} AND t.gp_geom && "
        "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}), 4490) LIMIT {limit}) q"
    ).format(name=pgsql.Literal(access.layer.slug), extent=pgsql.Literal(EXTENT), geom=pgsql.SQL(geom),
             buffer=pgsql.Literal(BUFFER), columns=pgsql.SQL("").join(columns), table=pgsql.SQL(access.table),
             valid=pgsql.SQL(storage.valid_at(access.version.number)), margin=pgsql.Literal(BUFFER / EXTENT),
             limit=pgsql.Literal(conf.TILE_MAX_FEATURES))


def render_tile(access: LayerAccess, z: int, x: int, y: int) -> bytes:
    key = cache_key(access, z, x, y)
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(tile_sql(access, z).as_string(raw.connection), {"z": z, "x": x, "y": y})
        data = bytes(raw.fetchone()[0] or b"")
    CACHE.put(key, data)
    return data
