"""The demo's basemap: its roads by class and name, the river and the bay as water, and place names."""
from __future__ import annotations

import numpy as np
import pandas as pd
import shapely

from data.bulk import ewkb_hex
from data.demo.plane import multi, on_grid, snap
from data.demo.records import DISTRICT_NAME, DemoDistrict, Water
from data.demo.roads import ROAD_WIDTH_M

# The demo's road classes as the basemap's (data/demo/roads.py; the river's edges are water instead).
ROAD_CLASS = {"arterial": "arterial", "secondary": "secondary", "local": "local", "boundary": "local"}
BAY_NAME = "幸福湾"


def draw_water(river, bay, to_ll) -> list[Water]:
    """The river as an area its width wide and the bay, both snapped to the 1 cm grid before projecting."""
    # Two segments per quarter circle keep the banks' few trigonometric values away from the last bits.
    banks = on_grid(shapely.buffer(river, ROAD_WIDTH_M["river"] / 2, quad_segs=2))
    return [Water("river", "幸福河", multi(shapely.transform(banks, to_ll))),
            Water("sea", BAY_NAME, multi(shapely.transform(bay, to_ll)))]


def basemap_frames(d: DemoDistrict, to_ll) -> dict[str, pd.DataFrame]:
    """Rows for base_roads, base_water and base_places, ready to COPY."""
    roads = [r for r in d.roads if r.cls in ROAD_CLASS]
    frames = {
        "base_roads": pd.DataFrame({
            "class": [ROAD_CLASS[r.cls] for r in roads], "name": [r.name for r in roads],
            "geom": ewkb_hex(np.array([shapely.MultiLineString([r.geom]) for r in roads], dtype=object))}),
        "base_water": pd.DataFrame({
            "kind": [w.kind for w in d.water], "name": [w.name for w in d.water],
            "geom": ewkb_hex(np.array([w.geom for w in d.water], dtype=object))}),
    }
    # Names at the areas' label points, found on the plane (snapped), so every CPU puts them alike.
    kinds = {"district": "district", "street": "town", "community": "neighbourhood"}
    points = snap(np.array([[p.x, p.y] for p in (a.geom_m.representative_point() for a in d.areas)]))
    lonlat = to_ll(points)
    frames["base_places"] = pd.DataFrame({
        "kind": ["village" if a.name.endswith("村") else kinds[a.level] for a in d.areas],
        "name": [DISTRICT_NAME if a.level == "district" else a.name for a in d.areas],
        "geom": ewkb_hex(shapely.points(lonlat))})
    return frames
