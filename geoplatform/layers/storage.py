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
_FAMILIES = {"Point": (0, 4), "LineString": (1, 5), "Polygon": (3, 6)}
_TYPE_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString",
               6: "MultiPolygon", 7: "GeometryCollection"}


def valid_at(version: int, alias: str = "t") -> str:
    """SQL predicate: the row belongs to ``version`` (an int we control, never request text)."""
    v = int(version)
    return f"({alias}.gp_vfrom <= {v} AND ({alias}.gp_vto IS NULL OR {alias}.gp_vto > {v}))"


def create_table(cursor, table: str, columns: dict[str, str]) -> None:
    attrs = "".join(f", {c} {t}" for c, t in columns.items())
    cursor.execute("CREATE SCHEMA IF NOT EXISTS layer_data")
    cursor.execute(f"CREATE TABLE {table} (gp_fid bigint NOT NULL, gp_key text, gp_vfrom integer NOT NULL DEFAULT 1, "
                   f"gp_vto integer, gp_geom geometry(Geometry, 4490){attrs})")


def add_columns(cursor, table: str, columns: dict[str, str]) -> None:
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
                progress: Callable[[int], None] | None = None) -> int:
    """Binary COPY of encoded chunks; reading/encoding runs in a thread so it overlaps PostgreSQL's work."""
    pending: queue.Queue = queue.Queue(maxsize=2)
    producer = threading.Thread(target=_produce, args=(chunks, pending), daemon=True)
    producer.start()
    rows = 0
    raw = getattr(cursor, "cursor", cursor)
    try:
        with raw.copy(f"COPY {target} ({', '.join(columns)}) FROM STDIN (FORMAT binary)") as copy:
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
    """A unique index on the current rows' keys: it rejects duplicate keys and serves the next diff."""
    name = table.split(".")[1]
    cursor.execute(f"SELECT gp_key, count(*) FROM {table} WHERE gp_vto IS NULL GROUP BY gp_key "
                   "HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 3")
    duplicates = cursor.fetchall()
    if duplicates:
        listed = ", ".join(f"{k!r} ×{n}" for k, n in duplicates)
        raise ImportRejected(f"the key field is not unique: {listed}")
    cursor.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {name}_key ON {table} (gp_key) WHERE gp_vto IS NULL")


def create_stage(cursor, table: str, columns: list[Field]) -> None:
    attrs = "".join(f", {f.column} {f.type}" for f in columns)
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}, gp_diff")  # left by an earlier publish in this transaction
    cursor.execute(f"CREATE TEMP TABLE {STAGE} (gp_key text, gp_geom geometry(Geometry, 4490){attrs}) "
                   "ON COMMIT DROP")


def unify_multi(cursor, target: str, where: str, type_counts: dict[int, int]) -> tuple[str, int]:
    """Promote singles to multis when a family has both; returns (geometry type, features promoted)."""
    present = {t for t, n in type_counts.items() if n}
    promoted = 0
    for family, (single, multi) in _FAMILIES.items():
        if single in present and multi in present:
            cursor.execute(f"UPDATE {target} SET gp_geom = ST_Multi(gp_geom) WHERE {where} "
                           "AND ST_GeometryType(gp_geom) = %s", [f"ST_{family}"])
            promoted += cursor.rowcount
            present.discard(single)
    if len(present) == 1:
        return _TYPE_NAMES[present.pop()], promoted
    return ("Geometry" if present else "Unknown"), promoted


def apply_keyed(cursor, table: str, version: int, fields: list[Field]) -> dict[str, int]:
    """Diff the staged rows against the current ones by key: close changed/removed rows, insert added/changed."""
    cursor.execute(f"SELECT gp_key, count(*) FROM {STAGE} GROUP BY gp_key HAVING count(*) > 1 "
                   "ORDER BY 2 DESC LIMIT 3")
    duplicates = cursor.fetchall()
    if duplicates:
        raise ImportRejected("the key field is not unique: " + ", ".join(f"{k!r} ×{n}" for k, n in duplicates))
    cursor.execute(f"ANALYZE {STAGE}")
    cols = ["gp_geom", *[f.column for f in fields]]
    current = ", ".join(f"c.{c}" for c in cols)
    staged = ", ".join(f"s.{c}" for c in cols)
    cursor.execute(
        "CREATE TEMP TABLE gp_diff ON COMMIT DROP AS "
        "SELECT c.gp_fid AS fid, coalesce(s.gp_key, c.gp_key) AS key, "
        "CASE WHEN c.gp_fid IS NULL THEN 'a' WHEN s.gp_key IS NULL THEN 'r' ELSE 'c' END AS kind "
        f"FROM (SELECT * FROM {table} WHERE gp_vto IS NULL) c FULL JOIN {STAGE} s ON s.gp_key = c.gp_key "
        f"WHERE c.gp_key IS NULL OR s.gp_key IS NULL OR ({current}) IS DISTINCT FROM ({staged})")
    cursor.execute(f"UPDATE {table} t SET gp_vto = %s FROM gp_diff d "
                   "WHERE t.gp_fid = d.fid AND t.gp_vto IS NULL AND d.kind IN ('c', 'r')", [version])
    insert_cols = ", ".join(cols)
    cursor.execute(
        f"INSERT INTO {table} (gp_fid, gp_key, gp_vfrom, {insert_cols}) "
        "SELECT coalesce(d.fid, m.top + row_number() OVER ()), s.gp_key, %s, "
        + ", ".join(f"s.{c}" for c in cols)
        + f" FROM gp_diff d JOIN {STAGE} s ON s.gp_key = d.key, "
        f"(SELECT coalesce(max(gp_fid), 0) AS top FROM {table}) m WHERE d.kind IN ('a', 'c')", [version])
    cursor.execute("SELECT kind, count(*) FROM gp_diff GROUP BY kind")
    counts = dict(cursor.fetchall())
    return {"added": counts.get("a", 0), "changed": counts.get("c", 0), "removed": counts.get("r", 0)}


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
    cols = ", ".join(["gp_geom", *[r[0] for r in cursor.fetchall()]])
    cursor.execute(f"INSERT INTO {table} (gp_fid, gp_key, gp_vfrom, {cols}) SELECT gp_fid, gp_key, %s, {cols} "
                   f"FROM {table} t WHERE {valid_at(target)} AND t.gp_vto IS NOT NULL", [version])
    return {"added": cursor.rowcount, "changed": 0, "removed": removed}


def current_summary(cursor, table: str) -> tuple[int, list[float] | None]:
    """(feature count, [w, s, e, n]) of the current rows."""
    cursor.execute(f"SELECT n, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT count(*) AS n, "
                   f"ST_Extent(gp_geom) AS e FROM {table} WHERE gp_vto IS NULL) q")
    count, *bounds = cursor.fetchone()
    return count, (None if bounds[0] is None else [float(v) for v in bounds])
