"""Grid editing at city scale: validating one edit, validating the whole partition, previewing a commit.

Prints, measured in one run on the `city` data set (~9.5k grids in 650 communities):
- one edit: gis.spatial.editing.validate_edit of a shared vertex moved 3 m, in 20 communities picked at
  random (seeded), median and p95; against a bare floor — the same checks (validity, parts outside
  the community, overlaps with siblings, gap left) written as one PostGIS statement over the
  already-moved geometries, with no parsing, snapping, planning or messages. Target < 100 ms.
- whole partition: gis.spatial.topology.validate_partition over every community; against a bare floor —
  reading every current grid and community over the wire into shapely geometries, which any check
  in Python must do. Target < 2 s.
- preview: gis.spatial.editing.commit_edit of the same edits, rolled back (what POST /grid-edits/preview and
  the commit itself cost: locks, versions, buildings, open events, contracts, audit), reported
  against its own validation.
"""
from __future__ import annotations

import random
import statistics

import numpy as np
import shapely
from sqlalchemy import text

from bench.common import bench_database_url, percentile, report, timed
from gis.core.db import make_engine, session_factory
from gis.spatial.editing import commit_edit, parse_edit, validate_edit
from gis.spatial.topology import Frame, Rules, validate_partition

TARGET_EDIT_S = 0.100
TARGET_PARTITION_S = 2.0
EDITS = 20
SEED = 7

FLOOR_EDIT_SQL = text("""
WITH new AS (
    SELECT code, ST_GeomFromWKB(wkb, 4326) AS g
    FROM unnest(CAST(:codes AS text[]), CAST(:wkbs AS bytea[])) AS t(code, wkb)
), c AS (SELECT geom FROM admin_areas WHERE id = :cid)
SELECT (SELECT bool_and(ST_IsValid(g)) FROM new),
       (SELECT sum(ST_Area(ST_Difference(n.g, c.geom)::geography)) FROM new n, c),
       (SELECT sum(ST_Area(ST_Intersection(n.g, s.geom)::geography)) FROM new n JOIN grids s
          ON s.community_id = :cid AND s.valid_to IS NULL AND s.code <> ALL(CAST(:codes AS text[]))
         AND s.geom && n.g),
       (SELECT ST_Area(ST_Difference(
            (SELECT ST_Union(geom) FROM grids WHERE code = ANY(CAST(:codes AS text[])) AND valid_to IS NULL),
            (SELECT ST_Union(g) FROM new))::geography))
""")


def _shared_vertex_edits(session, n: int) -> list[dict]:
    """n edits, each moving a vertex shared by two or more grids of one community 3 m north-east,
    chosen away from the community boundary so the edit is a valid one."""
    rng = random.Random(SEED)
    communities = session.execute(text(
        "SELECT id, code FROM admin_areas WHERE level = 'community' ORDER BY code")).all()
    edits = []
    for cid, code in rng.sample(communities, len(communities)):
        rows = session.execute(text("""
            SELECT g.code, ST_AsBinary(g.geom) AS wkb FROM grids g
            WHERE g.community_id = :cid AND g.valid_to IS NULL ORDER BY g.code"""), {"cid": cid}).all()
        boundary = shapely.boundary(shapely.from_wkb(bytes(session.scalar(
            text("SELECT ST_AsBinary(geom) FROM admin_areas WHERE id = :cid"), {"cid": cid}))))
        seen: dict[tuple, set] = {}
        for r in rows:
            for xy in shapely.get_coordinates(shapely.from_wkb(bytes(r.wkb))).tolist():
                seen.setdefault(tuple(xy), set()).add(r.code)
        inner = [(xy, codes) for xy, codes in seen.items() if len(codes) >= 2
                 and shapely.distance(shapely.Point(xy), boundary) > 1e-4]
        if not inner:
            continue
        xy, codes = inner[rng.randrange(len(inner))]
        frame = Frame(*xy)
        dx, dy = 3 / frame.kx / np.sqrt(2), 3 / frame.ky / np.sqrt(2)
        edits.append({"community_id": cid, "community": code, "grids": sorted(codes),
                      "body": {"op": "move_vertices", "grids": sorted(codes),
                               "moves": [{"from": list(xy), "to": [xy[0] + dx, xy[1] + dy]}]}})
        if len(edits) == n:
            break
    return edits


