"""Batch geocoding of a CSV file: every input row out, in order, with its match appended.

Registers arrive as they are: GBK without saying so, a stray quote on line 48,213, an
empty address. None of it may stop a job or lose a row, so the file is read line by line
(a malformed line is reported with its number on stderr and written with level none),
and the encoding is detected from the bytes. Matching runs in worker processes that
inherit the index by fork, so it is built once however many workers there are.
"""

from __future__ import annotations

import codecs
import csv
import io
import multiprocessing
import os
import re
import sys
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from geoplatform.geocoding.index import GazetteerIndex
from geoplatform.geocoding.match import geocode

RESULT_COLUMNS = ("lon", "lat", "level", "score", "matched_address", "address_id")
#: Batch results (the CLI's file and the API's jobs) add which corrections an answer rests on
#: (``Match.corrections``), so clerks review those rows first.
FILE_COLUMNS = (*RESULT_COLUMNS, "correction")
CHUNK_ROWS = 2000
_MAX_RECORD_LINES = 20  # a quoted field may span lines; more than this is a stray quote
_OPEN_QUOTED_TAIL = re.compile(r'(?:^|,)"(?:[^"]|"")*$')  # a quoted field that goes on to the next line
_INDEX: GazetteerIndex | None = None  # set in the parent before forking workers


class BatchInputError(ValueError):
    """The input cannot be processed at all (unknown column, undecodable bytes)."""


@dataclass(slots=True)
class BatchReport:
    """What a batch run did, for the command's summary line."""

    rows: int = 0
    malformed: list[int] = field(default_factory=list)
    levels: Counter = field(default_factory=Counter)
    encoding: str = "utf-8"
    seconds: float = 0.0


def detect_encoding(path: str | Path, sample_bytes: int = 1 << 20) -> str:
    """'utf-8-sig' or 'gb18030' (a superset of GBK), judged on the first megabyte."""
    with open(path, "rb") as fh:
        sample = fh.read(sample_bytes)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise BatchInputError(f"{path}: neither UTF-8 nor GBK; convert it to UTF-8 or name the encoding with --encoding")


def read_records(fh: TextIO) -> Iterator[tuple[int, list[str] | None, str]]:
    """(line number, fields or None if malformed, raw text) per record, header included."""
    lines = iter(fh)
    line_no = 0
    pending: list[str] = []
    while True:
        if pending:
            line = pending.pop(0)
        else:
            line = next(lines, None)
            if line is None:
                return
        line_no += 1
        if '"' not in line:
            yield line_no, line.rstrip("\r\n").split(","), line
            continue
        record, used = line, 0
        if line.count('"') % 2 and not _OPEN_QUOTED_TAIL.search(line.rstrip("\r\n")):
            yield line_no, None, line  # a quote in mid-field that never closes
            continue
        while record.count('"') % 2 and used < _MAX_RECORD_LINES:
            more = pending[used] if used < len(pending) else next(lines, None)
            if more is None:
                break
            if used >= len(pending):
                pending.append(more)
            record += more
            used += 1
        if record.count('"') % 2:
            yield line_no, None, line  # a stray quote: report this line, read the next ones afresh
            continue
        del pending[:used]
        start = line_no
        line_no += used
        try:
            parsed = list(csv.reader(io.StringIO(record)))
        except csv.Error:
            parsed = []
        yield start, (parsed[0] if len(parsed) == 1 else None), record


def _geocode_chunk(addresses: list[str]) -> list[tuple[str, ...]]:
    assert _INDEX is not None
    out = []
    for text in addresses:
        m = geocode(text, _INDEX)
        out.append(("" if m.lon is None else f"{m.lon:.7f}", "" if m.lat is None else f"{m.lat:.7f}",
                    m.level, f"{m.score:g}", m.matched_address, m.address_id, ";".join(m.corrections)))
    return out


def geocode_csv(in_path: str | Path, out_path: str | Path, column: str, index: GazetteerIndex,
                workers: int = 1, encoding: str | None = None, progress: bool = True,
                err: TextIO = sys.stderr) -> BatchReport:
    """Geocode ``column`` of ``in_path`` into ``out_path`` (input columns + FILE_COLUMNS)."""
    global _INDEX
    _INDEX = index
    report = BatchReport(encoding=encoding or detect_encoding(in_path))
    if report.encoding != "utf-8-sig" and not encoding:
        print(f"{in_path}: not UTF-8, read as GBK (gb18030)", file=err)
    started = time.perf_counter()
    with open(in_path, encoding=report.encoding, errors="replace", newline="") as src:
        records = read_records(src)
        first = next(records, None)
        if first is None or first[1] is None:
            raise BatchInputError(f"{in_path}: no header line")
        header = first[1]
        if column not in header:
            raise BatchInputError(f"{in_path}: no column {column!r}; the columns are: {', '.join(header)}")
        col, width = header.index(column), len(header)
        with open(out_path, "w", encoding="utf-8", newline="") as dst:
            _write_results(records, dst, header, col, width, workers, report, progress, err,
                           total=os.path.getsize(in_path))
    report.seconds = time.perf_counter() - started
    return report


def _write_results(records: Iterator, dst: TextIO, header: list[str], col: int, width: int, workers: int,
                   report: BatchReport, progress: bool, err: TextIO, total: int) -> None:
    """Geocode the records in chunks (in worker processes if asked) and write them in input order."""
    writer = csv.writer(dst)
    writer.writerow(header + list(FILE_COLUMNS))
    bar = tqdm(total=total, unit="B", unit_scale=True, disable=not progress, file=err, desc="geocoding")
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    pending: deque = deque()  # chunks in flight, oldest first: output keeps input order

    def write_oldest() -> None:
        rows, result, size = pending.popleft()
        for row, match in zip(rows, result.get() if pool else result, strict=True):
            writer.writerow(row + list(match))
            report.levels[match[2]] += 1
        report.rows += len(rows)
        bar.update(size)

    try:
        for rows, addresses, size in _chunks(records, col, width, report, err):
            result = pool.apply_async(_geocode_chunk, (addresses,)) if pool else _geocode_chunk(addresses)
            pending.append((rows, result, size))
            while len(pending) > 2 * workers:
                write_oldest()
        while pending:
            write_oldest()
    finally:
        if pool:
            pool.terminate()
            pool.join()
        bar.close()


def _chunks(records: Iterator, col: int, width: int, report: BatchReport,
            err: TextIO) -> Iterator[tuple[list[list[str]], list[str], int]]:
    rows: list[list[str]] = []
    addresses: list[str] = []
    size = 0
    for line_no, fields, raw in records:
        size += len(raw.encode("utf-8", "replace"))
        if fields is None or len(fields) != width:
            why = "unbalanced quote or bad quoting" if fields is None else f"{len(fields)} fields, expected {width}"
            print(f"line {line_no}: malformed CSV ({why}); written with level none", file=err)
            report.malformed.append(line_no)
            fields = fields or raw.rstrip("\r\n").split(",")
            fields = (fields + [""] * width)[:width]
            address = ""
        else:
            address = fields[col]
        rows.append(fields)
        addresses.append(address)
        if len(rows) >= CHUNK_ROWS:
            yield rows, addresses, size
            rows, addresses, size = [], [], 0
    if rows:
        yield rows, addresses, size
