"""Bulk loading helpers: the numpy-built binary COPY, deferred indexes and keys, the progress line."""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pytest
from sqlalchemy import text

from data.bulk import (
    Progress,
    copy_columns,
    deferred_foreign_keys,
    deferred_indexes,
    enc_bytes,
    enc_fixed,
    enc_points,
    enc_rings,
    enc_text,
    pg_micros,
)


def test_binary_copy_round_trips_every_kind_of_value(session):
    session.execute(text("""
        CREATE TEMP TABLE t (p geometry(Point, 4326), r geometry(Polygon, 4326), a text, at timestamptz,
                             x float8, n int4, j jsonb)
    """))
    ring = np.array([[[118.1, 24.7], [118.2, 24.7], [118.2, 24.8], [118.1, 24.7]]] * 3)
    when = np.array(["2026-05-01T00:00:00", "2000-01-01T00:00:00", "1999-12-31T23:59:59.5"], "datetime64[us]")
    cols = [enc_points(np.array([118.1, -0.5, 180.0]), np.array([24.7, 0.0, -90.0])),
            enc_rings(ring),
            enc_text(["幸福湾区", "", None]),
            enc_fixed(pg_micros(when), ">i8"),
            enc_fixed(np.array([1.5, np.nan, -2.25]), ">f8", null=np.isnan([1.5, np.nan, -2.25])),
            enc_fixed(np.array([7, 0, -3]), ">i4"),
            enc_bytes([b"\x01" + '{"名字": "王女士"}'.encode(), None, b"\x01[]"])]
    assert copy_columns(session, "t", ["p", "r", "a", "at", "x", "n", "j"], [cols, [c for c in cols]]) == 6
    rows = session.execute(text("SELECT ST_AsText(p), ST_NPoints(r), a, at, x, n, j FROM t LIMIT 3")).all()
    utc = dt.UTC
    assert rows[0] == ("POINT(118.1 24.7)", 4, "幸福湾区", dt.datetime(2026, 5, 1, tzinfo=utc), 1.5, 7,
                       {"名字": "王女士"})
    assert rows[1] == ("POINT(-0.5 0)", 4, "", dt.datetime(2000, 1, 1, tzinfo=utc), None, 0, None)
    assert rows[2][2:] == (None, dt.datetime(1999, 12, 31, 23, 59, 59, 500000, tzinfo=utc), -2.25, -3, [])


def test_deferred_indexes_and_keys_come_back_and_still_hold(session):
    from sqlalchemy.exc import IntegrityError

    shape = """
        SELECT (SELECT string_agg(indexdef, ';' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'events'),
               (SELECT string_agg(conname || pg_get_constraintdef(oid), ';' ORDER BY conname)
                FROM pg_constraint WHERE conrelid = 'events'::regclass)
    """
    insert = ("INSERT INTO events (geom, category, title) "
              "VALUES (ST_SetSRID(ST_MakePoint(1, 1), 4326), :category, 'x')")
    before = session.execute(text(shape)).one()
    with deferred_foreign_keys(session, "events"), deferred_indexes(session, ["events"]):
        left = session.execute(text("SELECT count(*) FROM pg_indexes WHERE tablename = 'events'")).scalar()
        assert left == 2  # the primary key and the unique (reporter, idempotency key) stay
        session.execute(text(insert), {"category": "11001"})
    assert session.execute(text(shape)).one() == before
    session.commit()
    # The keys come back checked: a row with an unknown category fails the whole transaction.
    with pytest.raises(IntegrityError, match="fk_events_category_categories"):
        with deferred_foreign_keys(session, "events"):
            session.execute(text(insert), {"category": "nope"})
    session.rollback()
    assert session.execute(text(shape)).one() == before
    assert session.execute(text("SELECT count(*) FROM events")).scalar() == 1


def test_progress_writes_one_final_line_when_not_a_terminal():
    out = io.StringIO()
    bar = Progress("events", 1000, stream=out)
    bar.update(400)
    bar.update(600)
    bar.close()
    lines = out.getvalue().strip("\n\r").split("\n")
    assert len(lines) == 1 and "1,000/1,000" in lines[0] and "/s" in lines[0]
    quiet = io.StringIO()
    Progress("events", 10, enabled=False, stream=quiet).close()
    assert quiet.getvalue() == ""
