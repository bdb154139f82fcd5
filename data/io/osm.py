"""OpenStreetMap tags → the basemap's classes: roads from highway=*, water from waterway=* and
natural=water, place names from place=* (the layers `lines`, `multipolygons` and `points` of GDAL's OSM driver)."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

# highway=* → road class; anything else (construction, proposed, platform…) is not a road we draw.
HIGHWAY_CLASS = {
    **dict.fromkeys(("motorway", "motorway_link", "trunk", "trunk_link"), "motorway"),
    **dict.fromkeys(("primary", "primary_link"), "arterial"),
    **dict.fromkeys(("secondary", "secondary_link", "tertiary", "tertiary_link"), "secondary"),
    **dict.fromkeys(("residential", "unclassified", "living_street", "service", "road"), "local"),
    **dict.fromkeys(("footway", "path", "cycleway", "pedestrian", "track", "steps", "bridleway"), "path"),
}
WATERWAY_KIND = {"river": "river", "stream": "river", "canal": "canal", "riverbank": "river"}
PLACE_KIND = {
    **dict.fromkeys(("county", "district", "municipality", "borough", "city"), "district"),
    "town": "town",
    **dict.fromkeys(("village", "hamlet", "isolated_dwelling", "farm"), "village"),
    **dict.fromkeys(("suburb", "quarter", "neighbourhood", "city_block"), "neighbourhood"),
    **dict.fromkeys(("square", "locality", "island", "islet"), "poi"),
}
# Which layer of the OSM driver each basemap layer reads.
OSM_LAYERS = {"roads": ("lines",), "water": ("lines", "multipolygons"), "places": ("points",)}
_TAG = re.compile(r'"((?:[^"\\]|\\.)*)"=>"((?:[^"\\]|\\.)*)"')


def is_osm(path) -> bool:
    """Whether `path` is an OpenStreetMap extract (.osm.pbf or .osm)."""
    name = str(path).lower()
    return name.endswith(".osm.pbf") or name.endswith(".osm")


def other_tag(frame: pd.DataFrame, key: str) -> np.ndarray:
    """The value of `key` in each row: its own column when the driver gives one, else from other_tags."""
    if key in frame.columns:
        return frame[key].to_numpy(dtype=object)
    tags = frame["other_tags"] if "other_tags" in frame.columns else pd.Series([None] * len(frame))
    return np.array([dict(_TAG.findall(t)).get(key) if isinstance(t, str) else None for t in tags], dtype=object)


def classes(layer: str, osm_layer: str, frame: pd.DataFrame) -> np.ndarray:
    """Our class (or kind) for each feature of an OSM layer; None where the feature is not on the basemap."""
    def mapped(values, table):
        return np.array([table.get(v) if isinstance(v, str) else None for v in values], dtype=object)

    if layer == "roads":
        return mapped(other_tag(frame, "highway"), HIGHWAY_CLASS)
    if layer == "places":
        return mapped(other_tag(frame, "place"), PLACE_KIND)
    if osm_layer == "lines":
        return mapped(other_tag(frame, "waterway"), {k: v for k, v in WATERWAY_KIND.items() if k != "riverbank"})
    natural, waterway, landuse = (other_tag(frame, k) for k in ("natural", "waterway", "landuse"))
    water = other_tag(frame, "water")
    out = np.full(len(frame), None, dtype=object)
    for i in range(len(frame)):
        if natural[i] == "water":
            out[i] = {"river": "river", "canal": "canal", "sea": "sea"}.get(water[i], "lake")
        elif natural[i] == "bay":
            out[i] = "sea"
        elif waterway[i] == "riverbank":
            out[i] = "river"
        elif landuse[i] in ("reservoir", "basin"):
            out[i] = "lake"
    return out
