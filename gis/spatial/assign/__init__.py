"""Which grid an event belongs to: locate_point() for one point, assign_events() for many, one rule.

rule (the SQL both paths share) ← locate (one point, a named prepared statement) and bulk (many
events in one statement: in place, from a staging table, or at an edit's instant).
"""
from gis.spatial.assign.bulk import GRID_DRIVEN_MIN_EVENTS, assign_events, grids_at, insert_assigned
from gis.spatial.assign.locate import CadreRef, Location, Ref, execute_locate, locate_point, prepare_locate
from gis.spatial.assign.rule import BUILDING_NEAR_M, DEFAULT_SNAP_M, EXACT_NEAREST_M

__all__ = ["BUILDING_NEAR_M", "DEFAULT_SNAP_M", "EXACT_NEAREST_M", "GRID_DRIVEN_MIN_EVENTS", "CadreRef", "Location",
           "Ref", "assign_events", "execute_locate", "grids_at", "insert_assigned", "locate_point", "prepare_locate"]
