"""Read a source in chunks with pyogrio, and turn each chunk into COPY rows in CGCS2000.

Per chunk: CRS check and transform, degrees-out-of-range and extent checks (with the likely
cause), invalid geometries repaired with shapely's make_valid and counted, empty ones stored
as NULL and counted, Z dropped. Geometry-type counts are kept so mixed single/multi can be
unified after the load. Bad rows (:mod:`.bad_rows`: found by :mod:`.prescan`, or a geometry GDAL
could not read) are left out and counted; the file is refused naming them unless the publisher
asked to skip them. Features the file declares without geometry are stored so and counted.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from geoplatform.layers import conf
from geoplatform.layers.importing import copy_binary as cb
from geoplatform.layers.importing import crs as crs_mod
from geoplatform.layers.importing import csv_rows
from geoplatform.layers.importing.bad_rows import BadRows
from geoplatform.layers.importing.changes import (
    DELETED_FIELD,
    CurrentRows,
    deleted_flags,
    key_strings,
    row_hashes,
    schema_seed,
)
from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.importing.prescan import RowScan, scan_source
from geoplatform.layers.importing.schema import SQL_TYPES, Field, sql_type
from geoplatform.layers.importing.sources import Source

CHUNK = 32_768  # features per batch: small enough for reading, encoding and COPY to overlap well
PREFIX_COLUMNS = {"fid": "gp_fid", "key": "gp_key", "hash": "gp_hash"}
_FIXED_SIZE = {"fid", "hash", "integer", "bigint", "double precision", "boolean", "date", "timestamp"}


def copy_order(prefix: list[str], fields: list[Field]) -> list[tuple[str, str]]:
    """(kind, column) in the order chunks are encoded: fixed-size columns, the geometry, then the rest.

    ``kind`` is a prefix name ("fid", "key", "hash"), "geometry" or a field's SQL type.
    """
    items = [(name, PREFIX_COLUMNS[name]) for name in prefix] + [(f.type, f.column) for f in fields]
    fixed = [kind in _FIXED_SIZE for kind, _ in items]
    ordered = cb.fixed_first(items, fixed)
    first_variable = sum(fixed)
    return [*ordered[:first_variable], ("geometry", "gp_geom"), *ordered[first_variable:]]


@dataclass
class ReadStats:
    features: int = 0
    repaired: int = 0
    empty: int = 0
    z_dropped: int = 0
    no_geometry: int = 0  # features the file declares without geometry, stored so
    geometry_types: Counter = field(default_factory=Counter)
    bounds: list[float] | None = None
    bad: BadRows = field(default_factory=BadRows)

    def merge(self, other: ReadStats) -> None:
        self.features += other.features
        self.repaired += other.repaired
        self.empty += other.empty
        self.z_dropped += other.z_dropped
        self.no_geometry += other.no_geometry
        self.bad.merge(other.bad)
        self.geometry_types.update(other.geometry_types)
        if other.bounds is not None:
            self.add_bounds(np.array([other.bounds]))

    def add_bounds(self, b: np.ndarray) -> None:
        if np.isnan(b).all():
            return
        chunk = [float(np.nanmin(b[:, 0])), float(np.nanmin(b[:, 1])), float(np.nanmax(b[:, 2])),
                 float(np.nanmax(b[:, 3]))]
        if self.bounds is None:
            self.bounds = chunk
        else:
            self.bounds = [min(self.bounds[0], chunk[0]), min(self.bounds[1], chunk[1]),
                           max(self.bounds[2], chunk[2]), max(self.bounds[3], chunk[3])]


def _gdal_error(source: Source, exc: Exception) -> ImportRejected:
    return ImportRejected(f"{source.path.name} cannot be read as {source.driver}: {str(exc).strip()}")


class LayerReader:
    """One source opened for reading: its schema and CRS up front, then encoded chunks."""

    def __init__(self, source: Source, crs_override: str | None = None, key: str | None = None,
                 changes: bool = False, skip_bad_rows: bool = False):
        self.source = source
        self.skip_bad_rows = skip_bad_rows
        self.changes = changes
        try:
            info = pyogrio.read_info(source.path, layer=source.layer, encoding=source.encoding, **source.options)
        except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError, DataLayerError, ...
            raise _gdal_error(source, exc) from None
        if info.get("geometry_type") is None:
            hint = (" (name the coordinate columns lon/lat, x/y or 经度/纬度, or put WKT in a column named wkt)"
                    if source.driver == "CSV" else "")
            raise ImportRejected(f"{source.path.name} has no geometry column{hint}")
        self.total = int(info.get("features", -1))
        self.geometry_type = str(info["geometry_type"])
        if self.total == 0:
            raise ImportRejected(f"{source.path.name} has no features (0 rows)")
        self.scan: RowScan = scan_source(source, info, changes)
        if self.scan.csv is not None and len(self.scan.bad) and not skip_bad_rows:
            refusal = BadRows(self.scan.unit)
            for index in self.scan.bad:
                refusal.add(self.scan.number(int(index)), self.scan.reason(int(index)))
            raise refusal.refusal(source.path.name)
        self.crs_note = None
        if crs_override:
            self.epsg = crs_mod.parse_epsg(crs_override)
        else:
            declared = crs_mod.epsg_of_source(info.get("crs"))
            if declared is None and self.scan.csv is not None:
                declared, self.crs_note = csv_rows.assumed_epsg(self.scan.csv, source.path.name), csv_rows.ASSUMED_NOTE
            if declared is None:
                raise ImportRejected(f"{source.path.name} declares no CRS: name it with --crs EPSG:NNNN "
                                     "(e.g. EPSG:4490 for CGCS2000 degrees)")
            self.epsg = declared
        subtypes = info.get("ogr_subtypes") or ["OFSTNone"] * len(info["fields"])
        self.names_types = [(str(n), sql_type(t, s)) for n, t, s in zip(info["fields"], info["ogr_types"], subtypes,
                                                                          strict=True)]
        self.key = key
        self.deleted_field = None
        self.deleted_keys: list[str] = []
        if changes:
            if key is None:
                raise ImportRejected("a change set needs the layer's key field (--key) to name the features it "
                                     "changes")
            if any(n == DELETED_FIELD for n, _ in self.names_types):
                self.deleted_field = DELETED_FIELD
                self.names_types = [(n, t) for n, t in self.names_types if n != DELETED_FIELD]
        if key is not None and key not in [n for n, _ in self.names_types]:
            raise ImportRejected(f"key field {key!r} is not in {source.path.name}; its fields: "
                                 + ", ".join(n for n, _ in self.names_types))
        self.stats = ReadStats(bad=BadRows(self.scan.unit))

    def _batches(self, chunk: int) -> Iterator[tuple[int, dict, pa.RecordBatch]]:
        """(first feature, metadata, batch) for each ``chunk`` features, streamed in file order by GDAL's columnar
        reader: no Python object per value, strings and WKB stay in Arrow buffers until something needs them."""
        first = 0
        try:
            with pyogrio.raw.open_arrow(self.source.path, layer=self.source.layer, encoding=self.source.encoding,
                                        batch_size=chunk, use_pyarrow=True, **self.source.options) as (meta, stream):
                for batch in stream:
                    if batch.num_rows:
                        yield first, meta, batch
                        first += batch.num_rows
        except ImportRejected:
            raise
        except Exception as exc:  # noqa: BLE001 - pyogrio raises DataSourceError, DataLayerError, ...
            raise _gdal_error(self.source, exc) from None

    def points(self, block: np.ndarray, stats: ReadStats) -> np.ndarray | None:
        """Fast path for 2-D points: checks and transform on the coordinates; None when a check fails (the
        general path then names the problem) or a point is empty (NaN)."""
        xy = np.ascontiguousarray(block[:, 5:]).view("<f8")
        if not np.isfinite(xy).all():
            return None
        x, y = xy[:, 0], xy[:, 1]
        if crs_mod.is_geographic(self.epsg) and ((np.abs(x) > 180).any() or (np.abs(y) > 90).any()):
            return None
        if self.epsg != crs_mod.STORAGE_SRID:
            x, y = crs_mod.transform_xy(x, y, self.epsg)
        west, south, east, north = conf.platform_extent()
        if not (np.isfinite(x).all() and np.isfinite(y).all()) or (x < west).any() or (x > east).any() \
                or (y < south).any() or (y > north).any():
            return None
        if self.epsg != crs_mod.STORAGE_SRID:
            block = block.copy()
            block[:, 5:] = np.column_stack([x, y]).astype("<f8").view(np.uint8).reshape(-1, 16)
        stats.add_bounds(np.column_stack([x.min(), y.min(), x.max(), y.max()]))
        stats.geometry_types[0] += len(block)
        return block

    def geometries(self, wkb: np.ndarray, first: int, stats: ReadStats) -> tuple[np.ndarray, bool]:
        """(WKB in CGCS2000, whether it differs from the input), after every check and repair.

        2-D points come back as an (n, 21) uint8 block (see :func:`.copy_binary.point_block`), everything else as bytes.
        """
        block = wkb if wkb.ndim == 2 else cb.point_block(wkb)
        if block is not None:
            points = self.points(block, stats)
            if points is not None:
                return points, points is not block
        if wkb.ndim == 2:  # a point block that failed a check: the general path names the problem
            wkb = np.array([bytes(row) for row in wkb], dtype=object)
        source = shapely.from_wkb(wkb, on_invalid="ignore")
        geoms = source
        changed = False
        has_z = shapely.has_z(geoms)
        if has_z.any():
            stats.z_dropped += int(has_z.sum())
            geoms, source, changed = shapely.force_2d(geoms), shapely.force_2d(source), True
        crs_mod.check_source_coordinates(geoms, self.epsg, first)
        if self.epsg != crs_mod.STORAGE_SRID:
            geoms, changed = crs_mod.to_storage(geoms, self.epsg), True
        present = ~shapely.is_missing(geoms)
        empty = present & shapely.is_empty(geoms)
        if empty.any():
            stats.empty += int(empty.sum())
            geoms, changed = np.where(empty, None, geoms), True
            present &= ~empty
        invalid = present & ~shapely.is_valid(geoms)
        if invalid.any():
            stats.repaired += int(invalid.sum())
            geoms = geoms.copy()
            geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
            changed = True
        crs_mod.check_extent(geoms, source, self.epsg, first)
        stats.add_bounds(shapely.bounds(geoms))
        ids, counts = np.unique(shapely.get_type_id(geoms[present]), return_counts=True)
        stats.geometry_types.update({int(i): int(c) for i, c in zip(ids, counts, strict=True)})
        return (shapely.to_wkb(geoms) if changed else wkb), changed

    def chunks(self, fields: list[Field], prefix: list[str], chunk: int = CHUNK,
               current: CurrentRows | None = None) -> Iterator[tuple[int, bytes]]:
        """(rows, COPY tuples) per chunk, columns in the order of :func:`copy_order`.

        ``prefix`` names generated columns: "fid" numbers the rows from 1, "key" is the key field as
        text, "hash" the row hash (:func:`.changes.row_hashes`). With ``current`` (a full-file update)
        only rows that are new or differ from the current version are encoded. Rows marked in the
        ``_deleted`` field of a change set are never encoded; their keys end up in ``self.deleted_keys``.

        The file is streamed once, in order; when it has more than one chunk the batches are encoded in
        ``conf.read_processes()`` forked processes (PostgreSQL and the encoding then overlap on more
        cores); the processes are started here, in the caller's thread, and stopped when the iterator ends.
        """
        job = (fields, prefix, copy_order(prefix, fields), schema_seed([(f.name, f.type) for f in fields]), current)
        self.stats, self.deleted_keys = ReadStats(bad=BadRows(self.scan.unit)), []
        # A whole-file update hashes every row but encodes few: the hashing is worth spreading over processes
        processes = conf.read_processes(None if current is not None else self.geometry_type)
        # Forking is safe only from a process's main thread: in the threaded web server a child can inherit a
        # lock another request's thread held at that moment and wait on it for ever (the publish then hangs
        # mid-COPY). Uploads over HTTP are encoded in their own thread instead.
        if processes > 1 and self.total > chunk and threading.current_thread() is threading.main_thread():
            global _JOB
            _JOB = (self, job)
            pool = multiprocessing.get_context("fork").Pool(min(processes, -(-self.total // chunk)))
            return self._merge(pool.imap(_encode_job, self._batches(chunk)), current, pool)
        return self._merge((self.encode_chunk(*batch, *job) for batch in self._batches(chunk)), current, None)

    def _merge(self, parts: Iterator[EncodedChunk], current: CurrentRows | None, pool) -> Iterator[tuple[int, bytes]]:
        try:
            for part in parts:
                self.stats.merge(part.stats)
                self.deleted_keys.extend(part.deleted_keys)
                if current is not None:
                    current.mark_seen(part.seen, part.first + part.rows)
                if part.rows:
                    yield part.kept, part.data
        finally:
            if pool is not None:
                pool.terminate()
        name, bad = self.source.path.name, self.stats.bad
        if bad.count and not self.skip_bad_rows:
            raise bad.refusal(name)
        if self.stats.features == 0:
            left = f" left after leaving out {bad.count} bad rows" if bad.count else " (0 rows)"
            raise ImportRejected(f"{name} has no features{left}")
        if not self.changes and not sum(self.stats.geometry_types.values()):
            raise ImportRejected(f"none of the {self.stats.features} features of {name} has a geometry")

    def encode_chunk(self, first: int, meta: dict, table: pa.RecordBatch, fields: list[Field], prefix: list[str],
                     order: list[tuple[str, str]], seed, current: CurrentRows | None) -> EncodedChunk:
        """Check and repair the features of one batch (the first is feature ``first``), and encode the rows to load."""
        stats = ReadStats(bad=BadRows(self.scan.unit))
        batch_rows = table.num_rows
        if batch_rows == 0:
            return EncodedChunk(first, 0, 0, b"", stats)
        positions = np.arange(first, first + batch_rows, dtype=np.int64)
        scanned = self.scan.bad_among(positions)
        left_out: list[tuple[int, str]] = []
        if scanned.any():
            table, positions = self._leave_out(table, positions, scanned, "", left_out)
        geometry = table.column(meta.get("geometry_name") or "wkb_geometry")
        wkb = cb.point_block_arrow(geometry)
        wkb_out, _ = self.geometries(wkb if wkb is not None else geometry.to_numpy(zero_copy_only=False),
                                     first, stats)
        missing = np.zeros(len(positions), bool) if wkb_out.ndim == 2 else pd.isna(wkb_out)
        if missing.any():
            unreadable = missing & ~self.scan.declared_null(positions)
            if self.deleted_field is not None:  # a removed row needs no geometry
                removed = deleted_flags(_NumpyColumns({"d": table.column(self.deleted_field)})["d"])
                unreadable &= ~removed
                missing &= ~removed
            if unreadable.any():
                table, positions = self._leave_out(table, positions, unreadable, self.scan.unreadable, left_out)
                wkb_out, missing = wkb_out[~unreadable], missing[~unreadable]
            stats.no_geometry = int(missing.sum())
        for index, reason in sorted(left_out):
            stats.bad.add(self.scan.number(index), reason)
        n = len(positions)
        if n == 0:
            return EncodedChunk(first, batch_rows, 0, b"", stats, [], np.zeros(0, np.int64))
        columns_by_name = {str(f): table.column(str(f)) for f in meta["fields"]}
        by_name = _NumpyColumns(columns_by_name)
        keys = hashes = seen = None
        deleted_keys: list[str] = []
        if self.key is not None:
            keys = key_strings(by_name[self.key])
            no_key = pd.isna(by_name[self.key])
            if no_key.any():
                row = self.scan.number(int(positions[np.flatnonzero(no_key)[0]]))
                raise ImportRejected(f"{self.scan.unit} {row} has no value in the key field {self.key!r}")
        if "hash" in prefix:
            hashes = row_hashes(seed, keys, [by_name[f.name] for f in fields], wkb_out)
        rows = np.ones(n, bool)
        if self.deleted_field is not None:
            deleted = deleted_flags(by_name[self.deleted_field])
            deleted_keys = list(keys[deleted])
            rows &= ~deleted
        if current is not None:
            changed, seen = current.compare(keys, hashes)
            rows &= changed
        stats.features = n
        every = bool(rows.all())
        if not every:
            wkb_out = wkb_out[rows]
            keys = None if keys is None else keys[rows]
            hashes = None if hashes is None else hashes[rows]
            kept_rows = pa.array(rows)
        by_column = {f.column: f.name for f in fields}
        columns = []
        for kind, column in order:
            if kind == "fid":
                columns.append(cb.int8((positions + 1)[rows]))
            elif kind == "key":
                columns.append(cb.text(keys))
            elif kind == "hash":
                columns.append(cb.int8(hashes))
            elif kind == "geometry":
                columns.append(cb.ewkb(wkb_out, crs_mod.STORAGE_SRID))
            else:
                name = by_column[column]
                encoded = None
                if kind == "text":
                    arrow = columns_by_name[name]
                    encoded = cb.text_arrow(arrow if every else arrow.filter(kept_rows))
                if encoded is None:
                    values = by_name[name]
                    encoded = SQL_TYPES[kind][1](values if every else values[rows])
                columns.append(encoded)
        kept = int(rows.sum())
        return EncodedChunk(first, batch_rows, kept, cb.encode_rows(columns) if kept else b"", stats, deleted_keys,
                            seen)

    def _leave_out(self, table: pa.RecordBatch, positions: np.ndarray, bad: np.ndarray, reason: str,
                   left_out: list[tuple[int, str]]) -> tuple[pa.RecordBatch, np.ndarray]:
        """The batch without its ``bad`` rows, which are added to ``left_out`` (with ``reason``, or the scan's)."""
        left_out.extend((int(i), reason or self.scan.reason(int(i))) for i in positions[bad])
        return table.filter(pa.array(~bad)), positions[~bad]


@dataclass
class EncodedChunk:
    """One chunk's COPY rows and what reading it found (merged in file order by :meth:`LayerReader.chunks`)."""

    first: int
    rows: int
    kept: int
    data: bytes
    stats: ReadStats
    deleted_keys: list[str] = field(default_factory=list)
    seen: np.ndarray | None = None  # positions of the current version's keys met in this chunk


class _NumpyColumns(dict):
    """Arrow columns converted on first use to the numpy arrays pyogrio's row reader gives (strings as objects,
    integers with NULLs as floats with NaN, booleans with NULLs as 1.0/0.0/NaN), so that row hashes do
    not depend on the reader."""

    def __init__(self, arrow: dict[str, pa.ChunkedArray]):
        super().__init__()
        self.arrow = arrow

    def __missing__(self, name: str) -> np.ndarray:
        column = self.arrow[name]
        if pa.types.is_boolean(column.type) and column.null_count:
            column = column.cast(pa.float64())
        values = column.to_numpy(zero_copy_only=False)
        self[name] = values
        return values


_JOB: tuple | None = None  # (reader, job) for the forked reading processes


def _encode_job(batch: tuple[int, dict, pa.RecordBatch]) -> EncodedChunk:
    reader, job = _JOB
    return reader.encode_chunk(*batch, *job)
