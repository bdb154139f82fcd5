"""Noding the cut pieces into faces, then numbering and naming streets, communities and grids."""
from __future__ import annotations

import math

import numpy as np
import shapely

from data import names as nm
from data.demo.layout import DensityField
from data.demo.plane import NODING_GRID_M
from data.demo.records import DISTRICT_CODE, DISTRICT_NAME, Area, GridRec
from gis.spatial.codes import grid_code, reading_order


def node_faces(polys: np.ndarray) -> np.ndarray:
    """Faces of the noded union of all boundaries, in the order of `polys` (one face each)."""
    lines = shapely.union_all(shapely.boundary(polys), grid_size=NODING_GRID_M)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    pts = shapely.point_on_surface(faces)
    tree = shapely.STRtree(polys)
    face_i, poly_i = tree.query(pts, predicate="within")
    if len(face_i) != len(faces) or len(set(poly_i)) != len(polys):
        raise RuntimeError(f"noding changed the partition: {len(polys)} pieces, {len(faces)} faces")
    out = np.empty(len(polys), dtype=object)
    out[poly_i] = faces[face_i]
    return out


def number_and_name(faces, leaves, comm_polys, fld: DensityField, pool: nm.NamePool):
    """Number streets, communities and grids west→east, north→south and name them."""
    comm_faces: dict[int, list[int]] = {}
    for i, (_p, ci, *_rest) in enumerate(leaves):
        comm_faces.setdefault(ci, []).append(i)
    comm_geom = {ci: shapely.coverage_union_all(faces[idx]) for ci, idx in comm_faces.items()}
    street_comms: dict[int, list[int]] = {}
    for ci, (si, _cp) in enumerate(comm_polys):
        if ci in comm_geom:
            street_comms.setdefault(si, []).append(ci)
    street_geom = {si: shapely.coverage_union_all([comm_geom[c] for c in cs]) for si, cs in street_comms.items()}
    district_geom = shapely.coverage_union_all(list(street_geom.values()))

    areas = [Area("district", DISTRICT_CODE, DISTRICT_NAME, None, district_geom)]
    grids: list[GridRec] = []
    sids = list(street_geom)
    spts = shapely.point_on_surface([street_geom[s] for s in sids])
    srow = math.sqrt(np.median([street_geom[s].area for s in sids]))
    n_jd, n_town = 0, 0
    for s_order in reading_order(shapely.get_x(spts), shapely.get_y(spts), srow):
        si = sids[s_order]
        sp = spts[s_order]
        town = fld.zone(sp.x, sp.y) == "suburb"
        if town:
            scode = f"{DISTRICT_CODE}{100 + n_town:03d}"
            n_town += 1
            sname = pool.word() + nm.TOWN_SUFFIX
        else:
            n_jd += 1
            scode = f"{DISTRICT_CODE}{n_jd:03d}"
            sname = pool.word() + nm.STREET_SUFFIX
        areas.append(Area("street", scode, sname, DISTRICT_CODE, street_geom[si]))
        cids = street_comms[si]
        cpts = shapely.point_on_surface([comm_geom[c] for c in cids])
        crow = math.sqrt(np.median([comm_geom[c].area for c in cids]))
        n_sq, n_cun = 0, 0
        for c_order in reading_order(shapely.get_x(cpts), shapely.get_y(cpts), crow):
            ci = cids[c_order]
            cp = cpts[c_order]
            village = town and fld.rel(cp.x, cp.y) > 0.62
            if village:
                ccode = f"{scode}{200 + n_cun:03d}"
                n_cun += 1
                cname = pool.word() + "村"
            else:
                n_sq += 1
                ccode = f"{scode}{n_sq:03d}"
                cname = pool.word() + "社区"
            areas.append(Area("community", ccode, cname, scode, comm_geom[ci]))
            idx = comm_faces[ci]
            gp = shapely.point_on_surface(faces[idx])
            grow = math.sqrt(np.median(shapely.area(faces[idx])))
            for seq, g_order in enumerate(reading_order(shapely.get_x(gp), shapely.get_y(gp), grow), start=1):
                li = idx[g_order]
                _p, _ci, kind, target, zone = leaves[li]
                if kind:
                    options = nm.SPECIAL_GRIDS[kind]
                    gname = pool.word() + options[len(grids) % len(options)] + "网格"
                    use = kind
                else:
                    gname = f"{cname}第{nm.chinese_number(seq) if seq < 100 else seq}网格"
                    use = zone
                grids.append(GridRec(grid_code(ccode, seq), gname, "special" if kind else "basic", ccode, use,
                                     faces[li], zone=zone, target_m2=target))
    return areas, grids
