"""Coordinates in: WGS84, CGCS2000, GCJ-02 (AMap/Tencent), BD-09 (Baidu) and any EPSG code → WGS84."""
from __future__ import annotations

import functools
import math
import re

from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis.core.errors import InvalidInput

# x is always the easting or longitude and y the northing or latitude, whatever axis order a CRS
# declares officially: EPSG:4490 (CGCS2000) and EPSG:4326 are latitude-first in the EPSG registry,
# and pyproj follows that unless told `always_xy`. Every caller of this module passes (x, y).

# The names a client may send for the systems phones and surveys report in.
WGS84_NAMES = {"wgs84", "wgs-84", "epsg:4326", "crs84", "ogc:crs84"}
# CGCS2000 and WGS84 differ by centimetres; gridgov stores them as equal (see gis/core/models/base.py SRID).
CGCS2000_NAMES = {"cgcs2000", "epsg:4490"}
GCJ02_NAMES = {"gcj02", "gcj-02", "gcj", "amap", "tencent"}
BD09_NAMES = {"bd09", "bd-09", "bd09ll", "baidu"}
SUPPORTED = "wgs84 (default), cgcs2000 / EPSG:4490, gcj02, bd09, or any EPSG:n"

_EPSG = re.compile(r"^epsg:(\d{4,6})$")

# -- GCJ-02 -----------------------------------------------------------------------------------
# GCJ-02 ("Mars coordinates") is WGS84 moved by a smooth, deliberately obscure offset of a few
# hundred metres, defined on the Krasovsky 1940 ellipsoid and applied only inside China. The
# forward transform is a published closed form; its inverse has none, so we iterate: the offset
# varies by millimetres over metres, so a fixed-point iteration converges in a few steps.
_KRASOVSKY_A = 6378245.0
_KRASOVSKY_EE = 0.00669342162296594323
# The box inside which phones apply the offset (the one every public GCJ-02 implementation uses).
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)  # lon_min, lat_min, lon_max, lat_max
# Iterate until the forward transform reproduces the input to 1e-10° (about 0.01 mm).
_GCJ_TOLERANCE_DEG = 1e-10
_MAX_ITERATIONS = 30


def in_china_box(lon: float, lat: float) -> bool:
    """Whether GCJ-02 applies at this point (the conventional China bounding box)."""
    return CHINA_BOX[0] <= lon <= CHINA_BOX[2] and CHINA_BOX[1] <= lat <= CHINA_BOX[3]


def _gcj_offset_m(x: float, y: float) -> tuple[float, float]:
    # The published distortion, in metres east and north, of (x, y) = (lon − 105, lat − 35).
    east = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0)
    north = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
             + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
             + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
             + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0)
    return east, north


def wgs84_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 → GCJ-02 (the closed form); unchanged outside China."""
    if not in_china_box(lon, lat):
        return lon, lat
    east, north = _gcj_offset_m(lon - 105.0, lat - 35.0)
    rad = math.radians(lat)
    magic = 1.0 - _KRASOVSKY_EE * math.sin(rad) ** 2
    m_per_deg_lat = math.radians(_KRASOVSKY_A * (1.0 - _KRASOVSKY_EE) / (magic * math.sqrt(magic)))
    m_per_deg_lon = math.radians(_KRASOVSKY_A * math.cos(rad) / math.sqrt(magic))
    return lon + east / m_per_deg_lon, lat + north / m_per_deg_lat


def gcj02_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → WGS84 by fixed-point iteration of the forward transform (round trip < 1 cm)."""
    if not in_china_box(lon, lat):
        return lon, lat
    return _invert(wgs84_to_gcj02, lon, lat)


# -- BD-09 ------------------------------------------------------------------------------------
# BD-09 is GCJ-02 rotated and scaled slightly about the origin, then shifted; Baidu's SDK and
# maps report it. Its usual "inverse" formula is itself approximate (decimetres), so we iterate.
_BD_X_PI = math.pi * 3000.0 / 180.0


