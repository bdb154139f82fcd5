"""The roads and the river: the noded edges between grids, each with the class and name of its cut."""
from __future__ import annotations

import numpy as np
import shapely

from data.demo.plane import NODING_GRID_M
from data.demo.records import Road

ROAD_CLASSES = ("boundary", "local", "secondary", "arterial", "river")  # by rank
ROAD_WIDTH_M = {"boundary": 12.0, "local": 10.0, "secondary": 24.0, "arterial": 40.0, "river": 60.0}


def name_roads(faces, outline, cuts) -> list[Road]:
    """The noded edges with the class and name of the road each follows."""
    lines = shapely.union_all(shapely.boundary(faces), grid_size=NODING_GRID_M)
    edges = shapely.get_parts(lines)
    mids = shapely.line_interpolate_point(edges, 0.5, normalized=True)
    cut_geoms = np.array([c[0] for c in cuts], dtype=object)
    tree = shapely.STRtree(cut_geoms)
    e_i, c_i = tree.query(mids, predicate="dwithin", distance=0.05)
    rank = {c: i for i, c in enumerate(ROAD_CLASSES)}
    best = np.full(len(edges), -1)
    best_rank = np.full(len(edges), -1)
    for e, c in zip(e_i, c_i, strict=True):
        r = rank[cuts[c][1]]
        if r > best_rank[e]:
            best_rank[e], best[e] = r, c
    boundary = outline.boundary
    roads = []
    for e, geom in enumerate(edges):
        if best[e] >= 0:
            _g, cls, name = cuts[best[e]]
        else:
            cls, name = "boundary", "区界路"
            if boundary.distance(mids[e]) > 1.0:
                cls, name = "local", "巷道"
        roads.append(Road(name, cls, ROAD_WIDTH_M[cls], geom))
    return roads
