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

    def __init__(self, max_bytes: int = conf.TILE_CACHE_BYTES):
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


# CGCS2000 longitude/latitude -> Web Mercator metres, by formula: CGCS2000 and WGS 84 differ by centimetres,
# far below a tile unit at any zoom, and the formula costs a fraction of a per-row ST_Transform.
MERCATOR_X = "(ST_X(t.gp_geom) * 111319.49079327357)"
MERCATOR_Y = "(ln(tan(pi() / 4 + radians(ST_Y(t.gp_geom)) / 2)) * 6378137.0)"


def tile_params(z: int, x: int, y: int) -> dict:
    """Query parameters of one tile: z/x/y, and for point layers its origin and scale in Web Mercator."""
    size = WORLD / 2**z
    return {"z": z, "x": x, "y": y, "minx": -WORLD / 2 + x * size, "maxy": WORLD / 2 - y * size,
            "scale": EXTENT / size}


def _geometry_sql(geometry_type: str, z: int) -> str:
    """The tile-space geometry of a row.

    Points go straight to integer tile coordinates (what ST_AsMVTGeom would make of them: the
    bounding-box filter already keeps only points inside the buffered tile, and round() is the
    same half-to-even rounding); other types are transformed, simplified to a pixel and clipped.
    """
    if geometry_type == "Point":
        return (f"ST_MakePoint(round(({MERCATOR_X} - %(minx)s) * %(scale)s), "
                f"round((%(maxy)s - {MERCATOR_Y}) * %(scale)s))")
    geom = "ST_Transform(t.gp_geom, 3857)"
    if geometry_type != "MultiPoint":
        geom = f"ST_Simplify({geom}, {WORLD / 2 ** z / EXTENT!r}, true)"
    return f"ST_AsMVTGeom({geom}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER}, true)"


def tile_sql(access: LayerAccess, z: int) -> pgsql.Composed:
    """The MVT query for one tile of ``access``'s version."""
    columns = [pgsql.SQL(", {} AS {}").format(pgsql.SQL(f.sql), pgsql.Identifier(f.name)) for f in access.fields]
    return pgsql.SQL(
        "SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'fid') FROM ("
        "SELECT t.gp_fid AS fid, {geom} AS geom{columns} FROM {table} t WHERE {valid} AND t.gp_geom && "
        "ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {margin}), 4490) LIMIT {limit}) q"
    ).format(name=pgsql.Literal(access.layer.slug), extent=pgsql.Literal(EXTENT),
             geom=pgsql.SQL(_geometry_sql(access.version.geometry_type, z)), columns=pgsql.SQL("").join(columns),
             table=pgsql.SQL(access.table), valid=pgsql.SQL(storage.valid_at(access.version.number)),
             margin=pgsql.Literal(BUFFER / EXTENT), limit=pgsql.Literal(conf.TILE_MAX_FEATURES))


def render_tile(access: LayerAccess, z: int, x: int, y: int) -> bytes:
    key = cache_key(access, z, x, y)
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(tile_sql(access, z).as_string(raw.connection), tile_params(z, x, y))
        data = bytes(raw.fetchone()[0] or b"")
    CACHE.put(key, data)
    return data
