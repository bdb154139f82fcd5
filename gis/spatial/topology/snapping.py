"""Snapping drawn vertices onto the linework of the community and its neighbouring grids."""
from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from gis.spatial.topology.frame import Frame


def snap(geom: BaseGeometry, reference: BaseGeometry | None, frame: Frame, tolerance_m: float) -> BaseGeometry:
    """`geom` (lon/lat) with its vertices snapped onto `reference` (lon/lat linework) within tolerance_m.

    In this order: a vertex within the tolerance of a reference vertex takes that vertex's exact
    coordinates; else, within the tolerance of a reference edge, it moves onto the edge; then a
    reference vertex within the tolerance of an edge of `geom` is inserted into that edge (GEOS
    snapping). Distances are measured in the frame's local plane; coordinates that do not move are
    returned bit for bit as given.
    """
    if reference is None or reference.is_empty or geom.is_empty or tolerance_m <= 0:
        return geom
    geom_l, ref_l = frame.to_local(geom), frame.to_local(reference)
    # Remember where every local coordinate came from, to return the original lon/lat exactly.
    originals: dict[tuple[float, float], tuple[float, float]] = {}
    for deg, loc in ((geom, geom_l), (reference, ref_l)):
        for key, value in zip(shapely.get_coordinates(loc).tolist(), shapely.get_coordinates(deg).tolist()):
            originals.setdefault(tuple(key), tuple(value))
    ref_vertices = shapely.multipoints(shapely.get_coordinates(ref_l))
    coords = shapely.get_coordinates(geom_l)
    points = shapely.points(coords)
    to_vertex = shapely.distance(points, ref_vertices)
    to_edge = shapely.distance(points, ref_l)
    onto_edge = (to_vertex > tolerance_m) & (to_edge <= tolerance_m) & (to_edge > 0)
    if onto_edge.any():
        ends = shapely.get_coordinates(shapely.shortest_line(points[onto_edge], ref_l)).reshape(-1, 2, 2)[:, 1]
        coords = coords.copy()
        coords[onto_edge] = ends
        geom_l = shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(geom_l)), coords)
    snapped_l = shapely.snap(geom_l, ref_l, tolerance_m)
    out = shapely.get_coordinates(snapped_l)
    restored = np.array([originals.get((x, y), (math.nan, math.nan)) for x, y in out.tolist()]).reshape(-1, 2)
    fresh = np.isnan(restored[:, 0])
    if fresh.any():  # points moved onto an edge: new coordinates, mapped back
        restored[fresh] = shapely.get_coordinates(frame.from_local(shapely.points(out[fresh])))
    return shapely.set_coordinates(shapely.from_wkb(shapely.to_wkb(snapped_l)), restored)
