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


POINT_WKB = 21  # byte order, type 1 (2-D point), x, y


def point_block(wkb: np.ndarray) -> np.ndarray | None:
    """The chunk as an (n, 21) uint8 array when every value is a little-endian 2-D point WKB, else None."""
    if len(wkb) == 0 or wkb.dtype != object:
        return None
    try:
        sizes = np.fromiter(map(len, wkb), np.int64, len(wkb))
    except TypeError:  # a missing geometry (None)
        return None
    if (sizes != POINT_WKB).any():
        return None
    block = np.frombuffer(b"".join(wkb), np.uint8).reshape(-1, POINT_WKB)
    if (block[:, 0] != 1).any() or (block[:, 1:5].view("<u4").ravel() != 1).any():
        return None
    return block


def ewkb(wkb: np.ndarray, srid: int) -> EncodedColumn:
    """WKB values (None for no geometry) as EWKB carrying ``srid``: the SRID flag set and 4 bytes inserted.

    ``wkb`` is an array of bytes objects, or a 2-D uint8 array of fixed-size WKB values (one per row,
    from :func:`point_block`), which is patched as a block.
    """
    if wkb.ndim == 2:
        n, size = wkb.shape
        out = np.empty((n, size + 4), np.uint8)
        out[:, :5] = wkb[:, :5]
        out[:, 9:] = wkb[:, 5:]
        little = wkb[:, 0] == 1
        srid_le = np.frombuffer(np.int32(srid).astype("<i4").tobytes(), np.uint8)
        out[:, 5:9] = np.where(little[:, None], srid_le, srid_le[::-1])
        flag_at = np.where(little, 4, 1)
        out[np.arange(n), flag_at] |= 0x20
        return EncodedColumn(np.full(n, size + 4, np.int64), out.reshape(-1), size + 4)
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
    """The COPY BINARY tuples of one chunk (without the file header and trailer).

    Rows are laid out in a 2-D buffer as wide as the longest row, then the padding is dropped. A
    fixed-size column without NULLs that only follows such columns sits at the same offset in every
    row and is copied as one block; the others are scattered value by value. Put fixed-size columns
    first (:func:`fixed_first`) so that most of a row is copied as blocks.
    """
    n = len(columns[0].lengths)
    if n == 0:
        return b""
    k = len(columns)
    lengths = np.stack([c.lengths for c in columns], axis=1)
    sizes = 4 + np.maximum(lengths, 0)
    row_sizes = 2 + sizes.sum(axis=1)
    width = int(row_sizes.max())
    out = np.empty((n, width), np.uint8)
    flat = out.reshape(-1)
    out[:, :2] = np.frombuffer(k.to_bytes(2, "big"), np.uint8)
    starts = 2 + np.cumsum(sizes, axis=1) - sizes
    row_base = np.arange(n, dtype=np.int64) * width
    aligned = True  # every column so far had the same size in every row
    for j, column in enumerate(columns):
        present = lengths[:, j] >= 0
        complete = bool(present.all())
        if aligned and column.width and complete:
            at = int(starts[0, j])
            out[:, at:at + 4] = np.frombuffer(column.width.to_bytes(4, "big"), np.uint8)
            out[:, at + 4:at + 4 + column.width] = column.data.reshape(n, column.width)
            continue
        aligned = False
        field_at = row_base + starts[:, j]
        flat[field_at[:, None] + np.arange(4)] = lengths[:, j].astype(">i4").view(np.uint8).reshape(n, 4)
        dest = field_at + 4 if complete else field_at[present] + 4
        if column.width:
            flat[dest[:, None] + np.arange(column.width)] = column.data.reshape(-1, column.width)
            continue
        value_len = lengths[present, j] if not complete else lengths[:, j]
        src_start = np.zeros(len(value_len), np.int64)
        np.cumsum(value_len[:-1], out=src_start[1:])
        flat[np.repeat(dest - src_start, value_len) + np.arange(len(column.data), dtype=np.int64)] = column.data
    return out[np.arange(width) < row_sizes[:, None]].tobytes()


def fixed_first(items: list, fixed: list[bool]) -> list:
    """``items`` reordered with the fixed-size ones first (stable): the column order :func:`encode_rows` likes."""
    return [i for i, f in zip(items, fixed, strict=True) if f] + [i for i, f in zip(items, fixed, strict=True) if not f]
