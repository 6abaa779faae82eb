"""The versioned feature table of a layer: create, load with binary COPY, apply a new version, restore.

Every statement runs on the caller's connection inside the caller's transaction, so a
failed or interrupted publish leaves nothing behind. Identifiers in the SQL are generated
here (``layer_data.l<id>``, ``gp_*``, ``a<n>``), never taken from the file or the request.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator

from geoplatform.layers.importing import copy_binary as cb
from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.importing.schema import Field

STAGE = "gp_stage"
# shapely type ids: (single, multi) pairs of one family
FAMILIES = {"Point": (0, 4), "LineString": (1, 5), "Polygon": (3, 6)}
TYPE_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
              6: "MultiPolygon", 7: "GeometryCollection"}


def valid_at(version: int, alias: str = "t") -> str:
    """SQL predicate: the row belongs to ``version`` (an int we control, never request text)."""
    v = int(version)
    return f"({alias}.gp_vfrom <= {v} AND ({alias}.gp_vto IS NULL OR {alias}.gp_vto > {v}))"


def create_table(cursor, table: str, columns: dict[str, str]) -> None:
    attrs = "".join(f", {c} {t}" for c, t in columns.items())
    cursor.execute("CREATE SCHEMA IF NOT EXISTS layer_data")
    # fillfactor 90: room on each page for the closing update of a row (gp_vto), which then is a HOT update that
    # adds no index entries (no index covers gp_vto): a 1% update closes 10,000 rows without touching the GiST.
    cursor.execute(f"CREATE TABLE {table} (gp_fid bigint NOT NULL, gp_key text, gp_vfrom integer NOT NULL DEFAULT 1, "
                   f"gp_vto integer, gp_hash bigint, gp_geom geometry(Geometry, 4490){attrs}) WITH (fillfactor = 90)")


def has_row_hashes(table: str) -> bool:
    """Whether the table has ``gp_hash`` (tables created before row hashes were kept do not)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'gp_hash' "
                       "AND NOT attisdropped", [table])
        return cursor.fetchone() is not None


def add_columns(cursor, table: str, columns: dict[str, str]) -> None:
    """New attribute columns; also ``gp_hash`` on tables created before row hashes were kept."""
    cursor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS gp_hash bigint")
    for column, type_ in columns.items():
        cursor.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {type_}")


def _produce(chunks: Iterable[tuple[int, bytes]], out: queue.Queue) -> None:
    try:
        for item in chunks:
            out.put(item)
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
        out.put(exc)
    out.put(None)


def copy_chunks(cursor, target: str, columns: list[str], chunks: Iterator[tuple[int, bytes]],
                progress: Callable[[int], None] | None = None, freeze: bool = False) -> int:
    """Binary COPY of encoded chunks; reading/encoding runs in a thread so it overlaps PostgreSQL's work.

    ``freeze``: the table was created in this transaction (and savepoint), so its rows can be written already
    frozen and all-visible: the first reads after the publish then write no hint bits (nor their full-page
    images to the WAL), index-only scans work at once, and vacuum never has to freeze them.
    """
    pending: queue.Queue = queue.Queue(maxsize=2)
    producer = threading.Thread(target=_produce, args=(chunks, pending), daemon=True)
    producer.start()
    rows = 0
    raw = getattr(cursor, "cursor", cursor)
    try:
        options = "FORMAT binary, FREEZE" if freeze else "FORMAT binary"
        with raw.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN ({options})") as copy:
            copy.write(cb.HEADER)
            while (item := pending.get()) is not None:
                if isinstance(item, BaseException):
                    raise item
                n, data = item
                copy.write(data)
                rows += n
                if progress:
                    progress(n)
            copy.write(cb.TRAILER)
    finally:
        while producer.is_alive():  # unblock the producer if we stopped early
            try:
                pending.get(timeout=0.1)
            except queue.Empty:
                pass
    return rows


def index_new_table(cursor, table: str, keyed: bool) -> None:
    name = table.split(".")[1]
    cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name}_pk PRIMARY KEY (gp_fid, gp_vfrom)")
    cursor.execute(f"CREATE INDEX {name}_geom ON {table} USING gist (gp_geom)")
    if keyed:
        unique_current_keys(cursor, table)
    cursor.execute(f"ANALYZE {table}")


def unique_current_keys(cursor, table: str) -> None:
    """A unique index on (key, first version): it rejects duplicate keys in a version and serves the next diff.

    Not a partial index on the current rows (``WHERE gp_vto IS NULL``): a column in an index predicate
    makes every closing update of a row a non-HOT one, with new entries in every index. (Tables made
    before keep their partial index; both serve the same lookups.)"""
    from django.db import IntegrityError, transaction

    name = table.split(".")[1]
    try:
        with transaction.atomic():  # a savepoint: the duplicates are looked up only when the index refuses them
            cursor.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_key ON {table} (gp_key, gp_vfrom)")
    except IntegrityError:
        cursor.execute(f"SELECT gp_key, count(*) FROM {table} WHERE gp_vto IS NULL GROUP BY gp_key "
                       "HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 3")
        listed = ", ".join(f"{k!r} ×{n}" for k, n in cursor.fetchall())
        raise ImportRejected(f"the key field is not unique: {listed}") from None


