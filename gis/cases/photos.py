"""Photos by content (never by name): their kind, EXIF time and place, GPS-stripped variant and thumbnail."""
from __future__ import annotations

import datetime as dt
import io
import math
import struct
import warnings
from dataclasses import dataclass

import pillow_heif
from PIL import ExifTags, Image, ImageOps

from gis.core.errors import InvalidInput, TooLarge, UnsupportedMedia

pillow_heif.register_heif_opener()  # HEIC/HEIF, what iPhones and many Android phones take

# Pillow's format names → the media type served. HEIF's is refined by the file's brand (see _heif_type).
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "HEIF": "image/heif"}
ACCEPTED = "JPEG, PNG, WebP or HEIC/HEIF"
THUMB_PX = 320  # the thumbnail's long side at most
THUMB_QUALITY = 80
REENCODE_QUALITY = 92  # a WebP or HEIC whose GPS is removed is encoded again (JPEG and PNG lose nothing)
_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}


@dataclass(frozen=True)
class PhotoLimits:
    """The configured limits (api/app.py reads them): size, pixels, and when a photo is flagged far or old."""

    max_bytes: int = 15 * 1024 * 1024
    # Against decompression bombs: a small file that would decode to gigabytes of pixels.
    max_pixels: int = 50_000_000
    far_m: float = 500.0
    old_h: float = 24.0


@dataclass(frozen=True)
class Photo:
    """A checked upload and what was made of it."""

    data: bytes
    content_type: str
    width: int
    height: int
    # DateTimeOriginal: aware when OffsetTimeOriginal was given, else naive (the district's local time).
    taken_at: dt.datetime | None
    lon: float | None
    lat: float | None
    public: bytes  # the original without its GPS (the same bytes when it had none)
    thumb: bytes  # a JPEG, orientation applied, no EXIF at all


def inspect(data: bytes, limits: PhotoLimits) -> Photo:
    """Check `data` is a photo of an accepted kind within the limits, read its EXIF, make its variants."""
    if not data:
        raise InvalidInput("Empty file", "The uploaded file has no bytes; send the photo itself.", parameter="file")
    if len(data) > limits.max_bytes:
        raise TooLarge("Photo too large", f"The photo is {len(data):,} bytes; at most "
                       f"{limits.max_bytes:,} bytes ({limits.max_bytes / 1048576:.0f} MB) are accepted. Send it at a "
                       "smaller size (phones offer this when sharing).", limit_bytes=limits.max_bytes)
    image = _open(data, limits)
    fmt = image.format
    try:
        image.verify()  # the file's own checksums and structure; the image must be opened again after
        image = _open(data, limits)
        width, height = image.size  # before the thumbnail's draft mode shrinks a JPEG's decoding
        exif = image.getexif()
        taken_at = _taken_at(exif)
        lon, lat = _gps(exif)
        thumb = _thumbnail(image)
        public = _without_gps(data, fmt, exif, image)  # after the thumbnail: a HEIF is decoded once, there
    except (InvalidInput, TooLarge):
        raise
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error … for damaged files
        raise InvalidInput("Damaged photo", f"The file looks like {fmt} but cannot be decoded "
                           f"({type(exc).__name__}); send the photo again, as the camera saved it.",
                           parameter="file") from None
    content_type = _heif_type(data) if fmt == "HEIF" else FORMATS[fmt]
    return Photo(data=data, content_type=content_type, width=width, height=height, taken_at=taken_at,
                 lon=lon, lat=lat, public=public, thumb=thumb)


def _open(data: bytes, limits: PhotoLimits) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels(None, limits) from None
        except Exception:  # UnidentifiedImageError mostly; a plugin may raise anything on bytes it half knows
            raise UnsupportedMedia("Not a photo we accept", "The file's content is not a "
                                   f"{ACCEPTED} image (its name does not matter, only what it holds); send a "
                                   "photo in one of these formats.", parameter="file", accepted=list(FORMATS.values())
                                   ) from None
    if image.width * image.height > limits.max_pixels:
        raise _too_many_pixels(image, limits)
    return image


def _too_many_pixels(image: Image.Image | None, limits: PhotoLimits) -> TooLarge:
    size = f"is {image.width} × {image.height} pixels" if image is not None else "has far more pixels than that"
    return TooLarge("Too many pixels", f"At most {limits.max_pixels:,} pixels are accepted and the "
                    f"image {size}; send it at a smaller resolution.", limit_pixels=limits.max_pixels)


def public_type(content_type: str) -> str:
    """The media type of the variant without GPS: a HEIC/HEIF photo's is a JPEG (see _without_gps)."""
    return "image/jpeg" if content_type in ("image/heic", "image/heif") else content_type


def _heif_type(data: bytes) -> str:
    return "image/heic" if data[8:12] in _HEIC_BRANDS else "image/heif"


