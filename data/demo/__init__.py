"""The demo district 幸福湾区 (厦门市, code 350209): a deterministic, realistic generator and its loader.

How the district is drawn, one module per phase. Everything is laid out on the CGCS2000 Gauss-Krüger
plane (metres) that Chinese survey data use, then projected to WGS84 for storage (plane).
 1. layout: an irregular outline with a bay (湾) on its south side; a river (幸福河) meanders across it
    into the bay. Streets and communities are cut out of it by straight roads (arterials, then
    secondary roads), each cut placed so the pieces hold the wanted number of grids (a density field
    makes the old town dense and the suburbs sparse). Each community is cut recursively by local roads
    until the pieces reach the grid size of their place (≈10,000 m² in the old town, several hectares
    outside), each within GRID_AREA_TOLERANCE of it; a few pieces become special grids (park, school,
    hospital, market, industrial park).
 2. hierarchy: all boundaries are noded together on a 1 cm grid and polygonised, so neighbouring grids
    share exactly the same vertices: the grids tile each community, communities tile streets, streets
    tile the district (shapely.coverage_is_valid holds); then streets, communities and grids are
    numbered and named. roads: the noded edges, each with its road's class and name.
 3. buildings: rectangles on a lattice aligned with each grid's long axis, kept only where they stay
    clear of every road's half-width plus a gap.
 4. events: the last 90 days, from hotspots (a market, a construction site, an old compound, a school
    gate…) and from background noise near homes, each inside a grid; statuses follow the age of the
    case. cadres: cadres of every type contract most grids, not all.
 5. checks: check_invariants checks the district's rules on what would be stored, before anything is.
generator.generate runs the phases; loader writes a district into an empty database.

Every decision is taken on coordinates snapped to 1 cm (NODING_GRID_M) and computed with plain
arithmetic or math on scalars, never BLAS (@, np.dot) or NumPy's array trigonometry: their kernels
differ between CPUs in the last bit, and one flipped comparison redraws the district.
"""
from data.demo.buildings import BUILDING_GAP_M
from data.demo.checks import InvariantError, check_invariants
from data.demo.events import DAYS, DEMO_STATUSES, EVENT_EDGE_MARGIN_M
from data.demo.generator import CATEGORIES_CSV, generate, read_categories
from data.demo.layout import GRID_AREA_TOLERANCE
from data.demo.loader import DATA_TABLES, LoadReport, attach_demo_worker, existing_rows, load, load_demo_if_empty, write
from data.demo.plane import CENTER_LONLAT, NODING_GRID_M, PLANE_CRS
from data.demo.records import (
    CITY_NAME,
    DISTRICT_CODE,
    DISTRICT_NAME,
    SCALES,
    Area,
    Buildings,
    DemoDistrict,
    Events,
    GridRec,
    Road,
    Scale,
)
from data.demo.roads import ROAD_WIDTH_M

__all__ = ["BUILDING_GAP_M", "CATEGORIES_CSV", "CENTER_LONLAT", "CITY_NAME", "DATA_TABLES", "DAYS", "DEMO_STATUSES",
           "DISTRICT_CODE", "DISTRICT_NAME", "EVENT_EDGE_MARGIN_M", "GRID_AREA_TOLERANCE", "NODING_GRID_M",
           "PLANE_CRS", "ROAD_WIDTH_M", "SCALES", "Area", "Buildings", "DemoDistrict", "Events", "GridRec",
           "InvariantError", "LoadReport", "Road", "Scale", "attach_demo_worker", "check_invariants", "existing_rows",
           "generate", "load", "load_demo_if_empty", "read_categories", "write"]
