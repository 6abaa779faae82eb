"""What a file says about each feature before GDAL reads it: bad rows (see :mod:`.bad_rows`), and which features
declare that they have no geometry.

GDAL reads a geometry it cannot parse as no geometry and cuts text at a NUL character, without a word, so
the file itself is looked at first: a CSV row by row (:mod:`.csv_rows`); a GeoJSON feature by feature,
streamed with the standard JSON decoder (``"geometry": null`` is a declared absence, any other missing
geometry is unreadable; NUL in a property); a GeoPackage with one SQL query for NUL in its text columns.
Shapefiles and FlatGeobuf are not scanned: a DBF pads text with NUL by convention, and a FlatGeobuf
geometry is binary, so a missing one is a declared null.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geoplatform.layers.importing import csv_rows
from geoplatform.layers.importing.bad_rows import NAMED
from geoplatform.layers.importing.errors import ImportRejected
from geoplatform.layers.importing.sources import Source


@dataclass
class RowScan:
    """Bad features found before reading (0-based indices in GDAL's order) and how to read missing geometries.

    ``missing_is_null``: every feature GDAL reads without geometry says so in the file (a GeoPackage NULL, a
    Shapefile null shape); otherwise only those in ``null_geometry`` do, and any other is unreadable, a bad row
    named with ``unreadable``.
    """

    unit: str = "feature"
    bad: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    reasons: dict[int, str] = field(default_factory=dict)
    missing_is_null: bool = True
    null_geometry: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    unreadable: str = "its geometry cannot be read"
    csv: csv_rows.CsvScan | None = None

    def number(self, index: int) -> int:
        """The line (CSV) or 1-based feature number of feature ``index``, as the publisher sees it."""
        return self.csv.line(index) if self.csv is not None else index + 1

    def reason(self, index: int) -> str:
        return self.reasons.get(index, "bad row")

    def bad_among(self, positions: np.ndarray) -> np.ndarray:
        """Which of ``positions`` (sorted feature indices) are bad rows."""
        return _member(positions, self.bad)

    def declared_null(self, positions: np.ndarray) -> np.ndarray:
        """Which of ``positions`` the file declares to have no geometry."""
        if self.missing_is_null:
            return np.ones(len(positions), bool)
        return _member(positions, self.null_geometry)


def _member(positions: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    if not len(sorted_values):
        return np.zeros(len(positions), bool)
    at = np.searchsorted(sorted_values, positions).clip(max=len(sorted_values) - 1)
    return sorted_values[at] == positions


def scan_source(source: Source, info: dict, changes: bool) -> RowScan:
    """The :class:`RowScan` of an opened source (``info`` from pyogrio.read_info)."""
    if source.driver == "CSV":
        return _csv_scan(source, changes)
    if source.driver == "GeoJSON":
        return _geojson_scan(source.path, int(info.get("features", -1)))
    if source.driver == "GPKG":
        return _gpkg_scan(source.path, info)
    return RowScan()


def _csv_scan(source: Source, changes: bool) -> RowScan:
    scan = csv_rows.scan_csv(source.path, source.encoding, source.separator or ",", changes)
    unreadable = (f"the geometry in column {scan.column_names[0]} cannot be read (not valid WKT)"
                  if scan.mode == "wkt" else "no geometry was read from its coordinates")
    return RowScan("line", np.array(scan.bad, np.int64), scan.reasons, missing_is_null=False,
                   unreadable=unreadable, csv=scan)


_SPACE = re.compile(r"[ \t\r\n]*")


class _NotWalkable(Exception):
    """The text is not the FeatureCollection (or Feature) the walker expects."""


class _JsonStream:
    """JSON values decoded one at a time from a file (memory bounded by the largest feature, not the file)."""

    def __init__(self, f):
        self.f, self.buf, self.pos, self.eof = f, "", 0, False
        self.decoder = json.JSONDecoder()

    def _more(self) -> None:
        chunk = "" if self.eof else self.f.read(max(1 << 20, len(self.buf) - self.pos))
        self.eof = self.eof or not chunk
        self.buf, self.pos = self.buf[self.pos:] + chunk, 0

    def peek(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            self.pos = _SPACE.match(self.buf, self.pos).end()
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self._more()

    def take(self, allowed: str) -> str:
        char = self.peek()
        if not char or char not in allowed:
            raise _NotWalkable
        self.pos += 1
        return char

    def value(self):
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
                if end < len(self.buf) or self.eof:  # a number cut by the buffer's end would decode too early
                    self.pos = end
                    return value
            except json.JSONDecodeError:
                if self.eof:
                    raise _NotWalkable from None
            self._more()


def _features(stream: _JsonStream) -> Iterator:
    """The features of a FeatureCollection (or the single Feature) in file order."""
    top = {}
    stream.take("{")
    if stream.peek() == "}":
        return
    while True:
        key = stream.value()
        stream.take(":")
        if key == "features":
            stream.take("[")
            if stream.peek() == "]":
                stream.pos += 1
            else:
                while True:
                    yield stream.value()
                    if stream.take(",]") == "]":
                        break
        else:
            top[key] = stream.value()
        if stream.take(",}") == "}":
            break
    if top.get("type") == "Feature":
        yield top


def _geojson_scan(path: Path, total: int) -> RowScan:
    scan = RowScan(missing_is_null=False,
                   unreadable="its geometry cannot be read (coordinates must be numbers, e.g. [116.4, 39.9])")
    nul = b"\x00"
    found = _find_bytes(path, (nul, b"null", b"\\u0000"))
    if nul in found:
        raise ImportRejected(f"{path.name}: line {found[nul]} holds a NUL byte, which JSON text cannot contain "
                             "(write it as \\u0000 inside a string, or remove it)")
    if not found:
        return scan  # nothing declared null, no NUL: every missing geometry is unreadable
    nulls, bad = [], []
    count = 0
    try:
        with path.open(encoding="utf-8-sig", errors="replace") as f:
            for index, feature in enumerate(_features(_JsonStream(f))):
                count = index + 1
                if not isinstance(feature, dict):
                    continue
                if feature.get("geometry") is None:
                    nulls.append(index)
                problem = _nul_problem(feature.get("properties"))
                if problem is not None:
                    bad.append(index)
                    if len(scan.reasons) < NAMED:
                        scan.reasons[index] = problem
    except _NotWalkable:
        count = -1
    if count != total:  # not walked as GDAL read it: trust no declared null
        scan.unreadable = "no geometry (null, or coordinates that cannot be read)"
        return scan
    scan.null_geometry, scan.bad = np.array(nulls, np.int64), np.array(bad, np.int64)
    return scan


def _find_bytes(path: Path, needles: tuple[bytes, ...]) -> dict[bytes, int]:
    """The line of the first occurrence of each of ``needles`` found in the file, read in blocks."""
    found, line, tail = {}, 1, b""
    with path.open("rb") as f:
        while block := f.read(16 << 20):
            data = tail + block
            for needle in needles:
                at = data.find(needle)
                if needle not in found and at >= 0:
                    found[needle] = line + data.count(b"\n", 0, at)
            keep = max(len(n) for n in needles) - 1
            line += data.count(b"\n", 0, len(data) - keep)
            tail = data[len(data) - keep:]
    return found


def _nul_problem(properties) -> str | None:
    if not isinstance(properties, dict):
        return None
    for name, value in properties.items():
        if "\x00" in name:
            return f"NUL character in the field name {name.replace(chr(0), '')!r}"
        if isinstance(value, str) and "\x00" in value:
            return f"NUL character in field {name}"
    return None


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _gpkg_scan(path: Path, info: dict) -> RowScan:
    """NUL characters in a GeoPackage's text columns (GDAL would cut the values there)."""
    scan = RowScan()
    text = [str(n) for n, t in zip(info["fields"], info["ogr_types"], strict=True) if t == "OFTString"]
    if not text or not info.get("layer_name"):
        return scan
    table = _quote(str(info["layer_name"]))
    # one pass over the text first (about 0.4 s for a million rows); the feature numbers only when there is a NUL
    anywhere = " || ".join(f"coalesce({_quote(c)}, '')" for c in text)
    found = " ".join(f"WHEN instr(CAST({_quote(c)} AS BLOB), X'00') > 0 THEN {_sql_text(c)}" for c in text)
    sql = (f"SELECT idx, field FROM (SELECT row_number() OVER (ORDER BY {_quote(info.get('fid_column') or 'fid')}) "
           f"- 1 AS idx, CASE {found} END AS field FROM {table}) WHERE field IS NOT NULL")
    try:
        with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
            if not db.execute(f"SELECT 1 FROM {table} WHERE instr(CAST({anywhere} AS BLOB), X'00') LIMIT 1").fetchall():
                return scan
            rows = db.execute(sql).fetchall()
    except sqlite3.Error:  # not plain SQLite tables (GDAL could read it): nothing to add
        return scan
    scan.bad = np.array([int(i) for i, _ in rows], np.int64)
    for index, name in rows[:NAMED]:
        scan.reasons[int(index)] = f"NUL character in field {name}"
    return scan


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
