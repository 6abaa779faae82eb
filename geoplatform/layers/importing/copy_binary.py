"""PostgreSQL binary COPY rows built with numpy, a chunk at a time.

Why: building rows in Python (one object per value) costs more than PostgreSQL's own COPY;
here each column is turned into one byte buffer plus a length array, and the rows are
interleaved with vectorised index arithmetic. Geometry arrives as WKB from GDAL and leaves
as EWKB with the storage SRID, patched in place instead of parsed and re-serialised.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
TRAILER = b"\xff\xff"
_PG_EPOCH_DAYS = np.datetime64("2000-01-01", "D")
_PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us")


@dataclass(frozen=True)
class EncodedColumn:
    """One column of a chunk: ``lengths`` per row (-1 for NULL) and the non-NULL values' bytes in row order."""

    lengths: np.ndarray
    data: np.ndarray
    width: int = 0  # bytes per value when every non-NULL value has the same size (faster copy)


def _fixed(values: np.ndarray, nulls: np.ndarray, dtype: str) -> EncodedColumn:
    kept = values[~nulls] if nulls.any() else values
    arr = np.ascontiguousarray(kept.astype(dtype))
    width = arr.dtype.itemsize
    lengths = np.where(nulls, -1, width).astype(np.int64)
    return EncodedColumn(lengths, arr.view(np.uint8), width)


def _float_nulls(values: np.ndarray) -> np.ndarray:
    return np.isnan(values) if values.dtype.kind == "f" else np.zeros(len(values), bool)


def int4(values: np.ndarray) -> EncodedColumn:
    nulls = _float_nulls(values)
    return _fixed(np.where(nulls, 0, values) if nulls.any() else values, nulls, ">i4")


def int8(values: np.ndarray) -> EncodedColumn:
    nulls = _float_nulls(values)
    return _fixed(np.where(nulls, 0, values) if nulls.any() else values, nulls, ">i8")


def float8(values: np.ndarray) -> EncodedColumn:
    return _fixed(values.astype(np.float64), _float_nulls(values.astype(np.float64)), ">f8")


def boolean(values: np.ndarray) -> EncodedColumn:
    nulls = _float_nulls(values)
    return _fixed((np.where(nulls, 0, values) != 0), nulls, "u1")


def date(values: np.ndarray) -> EncodedColumn:
    days = values.astype("datetime64[D]")
    nulls = np.isnat(days)
    return _fixed((days - _PG_EPOCH_DAYS).astype(np.int64), nulls, ">i4")


def timestamp(values: np.ndarray) -> EncodedColumn:
    micros = values.astype("datetime64[us]")
    nulls = np.isnat(micros)
    return _fixed((micros - _PG_EPOCH_US).astype(np.int64), nulls, ">i8")


def _ragged(items: list[bytes], nulls: np.ndarray) -> EncodedColumn:
    lengths = np.full(len(nulls), -1, np.int64)
    lengths[~nulls] = np.fromiter(map(len, items), np.int64, len(items))
    return EncodedColumn(lengths, np.frombuffer(b"".join(items), np.uint8))


def text(values: np.ndarray) -> EncodedColumn:
    """Strings (any non-string value is written as its ``str``); NUL characters are dropped (PostgreSQL refuses them)."""
    nulls = pd.isna(values)
    kept = values[~nulls] if nulls.any() else values
    try:
        joined = "\x00".join(kept)
    except TypeError:  # numbers or dates in a text column
        kept = [v if isinstance(v, str) else str(v) for v in kept]
        joined = "\x00".join(kept)
    joined = joined.encode("utf-8", "surrogatepass")
    buf = np.frombuffer(joined, np.uint8)
    seps = np.flatnonzero(buf == 0)
    if len(seps) != max(len(kept) - 1, 0):
        return _ragged([s.replace("\x00", "").encode("utf-8", "surrogatepass") for s in kept], nulls)
    ends = np.append(seps, len(buf))
    starts = np.concatenate(([0], seps + 1))
    lengths = np.full(len(values), -1, np.int64)
    lengths[~nulls] = ends - starts if len(kept) else []
    return EncodedColumn(lengths, np.delete(buf, seps))


def ewkb(wkb: np.ndarray, srid: int) -> EncodedColumn:
    """WKB values (None for no geometry) as EWKB carrying ``srid``: the SRID flag set and 4 bytes inserted."""
    nulls = np.fromiter((g is None for g in wkb), bool, len(wkb))
    kept = list(wkb[~nulls]) if nulls.any() else list(wkb)
    src_len = np.fromiter(map(len, kept), np.int64, len(kept))
    src = np.frombuffer(b"".join(kept), np.uint8)
    n = len(kept)
    src_start = np.zeros(n, np.int64)
    np.cumsum(src_len[:-1], out=src_start[1:])
    rows = np.repeat(np.arange(n, dtype=np.int64), src_len)
    offset_in_value = np.arange(len(src), dtype=np.int64) - src_start[rows]
    dest = np.arange(len(src), dtype=np.int64) + 4 * rows + np.where(offset_in_value >= 5, 4, 0)
    out = np.empty(len(src) + 4 * n, np.uint8)
    out[dest] = src
    starts = src_start + 4 * np.arange(n, dtype=np.int64)
    little = out[starts] == 1
    srid_le = np.frombuffer(np.int32(srid).astype("<i4").tobytes(), np.uint8)
    srid_bytes = np.where(little[:, None], srid_le, srid_le[::-1])
    out[starts[:, None] + 5 + np.arange(4)] = srid_bytes
    flag_at = np.where(little, starts + 4, starts + 1)
    out[flag_at] |= 0x20
    lengths = np.full(len(wkb), -1, np.int64)
    lengths[~nulls] = src_len + 4
    return EncodedColumn(lengths, out)


def encode_rows(columns: list[EncodedColumn]) -> bytes:
    """The COPY BINARY tuples of one chunk (without the file header and trailer)."""
    n = len(columns[0].lengths)
    if n == 0:
        return b""
    k = len(columns)
    lengths = np.stack([c.lengths for c in columns], axis=1)
    sizes = 4 + np.maximum(lengths, 0)
    row_sizes = 2 + sizes.sum(axis=1)
    row_start = np.zeros(n, np.int64)
    np.cumsum(row_sizes[:-1], out=row_start[1:])
    out = np.empty(int(row_sizes.sum()), np.uint8)
    out[row_start[:, None] + np.arange(2)] = np.frombuffer(k.to_bytes(2, "big"), np.uint8)
    field_start = row_start[:, None] + 2 + np.cumsum(sizes, axis=1) - sizes
    length_bytes = lengths.astype(">i4").view(np.uint8).reshape(n, k, 4)
    out[field_start[:, :, None] + np.arange(4)] = length_bytes
    for j, column in enumerate(columns):
        present = lengths[:, j] >= 0
        dest = field_start[present, j] + 4 if not present.all() else field_start[:, j] + 4
        if column.width:
            out[dest[:, None] + np.arange(column.width)] = column.data.reshape(-1, column.width)
            continue
        value_len = lengths[present, j]
        src_start = np.zeros(len(value_len), np.int64)
        np.cumsum(value_len[:-1], out=src_start[1:])
        out[np.repeat(dest - src_start, value_len) + np.arange(len(column.data), dtype=np.int64)] = column.data
    return out.tobytes()