def create_stage(cursor, table: str, columns: list[Field]) -> None:
    attrs = "".join(f", {f.column} {f.type}" for f in columns)
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}, gp_diff")  # left by an earlier publish in this transaction
    cursor.execute("DROP TABLE IF EXISTS gp_removed")
    cursor.execute(f"CREATE TEMP TABLE {STAGE} (gp_key text, gp_hash bigint, gp_geom geometry(Geometry, 4490)"
                   f"{attrs}) ON COMMIT DROP")
    cursor.execute("CREATE TEMP TABLE gp_removed (key text) ON COMMIT DROP")


def stage_removed_keys(cursor, keys: list[str]) -> None:
    """Keys whose features the new version no longer has."""
    raw = getattr(cursor, "cursor", cursor)
    with raw.copy("COPY gp_removed (key) FROM STDIN") as copy:
        for key in keys:
            copy.write_row((key,))


def unify_multi(cursor, target: str, where: str, type_counts: dict[int, int]) -> tuple[str, int]:
    """Promote singles to multis when a family has both; returns (geometry type, features promoted)."""
    present = {t for t, n in type_counts.items() if n}
    promoted = 0
    for family, (single, multi) in FAMILIES.items():
        if single in present and multi in present:
            cursor.execute(f"UPDATE {target} SET gp_geom = ST_Multi(gp_geom) WHERE {where} "
                           "AND ST_GeometryType(gp_geom) = %s", [f"ST_{family}"])
            promoted += cursor.rowcount
            present.discard(single)
    if len(present) == 1:
        return TYPE_NAMES[present.pop()], promoted
    return ("Geometry" if present else "Unknown"), promoted


def apply_keyed(cursor, table: str, version: int, fields: list[Field],
                replace_all: bool = False) -> tuple[dict[str, int], list[float] | None]:
    """Apply the staged rows (new or changed, by key) and the keys in ``gp_removed`` as version ``version``.

    Only the staged rows and the removed keys are touched, so the cost follows the size of the
    change, not of the layer. A staged row whose hash equals its current row's is left alone.
    ``replace_all``: the current rows have no keys (the layer's first keyed version); close them all.
    Returns the diff counts and the bounds of the rows closed by the change (None when none was).
    """
    # The layer's pages are mostly cached: price an index probe near a sequential read, so that a small change
    # is joined by key (10,000 probes: 60 ms) instead of by scanning the whole layer (1M rows: 150 ms), while a
    # large one still gets the hash join.
    cursor.execute("SET LOCAL random_page_cost = 1.1")
    cursor.execute(f"SELECT gp_key, count(*) FROM {STAGE} GROUP BY gp_key HAVING count(*) > 1 "
                   "ORDER BY 2 DESC LIMIT 3")
    duplicates = cursor.fetchall()
    if duplicates:
        raise ImportRejected("the key field is not unique: " + ", ".join(f"{k!r} ×{n}" for k, n in duplicates))
    removed = 0
    if replace_all:
        cursor.execute(f"UPDATE {table} SET gp_vto = %s WHERE gp_vto IS NULL", [version])
        removed = cursor.rowcount
    values = ["gp_geom", *[f.column for f in fields]]
    current, staged = ", ".join(f"c.{c}" for c in values), ", ".join(f"s.{c}" for c in values)
    # Every staged key gets a row: 'a' added, 'c' changed, 'u' unchanged, 'h' unchanged but stored before hashes
    # were kept (gp_hash NULL: compared value by value); every removed key gets an 'r' (fid NULL: no such key).
    # The temporary tables have no statistics (ANALYZE would cost more than the rest), so the statements below
    # join them only with the layer's indexes or aggregate them alone.
    cursor.execute(
        "CREATE TEMP TABLE gp_diff ON COMMIT DROP AS "
        "SELECT c.gp_fid AS fid, c.ctid AS tid, s.gp_key AS key, CASE WHEN c.gp_fid IS NULL THEN 'a' "
        "WHEN c.gp_hash <> s.gp_hash THEN 'c' "
        f"WHEN c.gp_hash IS NULL THEN CASE WHEN ({current}) IS DISTINCT FROM ({staged}) THEN 'c' ELSE 'h' END "
        f"ELSE 'u' END AS kind FROM {STAGE} s LEFT JOIN {table} c ON c.gp_key = s.gp_key AND c.gp_vto IS NULL "
        f"UNION ALL SELECT c.gp_fid, c.ctid, r.key, 'r' FROM gp_removed r LEFT JOIN {table} c "
        "ON c.gp_key = r.key AND c.gp_vto IS NULL")
    cursor.execute("SELECT key FROM gp_diff GROUP BY key HAVING bool_or(kind = 'r') AND bool_or(kind <> 'r') LIMIT 3")
    both = [r[0] for r in cursor.fetchall()]
    if both:
        raise ImportRejected("keys both changed and deleted in this change set: " + ", ".join(map(repr, both)))
    cursor.execute("SELECT key FROM gp_diff WHERE kind = 'r' AND fid IS NULL LIMIT 3")
    unknown = [r[0] for r in cursor.fetchall()]
    if unknown:
        raise ImportRejected("cannot delete keys the current version does not have: " + ", ".join(map(repr, unknown)))
    # The rows are closed by the tuple ids the diff found (a TID scan, no second probe of the primary key): they
    # stay valid in this transaction, as the layer row is locked for the publish and only VACUUM FULL or CLUSTER
    # (blocked by this transaction's lock on the table) moves a live tuple.
    cursor.execute(f"WITH closed AS (UPDATE {table} t SET gp_vto = %s FROM gp_diff d "
                   "WHERE t.ctid = d.tid AND t.gp_vto IS NULL AND d.kind IN ('c', 'r') RETURNING t.gp_geom) "
                   "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(gp_geom) AS e "
                   "FROM closed) q", [version])
    bounds = cursor.fetchone()
    closed = None if bounds[0] is None else [float(v) for v in bounds]
    cols = ["gp_hash", "gp_geom", *[f.column for f in fields]]
    insert_cols = ", ".join(cols)
    cursor.execute(
        f"INSERT INTO {table} (gp_fid, gp_key, gp_vfrom, {insert_cols}) "
        "SELECT coalesce(d.fid, m.top + row_number() OVER ()), s.gp_key, %s, "
        + ", ".join(f"s.{c}" for c in cols)
        + f" FROM gp_diff d JOIN {STAGE} s ON s.gp_key = d.key, "
        f"(SELECT coalesce(max(gp_fid), 0) AS top FROM {table}) m WHERE d.kind IN ('a', 'c')", [version])
    cursor.execute("SELECT kind, count(*) FROM gp_diff WHERE kind <> 'u' GROUP BY kind")
    counts = dict(cursor.fetchall())
    if counts.get("h"):  # unchanged rows stored without a hash get theirs now (the same row, so in place)
        cursor.execute(f"UPDATE {table} c SET gp_hash = s.gp_hash FROM gp_diff d JOIN {STAGE} s ON s.gp_key = d.key "
                       "WHERE d.kind = 'h' AND c.ctid = d.tid AND c.gp_vto IS NULL")
    diff = {"added": counts.get("a", 0), "changed": counts.get("c", 0), "removed": counts.get("r", 0) + removed}
    return diff, closed


