"""The demo's basemap: its roads with class and name, the river and the bay as water, place names, by seed."""
from __future__ import annotations

import numpy as np
from sqlalchemy import text

from data.demo.basemap import BAY_NAME, basemap_frames
from data.demo.generator import generate
from data.demo.plane import plane_to_lonlat
from gis.core.models import ROAD_CLASSES


def test_the_demo_writes_roads_water_and_places(demo_session):
    s = demo_session
    classes = dict(s.execute(text("SELECT class, count(*) FROM base_roads GROUP BY 1")).all())
    assert set(classes) <= set(ROAD_CLASSES) and {"arterial", "secondary", "local"} <= set(classes)
    assert s.execute(text("SELECT count(*) FROM base_roads WHERE name IS NULL")).scalar_one() == 0
    water = s.execute(text("SELECT kind, name FROM base_water ORDER BY kind")).all()
    assert [tuple(w) for w in water] == [("river", "幸福河"), ("sea", BAY_NAME)]
    # The bay is the sea beside the district, not on it; the river runs through it.
    district = "(SELECT geom FROM admin_areas WHERE level = 'district')"
    assert s.execute(text(f"SELECT ST_Area(ST_Intersection(w.geom, d.geom)::geography) < 1 FROM base_water w, "
                          f"{district} d WHERE w.kind = 'sea'")).scalar_one()
    assert s.execute(text(f"SELECT ST_Intersects(w.geom, d.geom) FROM base_water w, {district} d "
                          "WHERE w.kind = 'river'")).scalar_one()
    # A name for the district, each street and each community, inside its area.
    assert s.execute(text("""
        SELECT count(*) FROM admin_areas a JOIN base_places p ON p.name = a.name OR (a.level = 'district'
        AND p.kind = 'district') WHERE ST_Contains(a.geom, p.geom)
    """)).scalar_one() == s.execute(text("SELECT count(*) FROM admin_areas")).scalar_one()


def test_the_demo_basemap_is_the_same_for_the_same_seed():
    first, second = (basemap_frames(generate("tiny", 3), plane_to_lonlat()) for _ in range(2))
    for table in first:
        assert first[table].equals(second[table]), table
    assert len(first["base_roads"]) > 0 and np.all(first["base_roads"]["name"] != "")