# -- EXIF ------------------------------------------------------------------------------------
def _taken_at(exif: Image.Exif) -> dt.datetime | None:
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    raw = _text(sub.get(ExifTags.Base.DateTimeOriginal))
    if not raw:
        return None
    try:
        moment = dt.datetime.strptime(raw.strip()[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00" and other cameras' placeholders: no time
    offset = _text(sub.get(ExifTags.Base.OffsetTimeOriginal))
    if offset:
        try:
            return moment.replace(tzinfo=dt.datetime.strptime(offset.strip(), "%z").tzinfo)
        except ValueError:
            pass  # an unreadable offset: read as the district's local time, like none
    return moment


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    try:
        lat = _degrees(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = _degrees(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None, None
    return lon, lat


def _degrees(dms, ref, negative: str) -> float:
    """EXIF's degrees, minutes, seconds (rationals) as signed decimal degrees (phones write WGS84)."""
    degrees, minutes, seconds = (float(v) for v in dms)
    value = degrees + minutes / 60 + seconds / 3600
    return -value if (_text(ref) or "").strip().upper() == negative else value


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value.strip("\x00 ") if isinstance(value, str) else None


# -- variants --------------------------------------------------------------------------------
def _thumbnail(image: Image.Image) -> bytes:
    if image.format == "JPEG":
        image.draft("RGB", (THUMB_PX * 2, THUMB_PX * 2))  # decode at 1/2 … 1/8 scale: a 50 MP photo in 1/64 the work
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image.load()
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((THUMB_PX, THUMB_PX))
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        upright = flat
    out = io.BytesIO()
    upright.convert("RGB").save(out, "JPEG", quality=THUMB_QUALITY, optimize=True)  # no exif= : none written
    return out.getvalue()


def _without_gps(data: bytes, fmt: str, exif: Image.Exif, decoded: Image.Image) -> bytes:
    """The original without GPS IFD, XMP or a JPEG's appended images (the same bytes when it had none)."""
    has_gps = ExifTags.IFD.GPSInfo in exif
    if fmt == "JPEG":  # lossless: segments are dropped or replaced, the image data copied
        if not has_gps:
            return _jpeg_with_exif(data, None, keep_exif=True)
        kept = _exif_without_gps(exif)
        return _jpeg_with_exif(data, b"Exif\x00\x00" + kept if kept else None)
    if fmt == "HEIF":
        # Browsers do not show HEIC, and encoding HEVC again costs tens of seconds a photo on a small
        # server: the variant everyone else receives is a JPEG, turned upright, its EXIF without GPS
        # and without the orientation it no longer needs.
        upright = ImageOps.exif_transpose(decoded).convert("RGB")
        kept = _exif_without_gps(exif)
        if kept:
            block = Image.Exif()
            block.load(kept)
            block.pop(ExifTags.Base.Orientation, None)
            kept = block.tobytes()
        out = io.BytesIO()
        upright.save(out, "JPEG", quality=REENCODE_QUALITY, exif=kept or b"")
        return out.getvalue()
    has_xmp = b"http://ns.adobe.com/xap/1.0/" in data[:1_000_000] or b"<x:xmpmeta" in data[:1_000_000]
    if not has_gps and not has_xmp:
        return data
    kept = _exif_without_gps(exif)
    image = Image.open(io.BytesIO(data))
    image.info.pop("xmp", None)
    out = io.BytesIO()
    options = {"PNG": {}, "WEBP": {"quality": REENCODE_QUALITY}}[fmt]
    image.save(out, fmt, exif=kept or b"", **options)
    return out.getvalue()


def _exif_without_gps(exif: Image.Exif) -> bytes | None:
    """The EXIF block again without its GPS IFD; None (no EXIF at all) when it cannot be written back whole."""
    try:
        stripped = Image.Exif()
        stripped.load(exif.tobytes())
        stripped.get_ifd(ExifTags.IFD.Exif)  # loaded, so it is written back
        if ExifTags.IFD.GPSInfo in stripped:
            del stripped[ExifTags.IFD.GPSInfo]
        return stripped.tobytes() if len(stripped) else None
    except Exception:  # a camera's odd tag Pillow cannot write: the public variant loses all its EXIF instead
        return None


def _jpeg_with_exif(data: bytes, app1: bytes | None, *, keep_exif: bool = False) -> bytes:
    """The JPEG with its EXIF segment replaced by `app1` (None: removed), without XMP, MPF or anything after its end."""
    # Phones append depth maps and previews after the first image, with EXIF of their own; the
    # compressed image itself is copied unchanged.
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    out, pos, placed = [b"\xff\xd8"], 2, False
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("JPEG marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xDA, 0xD9):  # start of scan: the rest is the image
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segment = data[pos:pos + 2 + length]
        body = segment[4:]
        is_exif = marker == 0xE1 and body.startswith(b"Exif\x00\x00")
        is_xmp = marker == 0xE1 and (body.startswith(b"http://ns.adobe.com/") or b"<x:xmpmeta" in body[:200])
        is_mpf = marker == 0xE2 and body.startswith(b"MPF\x00")
        if is_exif and keep_exif:
            out.append(segment)
        elif is_exif:
            if app1 is not None and not placed:
                out.append(b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1)
                placed = True
        elif not (is_xmp or is_mpf):
            out.append(segment)
        pos += 2 + length
    # Entropy-coded data never holds FF D9 (a data FF is followed by 00): the first one ends the image.
    end = data.find(b"\xff\xd9", pos)
    out.append(data[pos:] if end < 0 else data[pos:end + 2])
    return b"".join(out)
