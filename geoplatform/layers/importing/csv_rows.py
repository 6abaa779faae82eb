"""A CSV's rows checked before GDAL reads them: coordinates that are not numbers, NUL characters, ragged rows.

GDAL's CSV driver turns a coordinate it cannot parse into a feature without geometry and cuts a value
at a NUL character (``A\\0B,116.40,39.92`` becomes name "A", no geometry), silently. This scan finds
those rows and their line numbers (the header is line 1) first. A clean file (one record per line, no
NUL) is checked column by column with pyarrow's CSV reader; any other one (quoted values spanning lines,
blank lines, rows with too few or too many fields, NUL) row by row with Python's csv module, which
knows the line each record starts on. Both apply :func:`coordinate_problem`.

The scan also gives the coordinates' range, from which a CSV without a CRS is read as CGCS2000 degrees
(:func:`assumed_epsg`), as desktop GIS tools do for delimited text.
"""

from __future__ import annotations

import csv
import re
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from geoplatform.layers.importing.bad_rows import NAMED
from geoplatform.layers.importing.changes import DELETED_FIELD, deleted_word
from geoplatform.layers.importing.errors import ImportRejected

# Column names GDAL reads as coordinates or WKT (its X/Y/GEOM_POSSIBLE_NAMES, matched case-insensitively)
X_NAMES = ("lon", "lng", "long", "longitude", "x", "经度", "东经")
Y_NAMES = ("lat", "latitude", "y", "纬度", "北纬")
GEOMETRY_NAMES = ("wkt", "geom", "geometry", "the_geom", "shape")
SEPARATORS = {",": "COMMA", ";": "SEMICOLON", "\t": "TAB", " ": "SPACE"}
ASSUMED_NOTE = "assumed EPSG:4490 because a CSV carries no CRS"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_IS_NUMBER = re.compile(rf"\s*{_NUMBER}\s*\Z", re.ASCII).match
_SPACE = " \t\r\n"
_ARROW_BLOCK = 16 << 20


def detect_separator(header: str) -> str:
    """The separator GDAL's CSV driver picks from the header line: the first of , ; TAB outside quotes (a
    comma when they are mixed), else a space if there is one, else a comma. It is then passed to GDAL
    explicitly, so that this scan and GDAL split the lines alike."""
    found, spaces, quoted = "", False, False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in ",;\t":
            if found and found != char:
                return ","
            found = found or char
        elif not quoted and char == " ":
            spaces = True
    return found or (" " if spaces else ",")


def header_line(path: Path, encoding: str | None) -> str:
    """The first line of ``path``, decoded (UTF-8 with or without a BOM unless told otherwise)."""
    with path.open("rb") as f:
        head = f.readline(1 << 20)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRejected(f"{path.name} is UTF-16 text: save the CSV as UTF-8 (or GBK) and send it again")
    return head.decode(encoding or "utf-8-sig", "replace").rstrip("\r\n")


@dataclass
class CsvScan:
    """What the scan found: bad records (0-based, in GDAL's feature order), lines, coordinate columns, ranges."""

    separator: str
    names: list[str]
    mode: str | None  # "xy" (coordinate columns), "wkt" (a geometry column) or None
    columns: tuple[int, ...] = ()  # positions of the x and y (or the WKT) column
    records: int = 0
    lines: np.ndarray | None = None  # line of each record; None when record i is on line i + 2
    bad: list[int] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    x_range: tuple[float, float] | None = None
    y_range: tuple[float, float] | None = None

    def line(self, record: int) -> int:
        return int(self.lines[record]) if self.lines is not None else record + 2

    def add_bad(self, record: int, reason: str) -> None:
        self.bad.append(record)
        if len(self.reasons) < NAMED:
            self.reasons[record] = reason

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(self.names[i] for i in self.columns)


def _find(names: list[str], candidates: tuple[str, ...]) -> int | None:
    lowered = [n.strip().lower() for n in names]
    return next((i for i, n in enumerate(lowered) if n in candidates), None)


def coordinate_problem(values: list[str], scan: CsvScan, decimal_comma: bool) -> str | None:
    """Why a record's coordinates cannot make a geometry (None when they can); ``values`` are its coordinate
    fields (x and y, or the WKT), "" when the row is too short to have them."""
    if scan.mode == "wkt":
        return None if values[0].strip(_SPACE) else f"no geometry ({scan.column_names[0]} is empty)"
    x, y = values
    x_name, y_name = (_label(n, kind) for n, kind in zip(scan.column_names, ("longitude", "latitude"), strict=True))
    if not x.strip(_SPACE) and not y.strip(_SPACE):
        return f"no coordinates ({x_name} and {y_name} are empty)"
    for text, name in ((x, x_name), (y, y_name)):
        if not text.strip(_SPACE):
            return f"{name} is empty"
        if not _IS_NUMBER(text.replace(",", ".") if decimal_comma else text):
            return f"{name} {text.strip(_SPACE)!r} is not a number"
    return None


