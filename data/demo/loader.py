"""Writing a generated district into an empty database (COPY, one transaction), and the demo sign-ins' links."""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import select, text

from data.bulk import (
    Progress,
    copy_columns,
    copy_frame,
    deferred_foreign_keys,
    deferred_indexes,
    enc_bytes,
    enc_fixed,
    enc_points,
    enc_rings,
    enc_text,
    ewkb_hex,
    pg_micros,
)
from data.demo.basemap import basemap_frames
from data.demo.duties import load_duties
from data.demo.generator import generate
from data.demo.plane import plane_to_lonlat
from data.demo.records import CITY_NAME, DISTRICT_NAME, SCALES, DemoDistrict
from gis.core import dated
from gis.core.db import session_factory
from gis.core.errors import Conflict, InvalidInput
from gis.core.models import Cadre, User
from gis.core.users import set_user_grids, user_grid_codes
from gis.spatial.assign import insert_assigned
from gis.spatial.buildings import footprint_grids_sql, refresh_grid_totals

DATA_TABLES = ("admin_areas", "grids", "buildings", "events", "cadres", "contracts", "base_roads", "base_water",
               "base_places")


@dataclass
class LoadReport:
    """What `load` wrote and how long each step took."""

    scale: str
    seed: int
    counts: dict[str, int]
    seconds: dict[str, float]

    def summary(self) -> str:
        """One line per table and the times."""
        rows = ", ".join(f"{v:,} {k}" for k, v in self.counts.items())
        secs = ", ".join(f"{k} {v:.1f} s" for k, v in self.seconds.items())
        return f"{DISTRICT_NAME} ({self.scale}, seed {self.seed}): {rows}\n  {secs}"


def existing_rows(session) -> dict[str, int]:
    """Tables among the district's data tables that already hold rows, with their counts."""
    out = {}
    for table in DATA_TABLES:
        if session.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar():
            out[table] = session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    return out


def load(engine, scale: str = "demo", seed: int = 1, progress: bool = False,
         as_of: dt.datetime | None = None) -> LoadReport:
    """Generate the district and COPY it into an empty database, all in one transaction."""
    if scale not in SCALES:
        raise InvalidInput("Unknown demo scale", f"Scale must be one of: {', '.join(SCALES)}.")
    started = time.perf_counter()
    seconds: dict[str, float] = {}
    with session_factory(engine)() as session:
        present = existing_rows(session)
        if present:
            held = ", ".join(f"{n:,} {t}" for t, n in present.items())
            raise Conflict("The database already holds data",
                           f"It has {held}; the demo loads only into an empty database. Point DATABASE_URL "
                           "at a fresh one, or empty this one with `gridgov db downgrade base && "
                           "gridgov db migrate`.")
        cats = [dict(r._mapping) for r in session.execute(text(
            "SELECT code, name, major_code, major_name, kind, urgent, active FROM categories ORDER BY code"))]
        if not cats:
            raise InvalidInput("No categories", "The categories table is empty; run `gridgov db migrate`.")
        t = time.perf_counter()
        district = generate(scale, seed, as_of, categories=cats)
        seconds["generate"] = time.perf_counter() - t
        if progress:
            print(f"  generated {len(district.grids):,} grids, {len(district.buildings):,} buildings, "
                  f"{len(district.events):,} events in {seconds['generate']:.1f} s", file=sys.stderr, flush=True)
        t = time.perf_counter()
        counts = write(session, district, progress=progress)
        session.commit()
        seconds["write"] = time.perf_counter() - t
    t = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in DATA_TABLES:
            conn.execute(text(f"VACUUM (ANALYZE) {table}"))
    seconds["analyze"] = time.perf_counter() - t
    seconds["total"] = time.perf_counter() - started
    return LoadReport(SCALES[scale].name, seed, counts, seconds)


