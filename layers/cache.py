"""An in-process tile cache, invalidated by data-change generations per table.

Each server process keeps its own cache. A statement-level trigger on every source table sends
NOTIFY gridgov_layers with the table's name; each process listens (api/stream.py) and bumps that
table's generation. A cache key holds the generations of the tables the layer depends on, so a
change makes every stale entry unreachable at once (they age out of the LRU). While the listener
is not connected nobody would hear of changes, so the cache is bypassed.

Generations are read *before* a tile is computed: a change that lands while it is being computed
bumps the generation, and the tile is stored under the old key, which no request asks for again.
"""
from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict


class Generations:
    """A change counter per table, bumped when the database says the table changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._epoch = 0
        self.live = False  # True while a listener is connected and hears every change

    def bump(self, table: str) -> None:
        """Record that `table` changed."""
        with self._lock:
            self._counts[table] = self._counts.get(table, 0) + 1

    def bump_all(self) -> None:
        """Forget everything cached (the listener reconnected and may have missed changes)."""
        with self._lock:
            self._epoch += 1

    def snapshot(self, tables: tuple[str, ...]) -> tuple | None:
        """The generations of `tables` now, or None when changes cannot be heard (do not cache)."""
        if not self.live:
            return None
        with self._lock:
            return (self._epoch, *(self._counts.get(t, 0) for t in tables))


GZIP_MIN_BYTES = 1024


class Tile:
    """A tile's bytes and strong ETags (digests, the same in every process); gzip made on demand."""

    __slots__ = ("data", "etag", "_gzipped")

    def __init__(self, data: bytes, etag: str):
        self.data, self.etag = data, etag
        self._gzipped: bytes | None = None

    @classmethod
    def of(cls, data: bytes) -> Tile:
        """Wrap bytes with their ETag."""
        return cls(data, '"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"')

    @property
    def compressible(self) -> bool:
        """Whether gzip is worth it (tiny tiles are sent as they are)."""
        return len(self.data) >= GZIP_MIN_BYTES

    @property
    def gzipped(self) -> bytes:
        """The gzip body, compressed once on first use and kept with the cached tile."""
        if self._gzipped is None:  # two threads racing here both compute the same bytes
            self._gzipped = gzip.compress(self.data, compresslevel=1, mtime=0)
        return self._gzipped

    @property
    def gzip_etag(self) -> str:
        """The ETag of the gzip representation (a different body, so a different strong tag)."""
        return self.etag[:-1] + '-gz"'

    @property
    def size(self) -> int:
        """Bytes held in memory, counting room for a gzip copy."""
        return len(self.data) * 3 // 2 + 200


class TileCache:
    """A thread-safe LRU of tiles bounded by total bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, Tile] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    def get(self, key: tuple) -> Tile | None:
        """The cached tile for `key`, marking it recently used."""
        with self._lock:
            tile = self._items.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: tuple, tile: Tile) -> None:
        """Store a tile, evicting the least recently used beyond the byte budget."""
        size = tile.size
        if size > self.max_bytes // 4:
            return  # one huge tile must not flush everything else
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._items[key] = tile
            self._bytes += size
            while self._bytes > self.max_bytes and self._items:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.size

    def clear(self) -> None:
        """Drop every entry."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)


class Memo:
    """Small computed answers (feature counts, extents) kept while their tables are unchanged."""

    def __init__(self, generations: Generations, max_entries: int = 2000) -> None:
        self.generations = generations
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, object] = OrderedDict()

    def peek(self, key: tuple, depends_on: tuple[str, ...], default=None):
        """The remembered value for `key`, or `default` when there is none (nothing is computed)."""
        gens = self.generations.snapshot(depends_on)
        if gens is None:
            return default
        with self._lock:
            return self._items.get((key, gens), default)

    def get(self, key: tuple, depends_on: tuple[str, ...], compute):
        """The remembered value for `key`, or compute() (remembered when changes can be heard)."""
        gens = self.generations.snapshot(depends_on)
        if gens is None:
            return compute()
        full = (key, gens)
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                return self._items[full]
        value = compute()
        with self._lock:
            self._items[full] = value
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value
