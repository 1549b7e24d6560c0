"""Reading XMP packets (embedded and sidecar) the way photo managers write them.

Parsed with ``defusedxml`` (no DTDs, no entity expansion, no external references): a packet is
data from the photo folder, never trusted. What is read (namespaces by URI, prefixes free):

* **Face regions.** MWG ``mwg-rs:Regions`` (``RegionList`` of ``Area`` structs: centre ``x, y``
  and size ``w, h`` normalised to the image, ``Type`` Face/Pet/…, ``Name``; ``AppliedToDimensions``
  w×h) and Microsoft ``MP:RegionInfo`` (``MPReg:Rectangle`` "x, y, w, h" from the top-left corner,
  ``MPReg:PersonDisplayName``). Both are converted to a centre-based normalised box; how they are
  rotated with the orientation is :func:`memoire_cli.ingest.exif.orient_box`'s business.
* **People without regions.** ``Iptc4xmpExt:PersonInImage``.
* **Keywords.** ``dc:subject`` (flat), ``lr:hierarchicalSubject`` (``|``-separated paths) and
  ``digiKam:TagsList`` (``/``-separated paths).
* **Location.** ``Iptc4xmpCore:Location`` + ``photoshop:City/State/Country``, else the first
  ``Iptc4xmpExt:LocationShown`` (then ``LocationCreated``) struct: Sublocation, City,
  ProvinceState, CountryName.
* **Rating and flags.** ``xmp:Rating`` (−1 rejected, 0 unrated, 1–5 stars),
  ``MicrosoftPhoto:Rating`` (percent, mapped to stars as Windows does), ``digiKam:PickLabel``
  (3 accepted, 1 rejected), ``xmpDM:pick`` (1 pick, −1 reject), ``xmpDM:good`` (true: a pick; false
  only says the shot is not marked good, so it is neither a pick nor a reject).
* **Colour label.** ``xmp:Label`` (a name: Lightroom's and darktable's "Red", "Yellow", "Green",
  "Blue", "Purple", or any text), else ``digiKam:ColorLabel`` (1–9 → Red, Orange, Yellow, Green,
  Blue, Magenta, Gray, Black, White; 0 none). Recorded in the file's metadata, not used by a stage.
* **Capture data.** ``exif:DateTimeOriginal`` / ``photoshop:DateCreated`` / ``xmp:CreateDate``
  (ISO 8601, with a time-zone offset when present), ``exif:GPSLatitude``/``GPSLongitude``
  ("DD,MM.mmR" or decimal), ``tiff:Orientation``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
DC = "{http://purl.org/dc/elements/1.1/}"
LR = "{http://ns.adobe.com/lightroom/1.0/}"
DIGIKAM = "{http://www.digikam.org/ns/1.0/}"
XMP = "{http://ns.adobe.com/xap/1.0/}"
XMPDM = "{http://ns.adobe.com/xmp/1.0/DynamicMedia/}"
MSPHOTO = "{http://ns.microsoft.com/photo/1.0/}"
MP = "{http://ns.microsoft.com/photo/1.2/}"
MPRI = "{http://ns.microsoft.com/photo/1.2/t/RegionInfo#}"
MPREG = "{http://ns.microsoft.com/photo/1.2/t/Region#}"
MWGRS = "{http://www.metadataworkinggroup.com/schemas/regions/}"
STAREA = "{http://ns.adobe.com/xmp/sType/Area#}"
STDIM = "{http://ns.adobe.com/xap/1.0/sType/Dimensions#}"
IPTC_EXT = "{http://iptc.org/std/Iptc4xmpExt/2008-02-29/}"
IPTC_CORE = "{http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/}"
PHOTOSHOP = "{http://ns.adobe.com/photoshop/1.0/}"
EXIF = "{http://ns.adobe.com/exif/1.0/}"
TIFF = "{http://ns.adobe.com/tiff/1.0/}"

#: digiKam's colour label numbers → the colour names (DMetadata::getImageColorLabel's order).
DIGIKAM_COLOURS = {1: "Red", 2: "Orange", 3: "Yellow", 4: "Green", 5: "Blue", 6: "Magenta", 7: "Gray", 8: "Black", 9: "White"}

#: Windows' percent ratings → stars (the thresholds Windows Explorer uses).
_PERCENT_TO_STARS = ((99, 5), (75, 4), (50, 3), (25, 2), (1, 1))


class XmpError(ValueError):
    """A packet that is not well-formed XMP (or tries entity tricks)."""


@dataclass(frozen=True)
class Region:
    """A named or unnamed area of the image, centre-based and normalised to the *stored* image.

    ``applied``: the (w, h) the writer says the region was applied to (MWG ``AppliedToDimensions``),
    used to tell a region written on the stored pixels from one written on the rotated view.
    """

    name: str | None
    cx: float
    cy: float
    w: float
    h: float
    kind: str = "Face"
    applied: tuple[float, float] | None = None
    source: str = "mwg"


@dataclass(frozen=True)
class XmpData:
    """What one packet says; ``None`` / empty where it says nothing."""

    regions: tuple[Region, ...] = ()
    persons: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # flat
    paths: tuple[tuple[str, ...], ...] = ()  # hierarchical keywords, root first
    location: tuple[str | None, str | None, str | None, str | None] | None = None  # sublocation, city, state, country
    rating: float | None = None
    rating_source: str | None = None
    pick: bool | None = None  # True: picked/accepted, False: rejected
    pick_source: str | None = None  # the flag that set pick: digiKam:PickLabel | xmpDM:pick | xmpDM:good
    label: str | None = None  # colour label: xmp:Label, else digiKam:ColorLabel's colour name
    taken_at: datetime | None = None  # naive UTC when an offset was given, else wall-clock
    taken_offset: bool = False
    taken_tz: int | None = None  # the stated offset, minutes east of UTC (None: none, or "Z")
    gps: tuple[float, float] | None = None
    orientation: int | None = None
    has_regions: bool = False  # a region list was present (possibly empty): it overrides

    def over(self, base: XmpData) -> XmpData:
        """This packet (a sidecar) over ``base`` (the embedded one), field by field."""
        out = base
        for name in self.__dataclass_fields__:
            mine = getattr(self, name)
            if name in ("has_regions", "taken_offset", "taken_tz", "rating_source", "pick_source", "regions"):
                continue
            if mine is None or mine == ():
                continue
            out = replace(out, **{name: mine})
            if name == "rating":
                out = replace(out, rating_source=self.rating_source)
            if name == "pick":
                out = replace(out, pick_source=self.pick_source)
            if name == "taken_at":
                out = replace(out, taken_offset=self.taken_offset, taken_tz=self.taken_tz)
        if self.has_regions:  # a sidecar's region list (even empty) replaces the embedded one
            out = replace(out, regions=self.regions, has_regions=True)
        return out


# ------------------------------------------------------------------------------------ RDF access
def _struct(el: Any) -> list[Any]:
    """The elements carrying a struct's fields (parseType=Resource, nested rdf:Description, or attributes)."""
    descs = el.findall(f"{RDF}Description")
    return [*descs, el]