def write(session, d: DemoDistrict, progress: bool = False) -> dict[str, int]:
    """Write a generated district into the session's (empty) tables; the caller commits."""
    session.execute(text("SET LOCAL synchronous_commit = off"))
    counts: dict[str, int] = {}
    # Areas, parents first, so each child finds its parent's id by code.
    for a in d.areas:
        session.execute(text("""
            INSERT INTO admin_areas (level, code, name, parent_id, geom)
            VALUES (:level, :code, :name, (SELECT id FROM admin_areas WHERE code = :parent), CAST(:geom AS geometry))
        """), {"level": a.level, "code": a.code, "name": a.name, "parent": a.parent_code,
               "geom": shapely.to_wkb(shapely.set_srid(a.geom, 4326), hex=True, include_srid=True)})
    counts["areas"] = len(d.areas)
    counts |= load_duties(session)  # issue 25: departments and the responsibility list, over these areas
    comm_id = dict(session.execute(text("SELECT code, id FROM admin_areas WHERE level = 'community'")).all())

    # Keys go back after the indexes are rebuilt, so their checks can use them.
    with deferred_foreign_keys(session, "buildings"), deferred_foreign_keys(session, "events"):
        with deferred_indexes(session, ["buildings", "events", "contracts"]):
            grids = pd.DataFrame({
                "code": [g.code for g in d.grids], "name": [g.name for g in d.grids],
                "kind": [g.kind for g in d.grids], "community_id": [comm_id[g.community_code] for g in d.grids],
                "geom": ewkb_hex(np.array([g.geom for g in d.grids], dtype=object)),
            })
            bar = Progress("grids", len(grids), progress)
            counts["grids"] = copy_frame(session, "grids", grids, progress=bar)
            bar.close()

            # Buildings go through a staging table, so the grid is derived by the one rule.
            session.execute(text("""
                CREATE TEMP TABLE stage_buildings (id bigint, code text, name text, geom geometry(Polygon, 4326),
                    floors int, households int, population int) ON COMMIT DROP
            """))
            b = d.buildings
            bar = Progress("buildings", len(b), progress)

            def building_chunks(step: int = 100_000):
                for i in range(0, len(b), step):
                    sl = slice(i, i + step)
                    n = len(b.cx[sl])
                    yield [enc_fixed(np.arange(i, i + n), ">i8"), enc_text(b.code[sl]), enc_text(b.name[sl]),
                           enc_rings(d.footprint_rings(sl)), enc_fixed(b.floors[sl], ">i4"),
                           enc_fixed(b.households[sl], ">i4"), enc_fixed(b.population[sl], ">i4")]

            copy_columns(session, "stage_buildings",
                         ["id", "code", "name", "geom", "floors", "households", "population"],
                         building_chunks(), progress=bar)
            session.execute(text("CREATE INDEX ON stage_buildings USING gist (geom)"))
            session.execute(text("ANALYZE stage_buildings"))
            counts["buildings"] = session.execute(text(f"""
                INSERT INTO buildings (code, name, geom, floors, households, population, grid_id)
                SELECT s.code, s.name, ST_Multi(s.geom), s.floors, s.households, s.population, m.grid_id
                FROM stage_buildings s LEFT JOIN ({footprint_grids_sql('stage_buildings')}) m ON m.id = s.id
                ORDER BY s.id
            """)).rowcount
            bar.close()
            refresh_grid_totals(session)

            e = d.events
            bar = Progress("events", len(e), progress)
            event_columns = ["geom", "category", "title", "description", "status", "occurred_at", "reported_at",
                             "updated_at", "source_x", "source_y", "accuracy_m", "contact"]

            def event_chunks(step: int = 100_000):
                for i in range(0, len(e), step):
                    sl = slice(i, i + step)
                    # jsonb's binary form is a version byte (1) and the JSON text.
                    contact = [b"\x01" + json.dumps(c, ensure_ascii=False).encode() if c else None
                               for c in e.contact[sl]]
                    yield [enc_points(e.lon[sl], e.lat[sl]), enc_text(e.category[sl]), enc_text(e.title[sl]),
                           enc_text(e.description[sl]), enc_text(e.status[sl]),
                           enc_fixed(pg_micros(e.occurred_at[sl]), ">i8"),
                           enc_fixed(pg_micros(e.reported_at[sl]), ">i8"),
                           enc_fixed(pg_micros(e.updated_at[sl]), ">i8"), enc_fixed(e.lon[sl], ">f8"),
                           enc_fixed(e.lat[sl], ">f8"),
                           enc_fixed(e.accuracy_m[sl], ">f8", null=np.isnan(e.accuracy_m[sl])),
                           enc_bytes(contact)]

            # Events are staged and assigned there once the indexes are back (gis.spatial.assign.insert_assigned).
            session.execute(text("CREATE TEMP TABLE stage_new_events (LIKE events INCLUDING DEFAULTS) ON COMMIT DROP"))
            counts["events"] = copy_columns(session, "stage_new_events", event_columns, event_chunks(), progress=bar)
            bar.close()

            cadres = pd.DataFrame(d.cadres, columns=["code", "name", "type", "organisation", "phone"])
            counts["cadres"] = copy_frame(session, "cadres", cadres)
            session.execute(text("""
                CREATE TEMP TABLE stage_contracts (cadre_code text, grid_code text, role text, valid_from date,
                    valid_to date, geom geometry(MultiPolygon, 4326)) ON COMMIT DROP
            """))
            contracts = pd.DataFrame(d.contracts, columns=["cadre_code", "grid_code", "role", "valid_from", "valid_to",
                                                           "geom"])
            has_geom = contracts["geom"].notna()
            contracts["geom"] = ""
            if has_geom.any():
                contracts.loc[has_geom, "geom"] = ewkb_hex(np.array([c["geom"] for c in d.contracts
                                                                     if c["geom"] is not None], dtype=object))
            copy_frame(session, "stage_contracts", contracts)
            counts["contracts"] = session.execute(text("""
                INSERT INTO contracts (cadre_id, grid_code, role, valid_from, valid_to, geom)
                SELECT c.id, s.grid_code, s.role, s.valid_from, s.valid_to, s.geom
                FROM stage_contracts s JOIN cadres c ON c.code = s.cadre_code
            """)).rowcount
        # Assign the events once the buildings' and grids' indexes are back (the assignment probes
        # them), then write them with the events' own indexes rebuilt once, and before the keys are
        # back: their checks then run once over the table, not once per row.
        for table in ("grids", "buildings"):
            session.execute(text(f"ANALYZE {table}"))  # fresh rows have no statistics; the joins are sized from them
        with deferred_indexes(session, ["events"]):
            insert_assigned(session, "stage_new_events", event_columns)
    for table, frame in basemap_frames(d, plane_to_lonlat()).items():
        counts[table.removeprefix("base_")] = copy_frame(session, table, frame)
    return counts