def _floor_edit(session, edit: dict, plan) -> None:
    wkbs = [shapely.to_wkb(o.geom) for o in plan.opening]
    session.execute(FLOOR_EDIT_SQL, {"codes": [o.label for o in plan.opening], "wkbs": wkbs,
                                     "cid": edit["community_id"]}).one()


def _floor_partition(session) -> None:
    grids = session.execute(text("SELECT ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL")).scalars().all()
    areas = session.execute(text("SELECT ST_AsBinary(geom) FROM admin_areas WHERE level = 'community'")).scalars().all()
    shapely.from_wkb([bytes(w) for w in grids])
    shapely.from_wkb([bytes(w) for w in areas])


def main() -> None:
    """One edit, the whole partition and previews, on the city data set."""
    engine = make_engine(bench_database_url("city"))
    rules = Rules()
    try:
        with session_factory(engine)() as session:
            session.execute(text("ANALYZE grids"))
            session.commit()
            grids, communities = session.execute(text(
                "SELECT (SELECT count(*) FROM grids WHERE valid_to IS NULL),"
                " (SELECT count(*) FROM admin_areas WHERE level = 'community')")).one()
            edits = _shared_vertex_edits(session, EDITS)
            print(f"city: {grids:,} current grids in {communities} communities; {len(edits)} edits, each a shared "
                  "vertex moved 3 m", flush=True)
            plans = [validate_edit(session, parse_edit(e["body"]), rules) for e in edits]
            invalid = [e["community"] for e, p in zip(edits, plans) if not p.valid]
            print(f"  edits found valid: {len(edits) - len(invalid)}/{len(edits)} "
                  f"(refused: {', '.join(invalid) or 'none'})", flush=True)
            session.rollback()

            ours, floor = [], []
            for edit, plan in zip(edits, plans):
                ours += timed(lambda edit=edit: validate_edit(session, parse_edit(edit["body"]), rules), repeat=3)
                floor += timed(lambda edit=edit, plan=plan: _floor_edit(session, edit, plan), repeat=3)
                session.rollback()
            report("validate one edit (median) vs bare SQL checks", ours, floor)
            p95 = percentile(ours, 95)
            median = statistics.median(ours)
            print(f"  validate one edit: median {median * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
                  f"target < {TARGET_EDIT_S * 1000:.0f} ms: {'ok' if p95 < TARGET_EDIT_S else 'MISSES target'}",
                  flush=True)

            partition = validate_partition(session, None, rules)
            print(f"  partition: {partition.grids:,} grids, {len(partition.errors)} errors "
                  f"{partition.counts(partition.errors)}, {len(partition.warnings):,} warnings", flush=True)
            ours = timed(lambda: validate_partition(session, None, rules), repeat=3)
            floor = timed(lambda: _floor_partition(session), repeat=3)
            session.rollback()
            report("validate the whole partition vs reading it into shapely", ours, floor)
            median = statistics.median(ours)
            print(f"  whole partition: median {median:.2f} s, target < {TARGET_PARTITION_S:.0f} s: "
                  f"{'ok' if median < TARGET_PARTITION_S else 'MISSES target'}", flush=True)

            previews, validations = [], []
            for edit, plan in zip(edits, plans):
                if not plan.valid:
                    continue

                def preview(edit=edit):
                    try:
                        commit_edit(session, parse_edit(edit["body"]), user_id=None, if_match=None, rules=rules,
                                    dry_run=True)
                    finally:
                        session.rollback()

                previews += timed(preview, repeat=2)
                validations += timed(lambda edit=edit: validate_edit(session, parse_edit(edit["body"]), rules),
                                     repeat=2)
                session.rollback()
            report("preview / commit one edit (rolled back) vs validating it", previews, validations)
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
