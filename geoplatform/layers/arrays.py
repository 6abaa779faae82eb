"""Arrow binary arrays from numpy byte buffers and back: what the COPY encoder and the MVT encoder share.

Both build many variable-length byte strings at once as (all bytes in order, length of each) and let
Arrow's element-wise binary join concatenate them per row; 64-bit offsets, so no size limit.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

EMPTY = pa.scalar(b"", pa.large_binary())


def large_binary(data: np.ndarray, lengths: np.ndarray) -> pa.Array:
    """n binary values: value i is the next ``lengths[i]`` bytes of ``data``."""
    n = len(lengths)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                                   pa.py_buffer(np.ascontiguousarray(data))])


def concatenated(array: pa.Array) -> bytes:
    """All values of a large binary array, in order, as one bytes object (a slice of its data buffer)."""
    n = len(array)
    if n == 0:
        return b""
    offsets = np.frombuffer(array.buffers()[1], np.int64, n + 1, array.offset * 8)
    return memoryview(array.buffers()[2])[offsets[0]:offsets[n]].tobytes()


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as a single array (chunks combined only when there are several)."""
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    return values