def _field(parts: list[Any], qname: str) -> Any:
    """A property as an attribute value (str) or element, from the first part that has it."""
    for p in parts:
        if qname in p.attrib:
            return p.attrib[qname]
    for p in parts:
        child = p.find(qname)
        if child is not None:
            return child
    return None


def _items(value: Any) -> list[Any]:
    """The members of an rdf:Bag/Seq/Alt (elements), or [value] for a simple value."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    for container in ("Bag", "Seq", "Alt"):
        c = value.find(f"{RDF}{container}")
        if c is not None:
            return c.findall(f"{RDF}li")
    return [value]


def _text(value: Any) -> str | None:
    """A simple value's text (the first alternative of an rdf:Alt), stripped; None when empty."""
    if value is None:
        return None
    if not isinstance(value, str):
        alts = _items(value)
        value = alts[0] if alts and alts[0] is not value else value
        value = value if isinstance(value, str) else (value.text or "")
    value = value.strip()
    return value or None


def _texts(value: Any) -> list[str]:
    return [t for t in (_text(v) for v in _items(value)) if t]


def _float(value: Any) -> float | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


# ------------------------------------------------------------------------------------- parsing
def parse_xmp(packet: bytes | str) -> XmpData:
    """Parse one XMP packet (raises :class:`XmpError` when it is not well-formed or unsafe)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    if isinstance(packet, str):
        packet = packet.encode("utf-8", "surrogatepass")
    packet = packet.strip(b"\x00 \t\r\n")
    if not packet:
        raise XmpError("empty XMP packet")
    try:
        root = fromstring(packet, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise XmpError(f"malformed XMP: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    rdf = root if root.tag == f"{RDF}RDF" else root.find(f".//{RDF}RDF")
    if rdf is None:
        raise XmpError("malformed XMP: no rdf:RDF element")
    top = rdf.findall(f"{RDF}Description")
    if not top:
        return XmpData()
    regions, has_regions = _regions(top)
    paths = [tuple(p.strip() for p in k.split("|") if p.strip()) for k in _texts(_field(top, f"{LR}hierarchicalSubject"))]
    paths += [tuple(p.strip() for p in k.split("/") if p.strip()) for k in _texts(_field(top, f"{DIGIKAM}TagsList"))]
    rating, source = _rating(top)
    pick, pick_source = _pick(top)
    taken, offset, tz = _date(top)
    return XmpData(
        regions=tuple(regions),
        persons=tuple(_texts(_field(top, f"{IPTC_EXT}PersonInImage"))),
        keywords=tuple(_texts(_field(top, f"{DC}subject"))),
        paths=tuple(dict.fromkeys(p for p in paths if p)),
        location=_location(top),
        rating=rating,
        rating_source=source,
        pick=pick,
        pick_source=pick_source,
        label=_label(top),
        taken_at=taken,
        taken_offset=offset,
        taken_tz=tz,
        gps=_gps(top),
        orientation=_orientation(top),
        has_regions=has_regions,
    )


def _regions(top: list[Any]) -> tuple[list[Region], bool]:
    out: list[Region] = []
    found = False
    mwg = _field(top, f"{MWGRS}Regions")
    if mwg is not None and not isinstance(mwg, str):
        found = True
        parts = _struct(mwg)
        applied = None
        dims = _field(parts, f"{MWGRS}AppliedToDimensions")
        if dims is not None and not isinstance(dims, str):
            dparts = _struct(dims)
            w, h = _float(_field(dparts, f"{STDIM}w")), _float(_field(dparts, f"{STDIM}h"))
            if w and h and w > 0 and h > 0:
                applied = (w, h)
        for li in _items(_field(parts, f"{MWGRS}RegionList")):
            if isinstance(li, str):
                continue
            rparts = _struct(li)
            area = _field(rparts, f"{MWGRS}Area")
            if area is None or isinstance(area, str):
                continue
            aparts = _struct(area)
            vals = [_float(_field(aparts, f"{STAREA}{k}")) for k in ("x", "y", "w", "h")]
            unit = _text(_field(aparts, f"{STAREA}unit")) or "normalized"
            if any(v is None for v in vals) or unit.lower() != "normalized":
                continue
            box = _clip_box(*vals)  # type: ignore[arg-type]
            if box is None:
                continue
            out.append(Region(_text(_field(rparts, f"{MWGRS}Name")), *box,
                              kind=_text(_field(rparts, f"{MWGRS}Type")) or "Face", applied=applied, source="mwg"))
    ms = _field(top, f"{MP}RegionInfo")
    if ms is not None and not isinstance(ms, str):
        found = True
        for li in _items(_field(_struct(ms), f"{MPRI}Regions")):
            if isinstance(li, str):
                continue
            rparts = _struct(li)
            rect = _text(_field(rparts, f"{MPREG}Rectangle"))
            try:
                x, y, w, h = (float(v) for v in (rect or "").split(","))
            except ValueError:
                continue
            box = _clip_box(x + w / 2, y + h / 2, w, h)
            if box is not None:
                out.append(Region(_text(_field(rparts, f"{MPREG}PersonDisplayName")), *box, kind="Face", source="mp"))
    return out, found


def _clip_box(cx: float, cy: float, w: float, h: float) -> tuple[float, float, float, float] | None:
    """A centre box clipped to [0, 1]²; None when empty or absurd."""
    if not all(map(_finite, (cx, cy, w, h))) or w <= 0 or h <= 0:
        return None
    x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    if x0 >= 0 and y0 >= 0 and x1 <= 1 and y1 <= 1:
        return (cx, cy, w, h)
    x0, y0, x1, y1 = max(0.0, x0), max(0.0, y0), min(1.0, x1), min(1.0, y1)
    if x1 <= x0 or y1 <= y0:
        return None
    return ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)


def _finite(v: float) -> bool:
    import math

    return math.isfinite(v)


def _location(top: list[Any]) -> tuple[str | None, str | None, str | None, str | None] | None:
    legacy = (_text(_field(top, f"{IPTC_CORE}Location")), _text(_field(top, f"{PHOTOSHOP}City")),
              _text(_field(top, f"{PHOTOSHOP}State")), _text(_field(top, f"{PHOTOSHOP}Country")))
    if any(legacy):
        return legacy
    for prop in ("LocationShown", "LocationCreated"):
        for li in _items(_field(top, f"{IPTC_EXT}{prop}")):
            if isinstance(li, str):
                continue
            parts = _struct(li)
            loc = tuple(_text(_field(parts, f"{IPTC_EXT}{k}")) for k in ("Sublocation", "City", "ProvinceState", "CountryName"))
            if any(loc):
                return loc  # type: ignore[return-value]
    return None


def _rating(top: list[Any]) -> tuple[float | None, str | None]:
    stars = _float(_field(top, f"{XMP}Rating"))
    if stars is not None and -1 <= stars <= 5:
        return stars, "xmp:Rating"
    percent = _float(_field(top, f"{MSPHOTO}Rating"))
    if percent is not None and 0 <= percent <= 100:
        return percent_to_stars(percent), "MicrosoftPhoto:Rating"
    return None, None


def percent_to_stars(percent: float) -> float:
    """Windows' percent rating → 0–5 stars."""
    return float(next((s for p, s in _PERCENT_TO_STARS if percent >= p), 0))