def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """GCJ-02 → BD-09 (the closed form)."""
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.cos(theta) + 0.0065, z * math.sin(theta) + 0.006


def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → GCJ-02 by iterating the forward transform."""
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: float, lat: float) -> tuple[float, float]:
    """WGS84 → BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 → WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _invert(forward, lon: float, lat: float) -> tuple[float, float]:
    # Solve forward(w) = target: start at the target and step by the residual.
    w_lon, w_lat = lon, lat
    for _ in range(_MAX_ITERATIONS):
        f_lon, f_lat = forward(w_lon, w_lat)
        d_lon, d_lat = f_lon - lon, f_lat - lat
        if abs(d_lon) < _GCJ_TOLERANCE_DEG and abs(d_lat) < _GCJ_TOLERANCE_DEG:
            break
        w_lon, w_lat = w_lon - d_lon, w_lat - d_lat
    return w_lon, w_lat


# -- any CRS ----------------------------------------------------------------------------------
def normalise_crs(crs: str | None) -> str:
    """The canonical name of a CRS a client sent: 'wgs84', 'cgcs2000', 'gcj02', 'bd09' or 'EPSG:n'."""
    name = (crs or "wgs84").strip().lower()
    if name in WGS84_NAMES:
        return "wgs84"
    if name in CGCS2000_NAMES:
        return "cgcs2000"
    if name in GCJ02_NAMES:
        return "gcj02"
    if name in BD09_NAMES:
        return "bd09"
    match = _EPSG.match(name)
    if match:
        code = f"EPSG:{int(match.group(1))}"
        _transformer(code)  # unknown codes fail here, with the reason
        return code
    raise InvalidInput("Unknown crs", f"crs {str(crs)[:40]!r} is not supported; use {SUPPORTED}.",
                       parameter="crs")


@functools.lru_cache(maxsize=64)
def _transformer(code: str):
    try:
        source = CRS.from_user_input(code)
    except CRSError:
        raise InvalidInput("Unknown crs", f"{code} is not in the EPSG registry; use {SUPPORTED}.",
                           parameter="crs") from None
    # always_xy: x is easting/longitude even where the CRS's official order is latitude-first.
    return source.is_geographic, Transformer.from_crs(source, "EPSG:4326", always_xy=True)


def to_wgs84(x: float, y: float, crs: str | None = "wgs84") -> tuple[float, float]:
    """(lon, lat) in WGS84 of a point given as (x, y) = (lon or easting, lat or northing) in `crs`.

    'wgs84' and 'cgcs2000'/'EPSG:4490' pass through (treated as equal); 'gcj02' and 'bd09' are
    inverted iteratively to under 1 cm (GCJ-02 is the identity outside China); any other
    'EPSG:n' goes through pyproj with x/y in easting/northing order whatever the CRS's axis order.
    Unknown CRSs and coordinates outside the CRS's range raise InvalidInput.
    """
    name = normalise_crs(crs)
    for value, axis in ((x, "lon"), (y, "lat")):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise InvalidInput(f"Invalid {axis}", f"`{axis}` must be a finite number.", parameter=axis)
    if name in ("wgs84", "cgcs2000", "gcj02", "bd09"):
        _check_lonlat(x, y, name)
        if name == "gcj02":
            return gcj02_to_wgs84(x, y)
        if name == "bd09":
            return bd09_to_wgs84(x, y)
        return float(x), float(y)
    geographic, transformer = _transformer(name)
    if geographic:
        _check_lonlat(x, y, name)
    lon, lat = transformer.transform(x, y)
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lon) > 180 or abs(lat) > 90:
        raise InvalidInput("Coordinates outside the CRS", f"({x}, {y}) has no WGS84 position in {name}; "
                           "for a projected CRS give easting as lon and northing as lat.")
    return lon, lat


def _check_lonlat(lon: float, lat: float, name: str) -> None:
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput("lon out of range", f"`lon` must be between -180 and 180 in {name}; got {lon}.",
                           parameter="lon")
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput("lat out of range", f"`lat` must be between -90 and 90 in {name}; got {lat}.",
                           parameter="lat")
