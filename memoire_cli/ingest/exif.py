"""EXIF and IPTC-IIM through Pillow (headers only, no pixel decoding), and the EXIF orientation.

* Capture time: ``DateTimeOriginal`` (+ ``SubSecTimeOriginal``) with ``OffsetTimeOriginal``: with
  an offset the time is converted to UTC and the offset kept (``taken_tz``, minutes east of UTC: the
  photo's local time is ``taken_at + taken_tz``), without one it is the camera's wall-clock time as
  is (``DateTime`` of IFD0 is the fallback). GPS: ``GPSLatitude``/``Ref`` and ``GPSLongitude``/``Ref``.
  Rating: ``Rating`` (0x4746, stars) else ``RatingPercent`` (0x4749). ``Orientation`` (0x0112).
* IPTC-IIM (JPEG APP13): City (2:90), Sub-location (2:92), Province/State (2:95), Country (2:101),
  Keywords (2:25).
* Orientation (EXIF 1–8): :func:`orient_image` turns the stored pixels into the view people see
  (as ``PIL.ImageOps.exif_transpose`` does), :func:`orient_box` moves a normalised box with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

_IFD_EXIF, _IFD_GPS = 0x8769, 0x8825
_ORIENTATION, _DATETIME, _RATING, _RATING_PERCENT, _XMP_TAG = 0x0112, 0x0132, 0x4746, 0x4749, 700
_DATETIME_ORIGINAL, _OFFSET_ORIGINAL, _SUBSEC_ORIGINAL = 0x9003, 0x9011, 0x9291


@dataclass(frozen=True)
class ExifData:
    taken_at: datetime | None = None
    taken_offset: bool = False
    taken_tz: int | None = None  # the stated offset, minutes east of UTC (None: no offset stated)
    gps: tuple[float, float] | None = None
    orientation: int | None = None
    rating: float | None = None
    rating_source: str | None = None
    location: tuple[str | None, str | None, str | None, str | None] | None = None  # IPTC-IIM
    keywords: tuple[str, ...] = ()  # IPTC-IIM


def exif_offset_minutes(offset: Any) -> int | None:
    """An EXIF ``OffsetTime*`` value "±HH:MM" → minutes east of UTC; None when absent or malformed."""
    if isinstance(offset, bytes):
        offset = offset.decode("ascii", "replace")
    if not isinstance(offset, str):
        return None
    off = offset.strip().rstrip("\x00")
    if len(off) == 6 and off[0] in "+-" and off[3] == ":" and off[1:3].isdigit() and off[4:].isdigit():
        minutes = int(off[1:3]) * 60 + int(off[4:])
        if minutes >= 24 * 60:  # no such offset
            return None
        return minutes if off[0] == "+" else -minutes
    return None


def parse_exif_datetime(text: Any, subsec: Any = None, offset: Any = None) -> tuple[datetime | None, bool]:
    """"YYYY:MM:DD HH:MM:SS" (+ sub-seconds, + "±HH:MM") → (naive datetime, UTC when offset applied)."""
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str):
        return None, False
    try:
        dt = datetime.strptime(text.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None, False
    if isinstance(subsec, str) and subsec.strip().isdigit():
        dt = dt.replace(microsecond=int(subsec.strip()[:6].ljust(6, "0")))
    minutes = exif_offset_minutes(offset)
    if minutes is not None:
        try:
            return dt.replace(tzinfo=timezone(timedelta(minutes=minutes))).astimezone(UTC).replace(tzinfo=None), True
        except OverflowError:  # year 1 or 9999 shifted past the calendar's ends: the local time is kept
            return dt, False
    return dt, False


def _dms(value: Any, ref: Any) -> float | None:
    try:
        d, m, s = (float(v) for v in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    out = d + m / 60 + s / 3600
    ref = ref.decode("ascii", "replace") if isinstance(ref, bytes) else ref
    return -out if isinstance(ref, str) and ref.strip().upper()[:1] in ("S", "W") else out


def _iim_text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if not isinstance(value, bytes):
        return None
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = value.decode("latin-1")
    return text.strip() or None


def read_exif(im: Any) -> ExifData:
    """What EXIF and IPTC-IIM say about an opened (not decoded) Pillow image; never raises on bad tags."""
    try:
        exif = im.getexif()
    except Exception:  # noqa: BLE001 - Pillow raises anything on a broken EXIF block; it is as good as none
        return ExifData()
    try:
        sub = exif.get_ifd(_IFD_EXIF)
    except Exception:  # noqa: BLE001 - malformed tags raise anything; treated as absent
        sub = {}
    taken, offset = parse_exif_datetime(sub.get(_DATETIME_ORIGINAL), sub.get(_SUBSEC_ORIGINAL), sub.get(_OFFSET_ORIGINAL))
    tz = exif_offset_minutes(sub.get(_OFFSET_ORIGINAL)) if offset else None
    if taken is None:
        taken, offset = parse_exif_datetime(exif.get(_DATETIME))
    gps = None
    try:
        g = exif.get_ifd(_IFD_GPS)
        lat, lon = _dms(g.get(2), g.get(1)), _dms(g.get(4), g.get(3))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180 and (lat, lon) != (0.0, 0.0):
            gps = (lat, lon)
    except Exception:  # noqa: BLE001 - malformed tags raise anything; treated as absent
        gps = None
    orientation = exif.get(_ORIENTATION)
    orientation = int(orientation) if isinstance(orientation, int) and 1 <= orientation <= 8 else None
    rating, source = None, None
    stars = exif.get(_RATING)
    if isinstance(stars, int) and -1 <= stars <= 5:
        rating, source = float(stars), "exif:Rating"
    elif isinstance(exif.get(_RATING_PERCENT), int) and 0 <= exif.get(_RATING_PERCENT) <= 100:
        from memoire_cli.ingest.xmp import percent_to_stars

        rating, source = percent_to_stars(exif.get(_RATING_PERCENT)), "exif:RatingPercent"
    keywords: tuple[str, ...]
    location, keywords = None, ()
    if im.format in ("JPEG", "MPO", "TIFF"):
        try:
            from PIL import IptcImagePlugin

            iim = IptcImagePlugin.getiptcinfo(im) or {}
        except Exception:  # noqa: BLE001 - malformed tags raise anything; treated as absent
            iim = {}
        loc = tuple(_iim_text(iim.get((2, k))) for k in (92, 90, 95, 101))
        location = loc if any(loc) else None
        kw = iim.get((2, 25))
        keywords = tuple(t for t in (_iim_text([k]) for k in (kw if isinstance(kw, list) else [kw] if kw else [])) if t)
    return ExifData(taken, offset, tz, gps, orientation, rating, source, location, keywords)  # type: ignore[arg-type]


def embedded_xmp(im: Any) -> bytes | str | None:
    """The XMP packet embedded in an opened Pillow image (JPEG APP1, PNG iTXt, WebP chunk, TIFF tag 700)."""
    packet = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if packet is None and im.format == "TIFF":
        try:
            packet = im.tag_v2.get(_XMP_TAG)
        except Exception:  # noqa: BLE001 - malformed tags raise anything; treated as absent
            packet = None
    if isinstance(packet, tuple):
        packet = bytes(packet)
    return packet or None


#: EXIF orientation → the Pillow transpose that shows the stored pixels upright (as exif_transpose).
def _transposes() -> dict[int, Any]:
    from PIL import Image

    t = Image.Transpose
    return {2: t.FLIP_LEFT_RIGHT, 3: t.ROTATE_180, 4: t.FLIP_TOP_BOTTOM, 5: t.TRANSPOSE, 6: t.ROTATE_270, 7: t.TRANSVERSE, 8: t.ROTATE_90}


def orient_image(im: Any, orientation: int | None) -> Any:
    """The stored image ``im`` turned upright for ``orientation`` (1 or None: unchanged)."""
    op = _transposes().get(orientation or 1)
    return im if op is None else im.transpose(op)


def orient_point(x: float, y: float, orientation: int | None) -> tuple[float, float]:
    """A normalised point of the stored image → the same point in the upright view."""
    return {
        2: (1 - x, y), 3: (1 - x, 1 - y), 4: (x, 1 - y), 5: (y, x), 6: (1 - y, x), 7: (1 - y, 1 - x), 8: (y, 1 - x),
    }.get(orientation or 1, (x, y))


def orient_box(cx: float, cy: float, w: float, h: float, orientation: int | None) -> tuple[float, float, float, float]:
    """A normalised centre box of the stored image → (x0, y0, x1, y1) normalised in the upright view."""
    xs, ys = [], []
    for px, py in ((cx - w / 2, cy - h / 2), (cx + w / 2, cy + h / 2)):
        qx, qy = orient_point(px, py, orientation)
        xs.append(qx)
        ys.append(qy)
    return (min(xs), min(ys), max(xs), max(ys))
