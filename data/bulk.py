"""Bulk loading shared by the demo loader and the importers: COPY, deferred indexes, progress, hooks."""
from __future__ import annotations

import io
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

COPY_CHUNK_ROWS = 50_000


class Progress:
    """A one-line progress bar on stderr: label, bar, rows, rows/s; silent unless enabled."""

    def __init__(self, label: str, total: int, enabled: bool = True, stream=None):
        self.label, self.total, self.enabled = label, max(total, 0), enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.start = time.perf_counter()
        self._last = 0.0
        if enabled:
            self._draw()

    def update(self, n: int) -> None:
        """Count n more rows done."""
        self.done += n
        now = time.perf_counter()
        if self.enabled and (now - self._last > 0.2 or self.done >= self.total):
            self._last = now
            self._draw()

    def close(self) -> float:
        """Finish the line; returns the seconds taken."""
        secs = time.perf_counter() - self.start
        if self.enabled:
            self._draw(final=True)
            self.stream.write("\n")
            self.stream.flush()
        return secs

    def _draw(self, final: bool = False) -> None:
        if not final and not getattr(self.stream, "isatty", lambda: False)():
            return  # a log file gets the final line only
        secs = max(time.perf_counter() - self.start, 1e-9)
        frac = self.done / self.total if self.total else 1.0
        width = 28
        filled = int(width * min(frac, 1.0))
        rate = self.done / secs
        tail = f"{secs:5.1f} s" if final else (f"eta {(self.total - self.done) / rate:4.0f} s" if rate else "")
        self.stream.write(f"\r  {self.label:<18} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{self.done:>10,}/{self.total:,}  {rate:>9,.0f}/s  {tail}")
        self.stream.flush()


def raw_connection(session: Session):
    """The psycopg connection under the session, inside the session's transaction."""
    return session.connection().connection.driver_connection


def ewkb_hex(geoms: np.ndarray, srid: int = 4326) -> np.ndarray:
    """Hex EWKB of shapely geometries (what PostGIS reads from COPY text)."""
    return shapely.to_wkb(shapely.set_srid(geoms, srid), hex=True, include_srid=True)


def copy_frame(session: Session, table: str, frame: pd.DataFrame, *, progress: Progress | None = None,
               chunk_rows: int = COPY_CHUNK_ROWS) -> int:
    """COPY a DataFrame into `table` (columns named as the frame's); empty strings and NaN become NULL."""
    return copy_chunks(session, table, list(frame.columns),
                       (frame.iloc[i:i + chunk_rows] for i in range(0, len(frame), chunk_rows)),
                       progress=progress)


def copy_chunks(session: Session, table: str, columns: Sequence[str], chunks: Iterable[pd.DataFrame], *,
                progress: Progress | None = None) -> int:
    """COPY DataFrame chunks (same columns) into `table` in CSV form; returns the rows written."""
    cols = ", ".join(f'"{c}"' for c in columns)
    total = 0
    with raw_connection(session).cursor() as cur, \
            cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        for chunk in chunks:
            buf = io.StringIO()
            chunk.to_csv(buf, header=False, index=False, na_rep="", date_format="%Y-%m-%dT%H:%M:%S%z")
            copy.write(buf.getvalue().encode("utf-8"))
            total += len(chunk)
            if progress:
                progress.update(len(chunk))
    return total


PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us")
_POINT_EWKB_HEADER = np.frombuffer(bytes.fromhex("0101000020E6100000"), np.uint8)  # LE, Point|SRID, 4326


def _points_raw(lon: np.ndarray, lat: np.ndarray) -> bytes:
    n = len(lon)
    buf = np.empty((n, 25), np.uint8)
    buf[:, :9] = _POINT_EWKB_HEADER
    buf[:, 9:17] = np.ascontiguousarray(lon, "<f8").view(np.uint8).reshape(n, 8)
    buf[:, 17:25] = np.ascontiguousarray(lat, "<f8").view(np.uint8).reshape(n, 8)
    return buf.tobytes()


def _rings_raw(rings: np.ndarray) -> tuple[int, bytes]:
    n, k, _ = rings.shape
    head = np.frombuffer(bytes.fromhex("0103000020E6100000") + np.array([1, k], "<u4").tobytes(), np.uint8)
    size = len(head) + 16 * k
    buf = np.empty((n, size), np.uint8)
    buf[:, :len(head)] = head
    buf[:, len(head):] = np.ascontiguousarray(rings, "<f8").view(np.uint8).reshape(n, 16 * k)
    return size, buf.tobytes()


def pg_micros(values: np.ndarray) -> np.ndarray:
    """UTC datetime64 values as microseconds since 2000-01-01 (PostgreSQL's binary timestamptz)."""
    return (values.astype("datetime64[us]") - PG_EPOCH_US).astype(np.int64)


# Binary COPY built with numpy, column by column: each column is encoded once as (lengths,
# bytes) — length −1 for NULL — and the rows are laid out in one pass, so a million rows cost
# a few numpy operations instead of a million Python calls.
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
COPY_TRAILER = b"\xff\xff"
Encoded = tuple  # (lengths: int64 array, −1 for NULL; data: the non-NULL values' bytes, concatenated)


