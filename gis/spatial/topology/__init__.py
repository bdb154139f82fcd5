"""Topology rules for grids: a community's grids tile it — no overlaps, no gaps, nothing outside.

rules (tolerances, bounds, the problems reported) ← frame (metres near a place) ← snapping ←
checks (one community's changed grids) ← partition (every community's grids). rules.py says the rules.
"""
from gis.spatial.topology.checks import Candidate, bounds_warnings, check_grids, part_problems, polygonal, shape_problem
from gis.spatial.topology.frame import Frame
from gis.spatial.topology.partition import PartitionReport, check_partition, validate_partition
from gis.spatial.topology.rules import (
    AREA_BOUNDS_M2,
    HOUSEHOLD_BOUNDS,
    MAX_LISTED,
    MIN_PART_M2,
    MIN_WIDTH_M,
    NOISE_M2,
    SNAP_TOLERANCE_M,
    Problem,
    Rules,
    fmt_m2,
)
from gis.spatial.topology.snapping import snap

__all__ = ["AREA_BOUNDS_M2", "HOUSEHOLD_BOUNDS", "MAX_LISTED", "MIN_PART_M2", "MIN_WIDTH_M", "NOISE_M2",
           "SNAP_TOLERANCE_M", "Candidate", "Frame", "PartitionReport", "Problem", "Rules", "bounds_warnings",
           "check_grids", "check_partition", "fmt_m2", "part_problems", "polygonal", "shape_problem", "snap",
           "validate_partition"]