def _pick(top: list[Any]) -> tuple[bool | None, str | None]:
    """(True picked/accepted, False rejected, None no flag; the flag's name)."""
    label = _float(_field(top, f"{DIGIKAM}PickLabel"))
    if label == 3:
        return True, "digiKam:PickLabel"
    if label == 1:
        return False, "digiKam:PickLabel"
    pick = _float(_field(top, f"{XMPDM}pick"))
    if pick is not None and pick != 0:
        return pick > 0, "xmpDM:pick"
    good = _text(_field(top, f"{XMPDM}good"))
    if good is not None and good.lower() == "true":  # good="False" is no verdict, not a reject
        return True, "xmpDM:good"
    return None, None


def _label(top: list[Any]) -> str | None:
    """The colour label: xmp:Label's text, else digiKam:ColorLabel's colour (0 and unknown numbers: none)."""
    text = _text(_field(top, f"{XMP}Label"))
    if text is not None:
        return text
    number = _float(_field(top, f"{DIGIKAM}ColorLabel"))
    return DIGIKAM_COLOURS.get(int(number)) if number is not None and number == int(number) else None


_ISO = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$")


def parse_iso_date(text: str | None) -> tuple[datetime | None, bool]:
    """ISO 8601 (XMP Date) → (naive datetime, whether an offset was applied: then it is UTC)."""
    if not text:
        return None, False
    m = _ISO.match(text.strip())
    if not m:
        return None, False
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    try:
        dt = datetime(int(y), int(mo or 1), int(d or 1), int(hh or 0), int(mm or 0), int(ss or 0),
                      int((frac or "0")[:6].ljust(6, "0")))
    except ValueError:
        return None, False
    if tz and hh is not None:
        if tz == "Z":
            return dt, True
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        if offset >= timedelta(hours=24):  # no such offset: the local time is kept
            return dt, False
        try:
            return (dt.replace(tzinfo=timezone(sign * offset)).astimezone(UTC).replace(tzinfo=None)), True
        except OverflowError:  # year 1 or 9999 shifted past the calendar's ends
            return dt, False
    return dt, False