def enc_text(values: Sequence) -> Encoded:
    """A text column (None is NULL)."""
    parts = [v.encode() if v is not None else None for v in values]
    lengths = np.fromiter((len(b) if b is not None else -1 for b in parts), np.int64, len(parts))
    return lengths, b"".join(b for b in parts if b is not None)


def enc_bytes(values: Sequence[bytes | None]) -> Encoded:
    """A column sent as raw bytes: EWKB for geometry, version byte + JSON for jsonb (None is NULL)."""
    lengths = np.fromiter((len(b) if b is not None else -1 for b in values), np.int64, len(values))
    return lengths, b"".join(b for b in values if b is not None)


def enc_fixed(values: np.ndarray, dtype: str, null: np.ndarray | None = None) -> Encoded:
    """A fixed-width number column: dtype '>i8' (int8, or timestamptz as µs since 2000), '>f8', '>i4'."""
    arr = np.asarray(values)
    width = np.dtype(dtype).itemsize
    keep = np.ones(len(arr), dtype=bool) if null is None else ~np.asarray(null, dtype=bool)
    lengths = np.where(keep, width, -1).astype(np.int64)
    return lengths, arr[keep].astype(dtype).tobytes()


def enc_points(lon: np.ndarray, lat: np.ndarray) -> Encoded:
    """A geometry column of points (EWKB, SRID 4326)."""
    return np.full(len(lon), 25, np.int64), _points_raw(lon, lat)


def enc_rings(rings: np.ndarray) -> Encoded:
    """A geometry column of one-ring polygons (EWKB, SRID 4326) from (n, k, 2) closed rings."""
    size, raw = _rings_raw(rings)
    return np.full(len(rings), size, np.int64), raw


def binary_rows(columns: Sequence[Encoded]) -> bytes:
    """The tuples of a binary COPY stream (no signature or trailer) for encoded columns."""
    n = len(columns[0][0])
    nf = len(columns)
    lengths = np.stack([c[0] for c in columns], axis=1)
    payload = np.maximum(lengths, 0)
    row_size = 2 + 4 * nf + payload.sum(axis=1)
    row_start = np.zeros(n, np.int64)
    np.cumsum(row_size[:-1], out=row_start[1:])
    out = np.empty(int(row_size.sum()), np.uint8)
    out[row_start[:, None] + np.arange(2)] = np.frombuffer(np.array(nf, ">i2").tobytes(), np.uint8)
    pos = row_start + 2
    for f, (_, data) in enumerate(columns):
        out[pos[:, None] + np.arange(4)] = lengths[:, f].astype(">i4").view(np.uint8).reshape(n, 4)
        pos = pos + 4
        size = payload[:, f]
        if data:
            src_start = np.zeros(n, np.int64)
            np.cumsum(size[:-1], out=src_start[1:])
            out[np.repeat(pos - src_start, size) + np.arange(int(size.sum()))] = np.frombuffer(data, np.uint8)
        pos = pos + size
    return out.tobytes()


def copy_columns(session: Session, table: str, names: Sequence[str], chunks: Iterable[Sequence[Encoded]], *,
                 progress: Progress | None = None) -> int:
    """Binary COPY of encoded column chunks (see enc_*) into `table`; returns the rows written."""
    cols = ", ".join(f'"{c}"' for c in names)
    total = 0
    with raw_connection(session).cursor() as cur, \
            cur.copy(f"COPY {table} ({cols}) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(COPY_SIGNATURE)
        for columns in chunks:
            n = len(columns[0][0])
            if n:
                copy.write(binary_rows(columns))
            total += n
            if progress:
                progress.update(n)
        copy.write(COPY_TRAILER)
    return total


@contextmanager
def deferred_indexes(session: Session, tables: Sequence[str]) -> Iterator[None]:
    """Drop the plain secondary indexes of `tables` for a bulk load and rebuild them afterwards.

    Building a GiST index once over a million rows is several times faster than inserting a
    million rows into it. Primary keys, unique indexes and constraint indexes stay, so every
    rule still holds during the load. Use it only on tables nobody else reads meanwhile: the
    drop holds an exclusive lock until the transaction ends.
    """
    rows = session.execute(text("""
        SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS ddl
        FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
        WHERE t.relname = ANY(:tables) AND t.relnamespace = 'public'::regnamespace
          AND NOT i.indisprimary AND NOT i.indisunique
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
    """), {"tables": list(tables)}).all()
    for name, _ in rows:
        session.execute(text(f"DROP INDEX {name}"))
    yield
    session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _, ddl in rows:
        session.execute(text(ddl))


@contextmanager
def deferred_foreign_keys(session: Session, table: str) -> Iterator[None]:
    """Drop the foreign keys of `table` for a bulk load and add them back, checked in one pass.

    PostgreSQL checks each foreign key with a trigger per inserted row (events has seven);
    adding the constraint back afterwards validates every row at once with a join, and fails
    the whole transaction if any row breaks it. Same locking caveat as deferred_indexes.
    """
    rows = session.execute(text("""
        SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
        WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname
    """), {"t": table}).all()
    for name, _ in rows:
        session.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    yield
    for name, ddl in rows:
        session.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {ddl}'))