def load_demo_if_empty(engine, echo: Callable[[str], object] = print, scale: str = "demo") -> LoadReport | None:
    """Load the demo district when the database holds no areas, grids or other data yet."""
    with session_factory(engine)() as session:
        present = existing_rows(session)
    if present:
        echo(f"database already holds data ({', '.join(present)}): demo district not loaded")
        return None
    echo(f"loading the demo district {DISTRICT_NAME} ({CITY_NAME}) into the empty database…")
    report = load(engine, scale, seed=1)
    echo(report.summary())
    return report


def attach_demo_worker(session, user_name: str = "worker") -> list[str]:
    """Scope the demo grid worker to one community's grids and link them to its 网格员 cadre.

    The community is that of the first 网格员 (by cadre code) holding a current contract; a
    worker who already has a grid scope keeps it. Returns the worker's grid codes.
    """
    user = session.scalar(select(User).where(User.name == user_name))
    if user is None:
        return []
    current = user_grid_codes(session, user.id)
    if current:
        return current
    row = session.execute(text(f"""
        SELECT c.id, g.community_id
        FROM cadres c JOIN contracts k ON k.cadre_id = c.id
        JOIN grids g ON g.code = k.grid_code AND {dated.current('g')}
        WHERE c.type = '网格员' AND (c.user_id IS NULL OR c.user_id = :uid)
          AND {dated.in_force('k', 'CURRENT_DATE', open_start=False)}
        ORDER BY c.code, g.code LIMIT 1
    """), {"uid": user.id}).first()
    if row is None:
        return []
    cadre_id, community_id = row
    codes = list(session.scalars(text(
        f"SELECT code FROM grids WHERE community_id = :c AND {dated.current('grids')} ORDER BY code"),
        {"c": community_id}))
    set_user_grids(session, user, codes)
    if session.scalar(select(Cadre.id).where(Cadre.user_id == user.id)) is None:
        session.get(Cadre, cadre_id).user_id = user.id
    return codes
