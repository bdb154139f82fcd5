"""Importing events: new ones staged and assigned there once, an existing id updates its event."""
from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import text

from data.bulk import (
    Progress,
    copy_columns,
    deferred_foreign_keys,
    deferred_indexes,
    enc_fixed,
    enc_points,
    enc_text,
    pg_micros,
)
from data.io.check import RowErrors, check_duplicates
from data.io.read import Table
from data.io.staging import ImportReport, stage
from gis.core.models import ASSIGN_STATUSES
from gis.spatial.assign import assign_events, insert_assigned

BULK_EVENT_ROWS = 50_000  # an events import this large (and ≥ 1/4 of the table) rebuilds indexes once at the end


def import_events(session, t: Table, parsed, errors: RowErrors, report: ImportReport, progress: bool) -> None:
    """New events staged and assigned, then written once; a row with an existing event's id updates it."""
    v = t.values
    cats = dict(session.execute(text("SELECT code, name FROM categories")).all())
    by_name = {name: code for code, name in cats.items()}
    unknown = ~pd.Series(v["category"]).isin(list(cats)).to_numpy() & (v["category"] != "")
    for i in np.flatnonzero(unknown):
        c = v["category"][i]
        hint = f"; its code is {by_name[c]}" if c in by_name else " (see the categories table, e.g. 11001 暴露垃圾)"
        errors.add(i, f"unknown category {c!r}{hint}")
    ids = parsed["id"]
    has_id = ~np.isnan(ids)
    known_ids: set[int] = set()
    if has_id.any():
        check_duplicates(v["id"], "id", errors)
        known_ids = set(session.scalars(text("SELECT id FROM events WHERE id = ANY(:ids)"),
                                        {"ids": [int(x) for x in ids[has_id]]}))
    errors.raise_if_any(t.path, "events")
    update = has_id & np.isin(np.nan_to_num(ids).astype(np.int64), list(known_ids)) if known_ids else \
        np.zeros(t.n, dtype=bool)
    insert = ~update
    report.added, report.updated = int(insert.sum()), int(update.sum())
    lon, lat = t.lonlat
    sx, sy = t.source_xy if t.source_xy is not None else (lon, lat)
    occurred = parsed["occurred_at"]
    status = np.where(v["status"] == "", "reported", v["status"])
    if update.any():
        _update_events(session, np.flatnonzero(update), ids, v, status, occurred, lon, lat, report)
    idx = np.flatnonzero(insert)
    if not len(idx) or report.dry_run:  # every row is checked already: new events would all be added
        return
    bar = Progress("events", len(idx), progress) if progress else None
    # Rebuilding the indexes costs a pass over the whole table; growing them costs per new row.
    existing = session.execute(text("SELECT GREATEST(reltuples, 0) FROM pg_class WHERE oid = 'events'::regclass")
                               ).scalar() or 0
    bulk = len(idx) >= BULK_EVENT_ROWS and len(idx) >= 0.25 * existing
    sx, sy = np.asarray(sx, float), np.asarray(sy, float)

    def chunks(step: int = 100_000):
        for start in range(0, len(idx), step):
            j = idx[start:start + step]
            occ = enc_fixed(pg_micros(occurred[j]), ">i8")
            yield [enc_points(lon[j], lat[j]), enc_text(v["category"][j]), enc_text(v["title"][j]),
                   enc_text(v["description"][j]), enc_text(status[j]), occ, occ,
                   enc_text([t.source_crs] * len(j)), enc_fixed(sx[j], ">f8"), enc_fixed(sy[j], ">f8")]

    columns = ["geom", "category", "title", "description", "status", "occurred_at", "reported_at", "source_crs",
               "source_x", "source_y"]
    # New events go through a staging table: assigned there (gis.spatial.assign.insert_assigned), then
    # written to events once, grid and all.
    session.execute(text("CREATE TEMP TABLE stage_new_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"))
    copy_columns(session, "stage_new_events", columns, chunks(), progress=bar)
    if bar:
        bar.close()
    if bulk:
        # Big files: rebuild the secondary indexes and check the foreign keys once, not row by row.
        # Keys go back after the indexes, so their checks can use them.
        with deferred_foreign_keys(session, "events"), deferred_indexes(session, ["events"]):
            placed = insert_assigned(session, "stage_new_events", columns)
        report.notes.append("large file: the events table was locked, its indexes and foreign keys "
                            "rebuilt once after loading")
    else:
        placed = insert_assigned(session, "stage_new_events", columns)
    session.execute(text("DROP TABLE stage_new_events"))
    report.notes.append("assigned: " + ", ".join(f"{placed[k]:,} {k}" for k in ASSIGN_STATUSES if placed.get(k)))


def _update_events(session, idx, ids, v, status, occurred, lon, lat, report) -> None:
    """Rows naming an existing event id: update what changed, re-assign the moved or re-timed."""
    frame = pd.DataFrame({"id": ids[idx].astype(np.int64), "category": v["category"][idx], "title": v["title"][idx],
                          "description": v["description"][idx], "status": status[idx],
                          "occurred_at": [f"{x}Z" for x in occurred[idx].astype("datetime64[us]").astype(str)],
                          "lon": lon[idx], "lat": lat[idx]})
    stage(session, "stage_events", "id bigint, category text, title text, description text, status text, "
           "occurred_at timestamptz, lon float8, lat float8", frame)
    changed = session.execute(text("""
        UPDATE events e SET category = s.category, title = s.title, description = COALESCE(s.description, ''),
            status = s.status, occurred_at = s.occurred_at, geom = ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326),
            updated_at = now(),
            -- Moved or re-timed: the old assignment no longer holds (reassigned below).
            assign_status = CASE WHEN ST_Equals(e.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
                                  AND e.occurred_at = s.occurred_at THEN e.assign_status END
        FROM stage_events s
        WHERE e.id = s.id AND (e.category, e.title, e.description, e.status, e.occurred_at)
              IS DISTINCT FROM (s.category, s.title, COALESCE(s.description, ''), s.status, s.occurred_at)
           OR e.id = s.id AND NOT ST_Equals(e.geom, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326))
    """)).rowcount
    report.unchanged = report.updated - changed
    report.updated = changed
    if changed:
        assign_events(session, scope="unassigned")
