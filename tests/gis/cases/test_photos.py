"""Photos are judged by content: accepted kinds, limits, EXIF time and GPS, the public variant, the thumbnail."""
from __future__ import annotations

import datetime as dt
import struct
import zlib

import pytest
from PIL import ExifTags, Image

from gis.cases.photos import PhotoLimits, inspect, public_type
from gis.core.errors import InvalidInput, TooLarge, UnsupportedMedia
from tests.images import gps_of, opened, photo

LIMITS = PhotoLimits()
HERE = (121.4712, 31.2305)


@pytest.mark.parametrize("fmt,content_type", [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
                                               ("HEIF", "image/heic")])
def test_each_accepted_format_is_recognised_by_its_bytes(fmt, content_type):
    found = inspect(photo(fmt, taken=dt.datetime(2026, 11, 30, 9, 15), lonlat=HERE), LIMITS)
    assert found.content_type == content_type
    assert found.lon == pytest.approx(HERE[0], abs=1e-5) and found.lat == pytest.approx(HERE[1], abs=1e-5)
    assert found.taken_at == dt.datetime(2026, 11, 30, 9, 15)


def test_a_time_with_its_offset_is_read_as_that_zone():
    found = inspect(photo(taken=dt.datetime(2026, 11, 30, 9, 15), offset="+09:00"), LIMITS)
    assert found.taken_at == dt.datetime(2026, 11, 30, 0, 15, tzinfo=dt.UTC)
    assert found.taken_at.utcoffset() == dt.timedelta(hours=9)


def test_a_photo_without_exif_has_no_time_and_no_place():
    found = inspect(photo("PNG"), LIMITS)
    assert found.taken_at is None and found.lon is None and found.lat is None
    assert found.public == found.data  # nothing to remove: the public variant is the original


def test_a_text_file_is_refused_as_unsupported():
    with pytest.raises(UnsupportedMedia, match="Not a photo"):
        inspect(b"just some text, saved as photo.jpg\n" * 20, LIMITS)


def test_a_truncated_jpeg_is_refused_as_damaged():
    data = photo()
    with pytest.raises(InvalidInput):
        inspect(data[: len(data) // 2], LIMITS)


def test_a_photo_over_the_size_limit_names_the_limit():
    data = photo()
    with pytest.raises(TooLarge, match="too large") as caught:
        inspect(data, PhotoLimits(max_bytes=len(data) - 1))
    assert f"{len(data) - 1:,}" in caught.value.detail


def test_a_photo_with_more_pixels_than_allowed_is_refused_before_decoding():
    with pytest.raises(TooLarge, match="pixels"):
        inspect(photo("PNG", size=(1000, 1000)), PhotoLimits(max_pixels=999_999))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_the_public_variant_has_no_gps_but_keeps_the_time(fmt):
    found = inspect(photo(fmt, taken=dt.datetime(2026, 11, 30, 9, 15), lonlat=HERE), LIMITS)
    assert gps_of(found.data) and not gps_of(found.public)
    kept = opened(found.public).getexif().get_ifd(ExifTags.IFD.Exif)
    assert kept.get(ExifTags.Base.DateTimeOriginal) == "2026:11:30 09:15:00"
    # A HEIC's variant is a JPEG (browsers cannot show HEIC); the others keep their format.
    assert opened(found.public).format == ("JPEG" if fmt == "HEIF" else opened(found.data).format)
    assert public_type(found.content_type) == Image.MIME[opened(found.public).format]


def test_a_heic_turned_sideways_reaches_others_as_an_upright_jpeg():
    found = inspect(photo("HEIF", size=(1200, 800), orientation=6, lonlat=HERE), LIMITS)
    public = opened(found.public)
    assert public.format == "JPEG" and public.size == (800, 1200)
    assert ExifTags.Base.Orientation not in public.getexif() and not gps_of(found.public)


def test_the_jpeg_public_variant_keeps_the_compressed_image_unchanged():
    found = inspect(photo(lonlat=HERE), LIMITS)
    assert found.public != found.data
    assert found.data[found.data.index(b"\xff\xda"):] == found.public[found.public.index(b"\xff\xda"):]


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "HEIF"])
def test_the_thumbnail_is_a_small_upright_jpeg_without_exif(fmt):
    found = inspect(photo(fmt, size=(1200, 800), orientation=6, lonlat=HERE), LIMITS)
    thumb = opened(found.thumb)
    assert thumb.format == "JPEG" and max(thumb.size) <= 320
    assert thumb.size[1] > thumb.size[0]  # orientation 6: turned upright, so portrait
    assert not thumb.getexif() and "exif" not in thumb.info


def test_images_a_phone_appends_after_the_jpeg_never_reach_the_public_variant():
    for primary in (photo(), photo(lonlat=HERE)):
        found = inspect(primary + photo(lonlat=HERE, colour=(1, 2, 3)), LIMITS)
        assert found.public.endswith(b"\xff\xd9") and found.public.count(b"gridgov-test") == 1
        assert not gps_of(found.public)


def test_a_jpeg_with_nothing_to_remove_is_its_own_public_variant():
    data = photo(taken=dt.datetime(2026, 11, 30, 9, 15))
    assert inspect(data, LIMITS).public == data


def _png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` × `height` pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("side", [8000, 100_000])
def test_a_decompression_bomb_is_refused_from_its_header(side):
    with pytest.raises(TooLarge, match="pixels"):
        inspect(_png_declaring(side, side), LIMITS)
