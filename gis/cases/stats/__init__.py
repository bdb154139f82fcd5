"""The evaluation indicators (结案率, 按期结案率, 返工率, 延期率, handling time) from a precomputed summary.

summary (the rows, kept current and rebuilt) ← indicators (read, ranked, CSV) and command_center (the
counters the tick refreshes).
"""
from gis.cases.stats.command_center import counters, refresh_counters
from gis.cases.stats.departments import DEPARTMENT_RANKABLE, DEPARTMENT_RATIOS, department_league
from gis.cases.stats.indicators import (
    BUCKETS,
    CSV_FIELDS,
    DEFINITIONS,
    GROUPS,
    RANKABLE,
    RATIOS,
    StatsQuery,
    StatsReport,
    indicators,
    to_csv,
)
from gis.cases.stats.summary import (
    BATCH,
    COUNTS,
    KEY,
    KEY_LIST,
    REST,
    local_today,
    mark_due_dirty,
    rebuild,
    refresh_dirty,
)

__all__ = ["BATCH", "BUCKETS", "COUNTS", "CSV_FIELDS", "DEFINITIONS", "DEPARTMENT_RANKABLE", "DEPARTMENT_RATIOS",
           "department_league", "GROUPS", "KEY", "KEY_LIST", "RANKABLE",
           "RATIOS", "REST", "StatsQuery", "StatsReport", "counters", "indicators", "local_today", "mark_due_dirty",
           "rebuild", "refresh_counters", "refresh_dirty", "to_csv"]