def iso_offset_minutes(text: str | None) -> int | None:
    """The "±HH:MM" offset of an ISO 8601 date-time → minutes east of UTC; None without one (or "Z": a UTC instant)."""
    m = _ISO.match(text.strip()) if text else None
    if not m or m.group(4) is None or m.group(8) in (None, "Z"):
        return None
    tz = m.group(8)
    digits = tz[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:])
    return minutes if tz[0] == "+" else -minutes


def _date(top: list[Any]) -> tuple[datetime | None, bool, int | None]:
    """(capture time, whether it is UTC, the stated offset in minutes) of the first date field present."""
    for qname in (f"{EXIF}DateTimeOriginal", f"{PHOTOSHOP}DateCreated", f"{XMP}CreateDate"):
        text = _text(_field(top, qname))
        dt, offset = parse_iso_date(text)
        if dt is not None:
            return dt, offset, iso_offset_minutes(text) if offset else None
    return None, False, None


_COORD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*,\s*(\d+(?:\.\d+)?)(?:\s*,\s*(\d+(?:\.\d+)?))?\s*([NSEW])\s*$", re.IGNORECASE)


def parse_xmp_coordinate(text: str | None) -> float | None:
    """XMP GPSCoordinate "DD,MM.mmR" / "DD,MM,SSR" (or a signed decimal) → signed degrees."""
    if not text:
        return None
    m = _COORD.match(text)
    if m:
        deg, minutes, seconds, ref = m.groups()
        value = float(deg) + float(minutes) / 60 + (float(seconds) / 3600 if seconds else 0.0)
        return -value if ref.upper() in "SW" else value
    try:
        return float(text)
    except ValueError:
        return None


def _gps(top: list[Any]) -> tuple[float, float] | None:
    lat = parse_xmp_coordinate(_text(_field(top, f"{EXIF}GPSLatitude")))
    lon = parse_xmp_coordinate(_text(_field(top, f"{EXIF}GPSLongitude")))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return (lat, lon)


def _orientation(top: list[Any]) -> int | None:
    value = _float(_field(top, f"{TIFF}Orientation"))
    return int(value) if value is not None and value == int(value) and 1 <= value <= 8 else None


@dataclass
class Packets:
    """The XMP of one photo: embedded, then the sidecar over it; the problems met on the way."""

    data: XmpData = field(default_factory=XmpData)
    problems: list[str] = field(default_factory=list)

    def add(self, packet: bytes | str | None, what: str) -> None:
        if packet is None:
            return
        try:
            self.data = parse_xmp(packet).over(self.data)
        except XmpError as exc:
            self.problems.append(f"{what}: {exc}")
