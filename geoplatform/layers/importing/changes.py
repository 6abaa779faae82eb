"""Which rows of an update are new: per-row hashes compared with the current version's, and change sets.

A keyed layer stores, with every row, a 64-bit hash of its key, attribute values and stored
geometry (``gp_hash``). A full-file update hashes the file's rows the same way (vectorised, a
chunk at a time) and stages only rows whose key is new or whose hash differs; keys the file
no longer has are removed. A change set (``--changes``) holds only added and changed rows, and
names removed keys in a ``_deleted`` column or a separate list of keys.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.util import hash_array

from geoplatform.layers.importing.copy_binary import point_block
from geoplatform.layers.importing.errors import ImportRejected

DELETED_FIELD = "_deleted"
_MIX = np.uint64(0x100000001B3)
_TRUE_WORDS = {"1", "true", "t", "yes", "y", "是", "删除"}


def schema_seed(fields: list[tuple[str, str]]) -> np.uint64:
    """A constant mixed into every row hash, so that a change of field names or types changes every hash."""
    digest = hashlib.sha256("|".join(f"{n}:{t}" for n, t in fields).encode()).digest()
    return np.frombuffer(digest[:8], np.uint64)[0]


def row_hashes(seed: np.uint64, keys: np.ndarray, columns: list[np.ndarray], wkb: np.ndarray) -> np.ndarray:
    """int64 hash per row of (key, attribute values, geometry WKB); equal rows hash equal in every run."""
    with np.errstate(over="ignore"):
        h = hash_array(keys, categorize=False) ^ seed  # categorize=True costs more on mostly distinct values
        for column in columns:
            h = (h * _MIX) ^ hash_array(column, categorize=False)
        block = wkb if wkb.ndim == 2 else point_block(wkb)  # points hash the same whichever path read them
        h = (h * _MIX) ^ (_block_hash(block) if block is not None else hash_array(wkb, categorize=False))
    return h.view(np.int64)


def _block_hash(block: np.ndarray) -> np.ndarray:
    """Row hashes of fixed-size WKB values (an (n, size) uint8 block), eight bytes at a time."""
    n, size = block.shape
    padded = np.zeros((n, -(-size // 8) * 8), np.uint8)
    padded[:, :size] = block
    h = np.full(n, np.uint64(size))
    for word in padded.view("<u8").T:
        h = (h ^ word) * _MIX
        h ^= h >> np.uint64(29)
    return h


def key_strings(values: np.ndarray) -> np.ndarray:
    """Key values as the text stored in ``gp_key`` (numbers as their ``str``)."""
    if values.dtype == object:
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            return values
        return np.array([v if isinstance(v, str) or v is None else str(v) for v in values], dtype=object)
    return values.astype(str).astype(object)


def deleted_flags(values: np.ndarray) -> np.ndarray:
    """The ``_deleted`` column as booleans: non-zero numbers, or text such as 1/true/yes/是."""
    if values.dtype.kind in "biuf":
        return np.nan_to_num(values.astype(np.float64)) != 0
    return np.array([str(v).strip().lower() in _TRUE_WORDS if v is not None else False for v in values], bool)


def deleted_word(text: str) -> bool:
    """Whether one ``_deleted`` value as written in a text file (a CSV cell) marks its row as removed."""
    word = text.strip().lower()
    if word in _TRUE_WORDS:
        return True
    try:
        value = float(word)
    except ValueError:
        return False
    return value == value and value != 0  # NaN is not a mark


def read_delete_keys(path: Path) -> list[str]:
    """One key per line (UTF-8); blank lines are ignored."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportRejected(f"{path.name}: cannot read the keys to delete (one per line, UTF-8): {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


class CurrentRows:
    """The current version's keys, hashes and feature ids, to find a full file's new and changed rows."""

    def __init__(self, keys: pd.Index, hashes: np.ndarray, hashed: np.ndarray, fids: np.ndarray):
        self.keys = keys
        self.hashes = hashes
        self.hashed = hashed
        self.fids = fids
        self.seen = np.zeros(len(keys), np.int32)

    @classmethod
    def load(cls, cursor, table: str) -> CurrentRows:
        """The current rows' keys, hashes and ids, in one row of three arrays (binary: no per-row round trip)."""
        import psycopg

        raw = getattr(cursor, "cursor", cursor)
        with psycopg.Cursor(raw.connection) as arrays:
            arrays.execute(f"SELECT array_agg(gp_key), array_agg(coalesce(gp_hash, 0)), array_agg(gp_hash IS NOT NULL), "
                           f"array_agg(gp_fid) FROM {table} WHERE gp_vto IS NULL", binary=True)
            keys, hashes, hashed, fids = arrays.fetchone()
        keys = pd.Index(np.array(keys or [], dtype=object), dtype=object)  # not Arrow-backed: the file's keys are objects
        keys.get_indexer(keys[:1])  # build the hash table now, before reading processes are forked
        return cls(keys, np.array(hashes or [], np.int64), np.array(hashed or [], bool), np.array(fids or [], np.int64))

    def compare(self, keys: np.ndarray, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(which rows of a chunk are new or differ from the current version, positions of the known keys)."""
        position = self.keys.get_indexer(keys)
        known = position >= 0
        same = np.zeros(len(keys), bool)
        same[known] = self.hashed[position[known]] & (self.hashes[position[known]] == hashes[known])
        return ~same, position[known]

    def mark_seen(self, positions: np.ndarray, upto: int) -> None:
        """Remember the current keys a chunk had; ImportRejected when one comes twice."""
        np.add.at(self.seen, positions, 1)
        if (self.seen[positions] > 1).any():
            again = np.flatnonzero(self.seen > 1)[:3]
            raise ImportRejected("the key field is not unique: " + ", ".join(
                f"{self.keys[i]!r} ×{self.seen[i]}" for i in again) + f" (by feature {upto})")

    def unseen_keys(self) -> list[str]:
        """Current keys the file no longer has (removed features)."""
        return list(self.keys[self.seen == 0])