def extent_after_change(cursor, table: str, previous: list[float] | None, added: list[float] | None,
                        closed: list[float] | None) -> list[float] | None:
    """The new version's extent from the previous one and the added rows' bounds; a full scan only when the
    rows closed by the change (their bounds: ``closed``) reached an edge of the previous extent."""
    if previous is not None and closed is not None:
        west, south, east, north = previous
        if closed[0] <= west or closed[1] <= south or closed[2] >= east or closed[3] >= north:
            return current_summary(cursor, table)[1]
    boxes = [b for b in (previous, added) if b is not None]
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def apply_replace(cursor, table: str, version: int, fields: list[Field]) -> dict[str, int]:
    """Without a key nothing identifies a feature across versions: close every current row, insert the new ones."""
    cursor.execute(f"UPDATE {table} SET gp_vto = %s WHERE gp_vto IS NULL", [version])
    removed = cursor.rowcount
    cols = ", ".join(["gp_geom", *[f.column for f in fields]])
    cursor.execute(f"INSERT INTO {table} (gp_fid, gp_vfrom, {cols}) "
                   f"SELECT m.top + row_number() OVER (), %s, {cols} FROM {STAGE}, "
                   f"(SELECT coalesce(max(gp_fid), 0) AS top FROM {table}) m", [version])
    return {"added": cursor.rowcount, "changed": 0, "removed": removed}


def restore(cursor, table: str, target: int, version: int) -> dict[str, int]:
    """Make ``version`` a copy of ``target``: close rows not in it, re-insert its rows closed since."""
    cursor.execute(f"UPDATE {table} t SET gp_vto = %s WHERE t.gp_vto IS NULL AND NOT {valid_at(target)}", [version])
    removed = cursor.rowcount
    cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'layer_data' "
                   "AND table_name = %s AND column_name LIKE 'a%%' ORDER BY ordinal_position", [table.split(".")[1]])
    cols = ", ".join(["gp_hash", "gp_geom", *[r[0] for r in cursor.fetchall()]])
    cursor.execute(f"INSERT INTO {table} (gp_fid, gp_key, gp_vfrom, {cols}) SELECT gp_fid, gp_key, %s, {cols} "
                   f"FROM {table} t WHERE {valid_at(target)} AND t.gp_vto IS NOT NULL", [version])
    return {"added": cursor.rowcount, "changed": 0, "removed": removed}


def current_summary(cursor, table: str) -> tuple[int, list[float] | None]:
    """(feature count, [w, s, e, n]) of the current rows."""
    cursor.execute(f"SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT count(*) AS n, "
                   f"ST_Extent(gp_geom) AS e FROM {table} WHERE gp_vto IS NULL) q")
    count, *bounds = cursor.fetchone()
    return count, (None if bounds[0] is None else [float(v) for v in bounds])