def _label(column: str, kind: str) -> str:
    """'longitude' for a lon/经度-like column, the column's own name for x/y (they may be metres)."""
    return column if column.strip().lower() in ("x", "y") else kind


def scan_csv(path: Path, encoding: str | None, separator: str, changes: bool) -> CsvScan:
    """Check every record of a CSV; see the module docstring. ``changes``: rows marked ``_deleted`` need no
    coordinates."""
    header = next(csv.reader([header_line(path, encoding)], delimiter=separator), [])
    if any("\x00" in name for name in header):
        raise ImportRejected(f"{path.name}: line 1: NUL character in the header; remove it and send the file again")
    scan = CsvScan(separator, header, None)
    x, y = _find(header, X_NAMES), _find(header, Y_NAMES)
    wkt = _find(header, GEOMETRY_NAMES)
    if x is not None and y is not None:
        scan.mode, scan.columns = "xy", (x, y)
    elif wkt is not None:
        scan.mode, scan.columns = "wkt", (wkt,)
    deleted = header.index(DELETED_FIELD) if changes and DELETED_FIELD in header else None
    has_nul, lines = _raw_facts(path)
    if not has_nul and _scan_columns(path, scan, deleted) and scan.records == lines - 1:
        return scan
    scan = CsvScan(separator, header, scan.mode, scan.columns)
    _scan_rows(path, encoding, scan, deleted)
    return scan


def _raw_facts(path: Path) -> tuple[bool, int]:
    """(whether the file holds a NUL byte, how many lines it has), read in blocks."""
    has_nul, newlines, last = False, 0, b"\n"
    with path.open("rb") as f:
        while block := f.read(_ARROW_BLOCK):
            has_nul = has_nul or b"\x00" in block
            newlines += block.count(b"\n")
            last = block[-1:]
    return has_nul, newlines + (0 if last == b"\n" else 1)


def _scan_columns(path: Path, scan: CsvScan, deleted: int | None) -> bool:
    """The column-wise check (pyarrow); False when the file is not simple enough for it (ragged rows)."""
    ragged = []
    names = [f"c{i}" for i in range(len(scan.names))]
    wanted = [names[i] for i in (*scan.columns, *(() if deleted is None else (deleted,)))]
    try:
        reader = pa_csv.open_csv(
            path, read_options=pa_csv.ReadOptions(column_names=names, skip_rows=1, block_size=_ARROW_BLOCK),
            parse_options=pa_csv.ParseOptions(delimiter=scan.separator, newlines_in_values=True,
                                              invalid_row_handler=lambda row: ragged.append(row) or "skip"),
            convert_options=pa_csv.ConvertOptions(column_types={n: pa.binary() for n in names},
                                                  include_columns=wanted or names[:1]))
        xs, ys = [], []
        for batch in reader:
            if ragged:
                return False
            first, scan.records = scan.records, scan.records + batch.num_rows
            if scan.mode is not None:
                _check_batch(batch, first, scan, wanted, xs, ys)
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return False
    if ragged:
        return False
    _set_ranges(scan, xs, ys)
    return True


def _check_batch(batch: pa.RecordBatch, first: int, scan: CsvScan, wanted: list[str], xs: list, ys: list) -> None:
    decimal_comma = scan.separator != ","
    coordinates = [batch.column(n) for n in wanted[: len(scan.columns)]]
    if scan.mode == "xy":
        if decimal_comma:
            coordinates = [pc.replace_substring(c, ",", ".") for c in coordinates]
        good = pc.and_(*(pc.match_substring_regex(c, rf"^\s*{_NUMBER}\s*$") for c in coordinates))
    else:
        good = pc.greater(pc.binary_length(pc.cast(pc.ascii_trim_whitespace(pc.cast(coordinates[0], pa.string())),
                                                   pa.binary())), 0)
    good = good.to_numpy(zero_copy_only=False)
    deleted = None if len(wanted) == len(scan.columns) else batch.column(wanted[-1])
    for i in np.flatnonzero(~good):
        if deleted is not None and deleted_word(deleted[int(i)].as_py().decode("utf-8", "replace")):
            continue
        values = [batch.column(n)[int(i)].as_py().decode("utf-8", "replace") for n in wanted[: len(scan.columns)]]
        scan.add_bad(first + int(i), coordinate_problem(values, scan, decimal_comma) or "unreadable coordinates")
    if scan.mode == "xy" and good.any():
        mask = pa.array(good)
        x, y = (pc.cast(pc.ascii_trim_whitespace(pc.cast(c.filter(mask), pa.string())), pa.float64())
                for c in coordinates)
        xs.append(x.to_numpy(zero_copy_only=False))
        ys.append(y.to_numpy(zero_copy_only=False))


