"""Coordinates in: GCJ-02 and BD-09 against an independent implementation, EPSG codes, bad input."""
from __future__ import annotations

import math
import random
import warnings

import prcoords  # the reference implementation (PyPI, test-only): not our code
import pytest
from pyproj import Geod

from gis.core.errors import InvalidInput
from gis.spatial import crs

GEOD = Geod(ellps="WGS84")


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


def _china_points(n: int = 300, seed: int = 4) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    points = [(121.47, 31.23), (116.397, 39.909), (113.264, 23.129), (87.6, 43.8), (126.6, 45.75)]
    points += [(rng.uniform(75, 134), rng.uniform(18, 53)) for _ in range(n)]
    return points


def test_gcj02_forward_matches_reference():
    for lon, lat in _china_points():
        ref = prcoords.wgs_gcj((lat, lon))
        ours = crs.wgs84_to_gcj02(lon, lat)
        assert ours == pytest.approx((ref.lon, ref.lat), abs=1e-9)


def test_gcj02_to_wgs84_recovers_reference_pairs_within_1_cm():
    worst = 0.0
    for lon, lat in _china_points():
        gcj = prcoords.wgs_gcj((lat, lon))
        assert _metres((gcj.lon, gcj.lat), (lon, lat)) > 50  # the offset is real: hundreds of metres
        back = crs.to_wgs84(gcj.lon, gcj.lat, "gcj02")
        worst = max(worst, _metres(back, (lon, lat)))
    assert worst < 0.01


def test_bd09_to_wgs84_recovers_reference_pairs_within_1_cm():
    worst = 0.0
    for lon, lat in _china_points():
        bd = prcoords.wgs_bd((lat, lon))
        assert crs.wgs84_to_bd09(lon, lat) == pytest.approx((bd.lon, bd.lat), abs=1e-9)
        back = crs.to_wgs84(bd.lon, bd.lat, "bd09")
        worst = max(worst, _metres(back, (lon, lat)))
    assert worst < 0.01


@pytest.mark.parametrize("point", [(139.69, 35.69), (-0.1276, 51.5072), (151.2, -33.87)])
def test_gcj02_is_identity_outside_china(point):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the reference warns about non-Chinese coordinates
        ref = prcoords.wgs_gcj((point[1], point[0]))
    assert (ref.lon, ref.lat) == point
    assert crs.to_wgs84(*point, "gcj02") == point
    assert crs.wgs84_to_gcj02(*point) == point


@pytest.mark.parametrize("name", ["wgs84", "WGS84", "EPSG:4326", "cgcs2000", "EPSG:4490", "epsg:4490", None])
def test_wgs84_and_cgcs2000_pass_through_in_lon_lat_order(name):
    # EPSG:4490 and 4326 are latitude-first officially; x is still the longitude here.
    assert crs.to_wgs84(121.47, 31.23, name) == pytest.approx((121.47, 31.23), abs=1e-12)


def test_cgcs2000_through_pyproj_agrees_with_the_shortcut():
    geographic, transformer = crs._transformer("EPSG:4490")
    assert geographic
    assert transformer.transform(121.47, 31.23) == pytest.approx((121.47, 31.23), abs=1e-9)


def test_web_mercator_matches_the_closed_form():
    x, y = 13522000.0, 3662000.0
    lon = math.degrees(x / 6378137.0)
    lat = math.degrees(2 * math.atan(math.exp(y / 6378137.0)) - math.pi / 2)
    assert crs.to_wgs84(x, y, "EPSG:3857") == pytest.approx((lon, lat), abs=1e-9)


def _meridian_arc_m(lat_deg: float, a: float = 6378137.0, f: float = 1 / 298.257222101) -> float:
    # Length of the meridian from the equator, by numerical integration (independent of PROJ).
    e2 = f * (2 - f)
    n = 20000
    h = math.radians(lat_deg) / n
    total = 0.0
    for i in range(n):
        phi = (i + 0.5) * h
        total += a * (1 - e2) / (1 - e2 * math.sin(phi) ** 2) ** 1.5 * h
    return total


def test_northing_first_projected_crs_takes_easting_as_x():
    # EPSG:4549 is CGCS2000 / 3-degree Gauss-Kruger CM 120E, officially northing-first. On the
    # central meridian the easting is the false easting and the northing the meridian arc.
    northing = _meridian_arc_m(31.0)
    lon, lat = crs.to_wgs84(500000.0, northing, "EPSG:4549")
    assert lon == pytest.approx(120.0, abs=1e-9)
    assert lat == pytest.approx(31.0, abs=1e-7)


@pytest.mark.parametrize("bad", ["wgs85", "EPSG:999999", "EPSG:0000", "utm", "gcj03", "EPSG:4326; DROP"])
def test_unknown_crs_is_invalid_input(bad):
    with pytest.raises(InvalidInput) as info:
        crs.to_wgs84(121.47, 31.23, bad)
    assert info.value.extra.get("parameter") == "crs"
    assert "EPSG" in info.value.detail


@pytest.mark.parametrize("x,y,name", [(121.47, 91.0, "wgs84"), (181.0, 31.0, "gcj02"), (121.47, -90.5, "bd09"),
                                      (float("nan"), 31.0, "wgs84"), (121.0, float("inf"), "EPSG:4490")])
def test_out_of_range_or_non_finite_is_invalid_input(x, y, name):
    with pytest.raises(InvalidInput):
        crs.to_wgs84(x, y, name)
