"""Mapbox vector tiles from PostGIS (ST_AsMVT) in WebMercatorQuad, with a per-process cache.

A tile's bytes depend only on the layer, the version, the caller's visible fields and their
masking, and z/x/y; versions never change once published, so a cached tile cannot go stale.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict

from django.db import connection
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo

from geoplatform.layers import conf, storage
from geoplatform.layers.serving import mvt
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


# A point's integer tile coordinates (what ST_AsMVTGeom makes of it: round() is the same half-to-even rounding).
POINT_X = f"round(({MERCATOR_X} - %(minx)s) * %(scale)s)"
POINT_Y = f"round((%(maxy)s - {MERCATOR_Y}) * %(scale)s)"


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
        return f"ST_MakePoint({POINT_X}, {POINT_Y})"
    geom = "ST_Transform(t.gp_geom, 3857)"
    if geometry_type != "MultiPoint":
        geom = f"ST_Simplify({geom}, {WORLD / 2 ** z / EXTENT!r}, true)"
    return f"ST_AsMVTGeom({geom}, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), {EXTENT}, {BUFFER}, true)"


def _tile_rows(access: LayerAccess, envelope: str) -> str:
    """FROM ... LIMIT of a tile's rows: the version's rows in the tile and its buffer, at most the feature limit."""
    return (f"FROM {access.table} t WHERE {storage.valid_at(access.version.number)} AND t.gp_geom && "
            f"ST_Transform(ST_TileEnvelope({envelope}, margin => {BUFFER / EXTENT!r}), 4490) "
            f"LIMIT {int(conf.TILE_MAX_FEATURES)}")


def tile_sql(access: LayerAccess, z: int) -> pgsql.Composed:
    """The MVT query for one tile of ``access``'s version."""
    columns = [pgsql.SQL(", {} AS {}").format(pgsql.SQL(f.sql), pgsql.Identifier(f.name)) for f in access.fields]
    return pgsql.SQL("SELECT ST_AsMVT(q, {name}, {extent}, 'geom', 'fid') FROM (SELECT t.gp_fid AS fid, {geom} AS geom"
                     "{columns} {rows}) q").format(
        name=pgsql.Literal(access.layer.slug), extent=pgsql.Literal(EXTENT),
        geom=pgsql.SQL(_geometry_sql(access.version.geometry_type, z)), columns=pgsql.SQL("").join(columns),
        rows=pgsql.SQL(_tile_rows(access, "%(z)s, %(x)s, %(y)s")))


def point_rows_sql(access: LayerAccess, z: int, x: int, y: int) -> str:
    """A point tile's rows for :mod:`.mvt`: fid, integer tile coordinates, the visible fields (dates and timestamps
    as text, as ST_AsMVT writes them); the same rows as :func:`tile_sql`.

    The tile's numbers are written into the text (ADBC runs the query as a COPY, which takes no parameters):
    z/x/y are ints from the URL, the rest floats computed from them; field expressions and the table name come
    from :mod:`.access` and the layer, never from the request.
    """
    numbers = {k: repr(float(v)) if isinstance(v, float) else str(int(v)) for k, v in tile_params(z, x, y).items()}
    columns = "".join(f", ({f.sql}){'' if f.type in mvt.KINDS else '::text'}" for f in access.fields)
    return (f"SELECT t.gp_fid, {POINT_X % numbers}::bigint, {POINT_Y % numbers}::bigint{columns} "
            + _tile_rows(access, f"{int(z)}, {int(x)}, {int(y)}"))


def estimated_features(access: LayerAccess, z: int) -> float:
    """Features in an average tile of the layer's extent at zoom ``z`` (its count over the tiles covering it)."""
    version = access.version
    if not version.extent or not version.feature_count:
        return 0.0
    west, south, east, north = version.extent
    n = 2**z

    def column(lon: float) -> int:
        return int((min(max(lon, -180.0), 179.999999) + 180) / 360 * n)

    def row(lat: float) -> int:
        lat = min(max(lat, -85.0511), 85.0511)
        return int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)

    tiles = (column(east) - column(west) + 1) * (row(south) - row(north) + 1)
    return version.feature_count / max(tiles, 1)