def _scan_rows(path: Path, encoding: str | None, scan: CsvScan, deleted: int | None) -> None:
    """The row-wise check (Python's csv module): exact line numbers, NUL characters, ragged rows."""
    csv.field_size_limit(1 << 30)  # WKT polygons are long
    decimal_comma = scan.separator != ","
    lines, xs, ys = array("q"), array("d"), array("d")
    width = len(scan.names)
    with path.open(encoding=encoding or "utf-8-sig", errors="replace", newline="") as f:
        reader = csv.reader(f, delimiter=scan.separator)
        next(reader, None)
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                raise ImportRejected(f"{path.name}: line {start}: {exc}") from None
            if not row:  # a blank line: GDAL skips it too
                continue
            record = scan.records
            scan.records += 1
            lines.append(start)
            reason = _row_problem(row, scan, width, decimal_comma, deleted)
            if reason is not None:
                scan.add_bad(record, reason)
            elif scan.mode == "xy":
                x, y = (row[i].replace(",", ".") if decimal_comma else row[i] for i in scan.columns)
                xs.append(float(x))
                ys.append(float(y))
    scan.lines = np.frombuffer(lines, np.int64) if lines else np.zeros(0, np.int64)
    _set_ranges(scan, [np.frombuffer(xs)] if xs else [], [np.frombuffer(ys)] if ys else [])


def _row_problem(row: list[str], scan: CsvScan, width: int, decimal_comma: bool, deleted: int | None) -> str | None:
    nul = next((i for i, value in enumerate(row) if "\x00" in value), None)
    if nul is not None:
        name = scan.names[nul] if nul < width else f"number {nul + 1}"
        return f"NUL character in field {name}"
    if len(row) > width:  # GDAL would drop the values past the header's columns
        return (f"{len(row)} fields where the header has {width} (a value containing the separator "
                f"{scan.separator!r} must be quoted)")
    row = row + [""] * (width - len(row))  # missing trailing values are empty, as GDAL reads them
    if scan.mode is None or (deleted is not None and deleted_word(row[deleted])):
        return None
    return coordinate_problem([row[i] for i in scan.columns], scan, decimal_comma)


def _set_ranges(scan: CsvScan, xs: list[np.ndarray], ys: list[np.ndarray]) -> None:
    if xs and sum(len(x) for x in xs):
        x, y = np.concatenate(xs), np.concatenate(ys)
        scan.x_range, scan.y_range = (float(x.min()), float(x.max())), (float(y.min()), float(y.max()))


def assumed_epsg(scan: CsvScan, file_name: str) -> int:
    """EPSG:4490 for a CSV without a CRS whose coordinate columns all hold longitudes and latitudes; otherwise
    ImportRejected asking for --crs (projected metres, or a WKT column, say nothing about their CRS)."""
    if scan.mode == "xy" and scan.x_range is not None:
        (x0, x1), (y0, y1) = scan.x_range, scan.y_range
        if -180 <= x0 and x1 <= 180 and -90 <= y0 and y1 <= 90:
            return 4490
        swapped = -90 <= x0 and x1 <= 90 and -180 <= y0 and y1 <= 180
        hint = ("latitude seems to come first: swap the columns, or" if swapped else
                "these look like projected coordinates (metres):")
        raise ImportRejected(f"{file_name} declares no CRS, and its coordinates are not longitude/latitude "
                             f"(x {x0:g} to {x1:g}, y {y0:g} to {y1:g}): {hint} name the CRS with --crs "
                             "EPSG:NNNN (e.g. a Gauss-Krüger zone such as EPSG:4527)")
    raise ImportRejected(f"{file_name} declares no CRS: name it with --crs EPSG:NNNN "
                         "(e.g. EPSG:4490 for CGCS2000 degrees)")
