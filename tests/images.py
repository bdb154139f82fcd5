"""Real photos for the tests, made with Pillow: EXIF written by its Exif API (DateTimeOriginal, the GPS IFD)."""
from __future__ import annotations

import datetime as dt
import io

import pillow_heif
from PIL import ExifTags, Image

pillow_heif.register_heif_opener()


def dms(value: float) -> tuple[float, float, float]:
    """Decimal degrees as EXIF's (degrees, minutes, seconds)."""
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    return float(degrees), float(minutes), round((value - degrees - minutes / 60) * 3600, 4)


def exif(*, taken: dt.datetime | None = None, offset: str | None = None, lonlat: tuple[float, float] | None = None,
         orientation: int | None = None) -> Image.Exif:
    """An Exif block with the given DateTimeOriginal (+ OffsetTimeOriginal), GPS position and orientation."""
    block = Image.Exif()
    block[ExifTags.Base.Make] = "gridgov-test"
    if orientation:
        block[ExifTags.Base.Orientation] = orientation
    if taken is not None:
        sub = block.get_ifd(ExifTags.IFD.Exif)
        sub[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
        if offset:
            sub[ExifTags.Base.OffsetTimeOriginal] = offset
    if lonlat is not None:
        lon, lat = lonlat
        gps = block.get_ifd(ExifTags.IFD.GPSInfo)
        gps[ExifTags.GPS.GPSLatitudeRef] = "N" if lat >= 0 else "S"
        gps[ExifTags.GPS.GPSLatitude] = dms(lat)
        gps[ExifTags.GPS.GPSLongitudeRef] = "E" if lon >= 0 else "W"
        gps[ExifTags.GPS.GPSLongitude] = dms(lon)
    return block


def photo(fmt: str = "JPEG", size: tuple[int, int] = (800, 600), colour: tuple[int, int, int] = (200, 60, 40),
          **exif_fields) -> bytes:
    """An image of `size` in `fmt` (JPEG, PNG, WEBP, HEIF) with a gradient so it is not trivial, and EXIF."""
    image = Image.new("RGB", size, colour)
    for x in range(0, size[0], 16):
        image.paste((x % 256, colour[1], (colour[2] + x) % 256), (x, 0, min(x + 8, size[0]), size[1]))
    out = io.BytesIO()
    image.save(out, fmt, exif=exif(**exif_fields).tobytes(), **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def gps_of(data: bytes) -> dict:
    """The GPS IFD of an image's EXIF (empty when it has none)."""
    return dict(Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo))


def opened(data: bytes) -> Image.Image:
    """The image Pillow reads from `data`."""
    return Image.open(io.BytesIO(data))
