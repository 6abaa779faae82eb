"""Where rendered tiles are kept: a per-process LRU in memory and a SQLite database the processes share.

Both are bounded in bytes and know which dataset version each tile belongs to, so a replaced dataset's tiles
can be dropped at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ENTRY_OVERHEAD = 256  # bytes a memory entry costs beyond its body and headers (key, dict and set slots)
DISK_LOW_WATER = 0.8  # a full disk cache is trimmed to this share of its bound


@dataclass(frozen=True)
class CachedTile:
    """A rendered tile: its body and the headers titiler gave it (media type, Content-Bbox, Content-Crs)."""

    body: bytes
    headers: tuple[tuple[str, str], ...]

    @property
    def size(self) -> int:
        """Bytes it holds in memory, counted against the bound."""
        return len(self.body) + sum(len(k) + len(v) for k, v in self.headers) + ENTRY_OVERHEAD


class MemoryTileCache:
    """Least recently used tiles of this process, never more than ``limit`` bytes (:attr:`CachedTile.size`)."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[str, CachedTile]] = OrderedDict()
        self.by_dataset: dict[str, set[str]] = {}
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key: str) -> CachedTile | None:
        with self.lock:
            hit = self.entries.get(key)
            if hit is None:
                return None
            self.entries.move_to_end(key)
            return hit[1]

    def put(self, dataset: str, key: str, tile: CachedTile, limit: int) -> bool:
        """Keep ``tile``, evicting the least recently used first; a tile larger than ``limit`` is not kept."""
        if tile.size > limit:
            return False
        with self.lock:
            if key in self.entries:
                return True
            while self.entries and self.bytes + tile.size > limit:
                self._remove(next(iter(self.entries)))
            self.entries[key] = (dataset, tile)
            self.by_dataset.setdefault(dataset, set()).add(key)
            self.bytes += tile.size
            return True

    def drop_dataset(self, dataset: str) -> int:
        """Forget every tile of one dataset version; how many there were."""
        with self.lock:
            keys = self.by_dataset.pop(dataset, set())
            for key in keys:
                self._remove(key)
            return len(keys)

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.by_dataset.clear()
            self.bytes = 0

    def _remove(self, key: str) -> None:
        dataset, tile = self.entries.pop(key)
        self.bytes -= tile.size
        if (keys := self.by_dataset.get(dataset)) is not None:
            keys.discard(key)
            if not keys:
                del self.by_dataset[dataset]


class DiskTileCache:
    """Tiles in one SQLite database, ``root/tiles.sqlite`` (WAL), shared by the processes of one machine.

    SQLite rather than a file per tile: a transaction makes a write atomic and keeps the byte count exact
    across processes (the bound holds whatever their number), readers never wait for writers, and an insert
    costs ~60 µs of CPU where creating and renaming a file cost 0.25-0.8 ms here (ext4 on a virtual disk).
    ``synchronous=NORMAL``: a crash may lose the last tiles kept, never the database. The bound counts the
    tiles' bytes; SQLite reuses the pages of removed tiles, so the file stays near the bound.
    A failing database (locked past the timeout, corrupt, disk full) makes a miss, never an error.
    """

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS tiles (key TEXT NOT NULL UNIQUE, dataset TEXT NOT NULL, used REAL NOT NULL,
                                          size INTEGER NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL);
        CREATE INDEX IF NOT EXISTS tiles_used ON tiles (used);
        CREATE INDEX IF NOT EXISTS tiles_dataset ON tiles (dataset);
        CREATE TABLE IF NOT EXISTS usage (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
        INSERT OR IGNORE INTO usage VALUES (1, 0);
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._local = threading.local()  # a connection per thread (and per process: a forked child opens its own)

    def _db(self) -> sqlite3.Connection:
        held = getattr(self._local, "db", None)
        if held is not None and held[0] == os.getpid():
            return held[1]
        self.root.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.root / "tiles.sqlite", timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(self.SCHEMA)
        self._local.db = (os.getpid(), db)
        return db

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @staticmethod
    def _size(tile: CachedTile, headers: str) -> int:
        return len(tile.body) + len(headers)

    def get(self, dataset: str, key: str) -> CachedTile | None:
        try:
            db = self._db()
            row = db.execute("SELECT headers, body FROM tiles WHERE key = ? AND dataset = ?", (key, dataset)
                             ).fetchone()
            if row is None:
                return None
            db.execute("UPDATE tiles SET used = ? WHERE key = ?", (time.time(), key))  # recently used: trimmed last
        except sqlite3.Error:
            return None
        return CachedTile(row[1], tuple((str(k), str(v)) for k, v in json.loads(row[0])))

    def put(self, dataset: str, key: str, tile: CachedTile, limit: int) -> bool:
        """Keep ``tile`` unless it is there already, removing the least recently used first if the bound needs it."""
        headers = json.dumps(tile.headers)
        size = self._size(tile, headers)
        if size > limit:
            return False
        try:
            with self._writing() as db:
                if db.execute("SELECT 1 FROM tiles WHERE key = ?", (key,)).fetchone():
                    return True
                (used,) = db.execute("SELECT bytes FROM usage").fetchone()
                if used + size > limit:
                    used -= self._trim(db, used - (int(limit * DISK_LOW_WATER) - size))
                db.execute("INSERT INTO tiles (key, dataset, used, size, headers, body) VALUES (?, ?, ?, ?, ?, ?)",
                           (key, dataset, time.time(), size, headers, tile.body))
                db.execute("UPDATE usage SET bytes = ?", (used + size,))
        except sqlite3.Error:
            return False
        return True

    def drop_dataset(self, dataset: str) -> int:
        """Forget every tile of one dataset version; the bytes they held."""
        try:
            with self._writing() as db:
                (freed,) = db.execute("SELECT coalesce(sum(size), 0) FROM tiles WHERE dataset = ?", (dataset,)
                                      ).fetchone()
                if freed:
                    db.execute("DELETE FROM tiles WHERE dataset = ?", (dataset,))
                    db.execute("UPDATE usage SET bytes = max(0, bytes - ?)", (freed,))
        except sqlite3.Error:
            return 0
        return freed

    def usage(self) -> int:
        """The bytes the kept tiles hold, counted (not the counter)."""
        return self._db().execute("SELECT coalesce(sum(size), 0) FROM tiles").fetchone()[0]

    def counter(self) -> int:
        """The byte count the writers keep (what the bound is checked against)."""
        return self._db().execute("SELECT bytes FROM usage").fetchone()[0]

    @staticmethod
    def _trim(db: sqlite3.Connection, excess: int) -> int:
        """Remove the least recently used tiles holding at least ``excess`` bytes; the bytes removed."""
        freed, doomed = 0, []
        for rowid, size in db.execute("SELECT rowid, size FROM tiles ORDER BY used"):
            if freed >= excess:
                break
            doomed.append((rowid,))
            freed += size
        db.executemany("DELETE FROM tiles WHERE rowid = ?", doomed)
        return freed