_ARROW = threading.local()  # per thread: an ADBC connection and cursor to the same database as Django's
_ARROW_OPEN: set = set()  # every thread's (connection, cursor), closed at exit
_ARROW_LOCK = threading.Lock()
_ARROW_FAILED = {"until": 0.0}  # after a failure the process leaves the Arrow path alone for a while
ARROW_RETRY_SECONDS = 60
log = logging.getLogger(__name__)


# libpq settings Django's OPTIONS may carry that the ADBC connection needs too (TLS above all)
_LIBPQ_OPTIONS = {"sslmode", "sslcert", "sslkey", "sslrootcert", "sslcrl", "sslpassword", "passfile", "service",
                  "connect_timeout", "application_name", "options", "target_session_attrs", "gssencmode",
                  "channel_binding", "keepalives", "keepalives_idle"}


def arrow_conninfo(settings: dict) -> str:
    """The libpq connection string of Django's database settings (name, user, password, host, port, TLS)."""
    values = {"dbname": settings["NAME"], "user": settings.get("USER"), "password": settings.get("PASSWORD"),
              "host": settings.get("HOST"), "port": settings.get("PORT")}
    values.update({k: v for k, v in (settings.get("OPTIONS") or {}).items() if k in _LIBPQ_OPTIONS})
    return make_conninfo(**{k: str(v) for k, v in values.items() if v not in (None, "")})


def _arrow_cursor():
    handles = getattr(_ARROW, "handles", None)
    if handles is None:
        import adbc_driver_postgresql.dbapi as adbc

        arrow_connection = adbc.connect(arrow_conninfo(connection.settings_dict), autocommit=True)
        handles = _ARROW.handles = (arrow_connection, arrow_connection.cursor())
        with _ARROW_LOCK:
            _ARROW_OPEN.add(handles)
    return handles[1]


def _close(handles) -> None:
    arrow_connection, cursor = handles
    for handle in (cursor, arrow_connection):
        with contextlib.suppress(Exception):
            handle.close()


def forget_arrow_connection() -> None:
    """Close this thread's ADBC connection (a new one is made on the next big tile)."""
    handles = getattr(_ARROW, "handles", None)
    _ARROW.handles = None
    if handles is not None:
        with _ARROW_LOCK:
            _ARROW_OPEN.discard(handles)
        _close(handles)


@atexit.register
def close_arrow_connections() -> None:
    """Close every thread's ADBC connection (at exit; tests call it so that their database can be dropped)."""
    with _ARROW_LOCK:
        opened = list(_ARROW_OPEN)
        _ARROW_OPEN.clear()
    for handles in opened:
        _close(handles)
    _ARROW.handles = None


def uses_arrow(access: LayerAccess, z: int) -> bool:
    """Whether a tile is encoded by :mod:`.mvt` from rows read as Arrow (point layers, big tiles; not inside a
    transaction of the caller's, whose rows only Django's own connection can see)."""
    return (access.version.geometry_type == "Point" and not connection.in_atomic_block
            and time.monotonic() >= _ARROW_FAILED["until"]
            and estimated_features(access, z) >= conf.ARROW_TILE_MIN_FEATURES)


def arrow_point_tile(access: LayerAccess, z: int, x: int, y: int) -> bytes:
    cursor = _arrow_cursor()
    cursor.execute(point_rows_sql(access, z, x, y))
    rows = cursor.fetch_arrow_table()
    names = [f.name for f in access.fields]
    return mvt.encode_points(access.layer.slug, rows, names, [mvt.kind_of(f.type) for f in access.fields])


def render_tile(access: LayerAccess, z: int, x: int, y: int) -> bytes:
    key = cache_key(access, z, x, y)
    cached = CACHE.get(key)
    if cached is not None:
        return cached
    data = None
    if uses_arrow(access, z):
        try:
            data = arrow_point_tile(access, z, x, y)
        except Exception:  # noqa: BLE001 - ADBC missing, refused or broken: ST_AsMVT for a minute, then retry
            log.warning("Arrow tile path failed; tiles come from ST_AsMVT for %d s", ARROW_RETRY_SECONDS,
                        exc_info=True)
            forget_arrow_connection()
            _ARROW_FAILED["until"] = time.monotonic() + ARROW_RETRY_SECONDS
    if data is None:
        with connection.cursor() as cursor:
            raw = cursor.cursor
            raw.execute(tile_sql(access, z).as_string(raw.connection), tile_params(z, x, y))
            data = bytes(raw.fetchone()[0] or b"")
    CACHE.put(key, data)
    return data
