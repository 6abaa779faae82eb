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
import pyarrow as pa
import pyarrow.compute as pc

from geoplatform.layers.arrays import EMPTY, concatenated, large_binary, one_array

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


def text_arrow(values: pa.Array | pa.ChunkedArray) -> EncodedColumn | None:
    """Arrow strings straight from their buffers (no Python object per value); None when :func:`text` must
    handle them instead (not a string type, NUL characters, NULLs holding bytes)."""
    array = one_array(values)
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return None
    n = len(array)
    width = 8 if pa.types.is_large_string(array.type) else 4
    _validity, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, f"<i{width}", n + 1, array.offset * width).astype(np.int64)
    lengths = np.diff(offsets)
    data = np.frombuffer(data_buf, np.uint8, int(offsets[n] - offsets[0]), int(offsets[0])) if data_buf else \
        np.zeros(0, np.uint8)
    if array.null_count:
        nulls = array.is_null().to_numpy(zero_copy_only=False)
        if lengths[nulls].any():
            return None
        lengths[nulls] = -1
    if len(data) and not data.all():  # a NUL character: PostgreSQL refuses it; text() drops it
        return None
    return EncodedColumn(lengths, data)


def point_block_arrow(values: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Like :func:`point_block`, from an Arrow binary array of WKB without copying each value."""
    array = one_array(values)
    if len(array) == 0 or array.null_count or not pa.types.is_binary(array.type):
        return None
    n = len(array)
    offsets = np.frombuffer(array.buffers()[1], "<i4", n + 1, array.offset * 4)
    if (np.diff(offsets) != POINT_WKB).any():
        return None
    block = np.frombuffer(array.buffers()[2], np.uint8, n * POINT_WKB, int(offsets[0])).reshape(n, POINT_WKB)
    if (block[:, 0] != 1).any() or (np.ascontiguousarray(block[:, 1:5]).view("<u4").ravel() != 1).any():
        return None
    return block


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

    Leading fixed-size columns without NULLs are laid out with numpy as one (rows, width) block;
    every other column becomes two Arrow arrays (its 4-byte lengths and its values), and Arrow's
    element-wise join concatenates the pieces of each row in C++: no per-byte index arithmetic.
    Put fixed-size columns first (:func:`fixed_first`) so that most of a row is one block.
    """
    n = len(columns[0].lengths)
    if n == 0:
        return b""
    pieces = [np.broadcast_to(np.frombuffer(len(columns).to_bytes(2, "big"), np.uint8), (n, 2))]
    rest = []
    for j, column in enumerate(columns):
        if not (column.width and (column.lengths >= 0).all()):
            rest = columns[j:]
            break
        pieces.append(np.broadcast_to(np.frombuffer(column.width.to_bytes(4, "big"), np.uint8), (n, 4)))
        pieces.append(column.data.reshape(n, column.width))
    block = np.hstack(pieces)
    if not rest:
        return block.tobytes()
    parts = [_fixed_binary(block)]
    for column in rest:
        parts.append(_fixed_binary(column.lengths.astype(">i4").view(np.uint8).reshape(n, 4)))
        parts.append(_values_binary(column))
    return concatenated(pc.binary_join_element_wise(*parts, EMPTY))


def _fixed_binary(block: np.ndarray) -> pa.Array:
    """An (n, width) uint8 block as n binary values of ``width`` bytes."""
    n, width = block.shape
    data = pa.py_buffer(np.ascontiguousarray(block))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, data]).cast(pa.large_binary())


def _values_binary(column: EncodedColumn) -> pa.Array:
    """A column's values as binary (NULLs as empty values: their length field already says -1)."""
    return large_binary(column.data, np.maximum(column.lengths, 0))


def fixed_first(items: list, fixed: list[bool]) -> list:
    """``items`` reordered with the fixed-size ones first (stable): the column order :func:`encode_rows` likes."""
    return [i for i, f in zip(items, fixed, strict=True) if f] + [i for i, f in zip(items, fixed, strict=True) if not f]
