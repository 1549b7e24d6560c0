"""One file's metadata and pixels: stills through Pillow, videos through OpenCV.

:func:`read_metadata` reads headers only (EXIF, IPTC-IIM, embedded XMP, the sidecar) — the part
measured by ``benchmarks/bench_ingest.py``; :func:`decode_still` decodes, applies the orientation
and scales into the ``size``×``size`` buffer (JPEGs through Pillow's DCT-domain ``draft`` first);
:func:`sample_video` keeps frames at 1 fps, at most 5 (S1.1.5's sampling, applied to real clips).

Decompression bombs are refused before decoding: an image of more than ``max_pixels`` pixels is
skipped (Pillow's own bomb check is never reached). Corrupt and truncated files raise
:class:`MediaError` with a one-line reason.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.ingest.config import MAX_PIXELS
from memoire_cli.ingest.exif import ExifData, embedded_xmp, orient_box, orient_image, read_exif
from memoire_cli.ingest.xmp import Packets, XmpData

#: Video frames are sampled at this rate, at most this many per clip.
VIDEO_FPS_SAMPLED = 1.0
VIDEO_MAX_FRAMES = 5
#: Pillow formats read as stills.
STILL_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "TIFF", "HEIF", "AVIF"})


class MediaError(Exception):
    """A file that cannot be read as a photo or video (the reason is the message)."""


@dataclass
class Metadata:
    """Everything known about one file before its pixels (JSON-serialisable via :meth:`to_json`)."""

    width: int = 0  # upright, original pixels
    height: int = 0
    format: str = ""
    taken_at: datetime | None = None
    taken_offset: bool = False  # taken_at is UTC (an offset or a UTC instant was stated); else wall-clock time
    taken_tz: int | None = None  # the offset the photo states, minutes east of UTC: local time = taken_at + taken_tz
    gps: tuple[float, float] | None = None
    orientation: int | None = None
    rating: float | None = None
    rating_source: str | None = None
    pick: bool | None = None  # True: an explicit favourite mark (pick/accept flag, Takeout favorited); False: a reject flag
    pick_source: str | None = None  # digiKam:PickLabel | xmpDM:pick | xmpDM:good | takeout:favorited
    label: str | None = None  # colour label (xmp:Label, else digiKam:ColorLabel's colour name)
    location: tuple[str | None, ...] | None = None
    keywords: tuple[str, ...] = ()
    paths: tuple[tuple[str, ...], ...] = ()
    persons: tuple[str, ...] = ()
    regions: list[tuple[str | None, float, float, float, float]] = field(default_factory=list)  # name, x0, y0, x1, y1 upright
    pets: list[tuple[str | None, float, float, float, float]] = field(default_factory=list)  # MWG Pet regions, as regions
    other_regions: list[str] = field(default_factory=list)  # the types of regions read as no tag (Focus, BarCode, …)
    problems: list[str] = field(default_factory=list)
    video: dict[str, Any] | None = None
    views: int | None = None  # Google Takeout imageViews

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["taken_at"] = self.taken_at.isoformat() if self.taken_at else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Metadata:
        d = dict(d)
        d["taken_at"] = datetime.fromisoformat(d["taken_at"]) if d.get("taken_at") else None
        for k in ("gps", "location", "keywords", "persons"):
            if d.get(k) is not None:
                d[k] = tuple(d[k])
        d["paths"] = tuple(tuple(p) for p in d.get("paths", ()))
        d["regions"] = [tuple(r) for r in d.get("regions", [])]
        d["pets"] = [tuple(r) for r in d.get("pets", [])]
        return cls(**d)


def _merge(meta: Metadata, ex: ExifData, xmp: XmpData) -> None:
    """EXIF first; XMP fills what EXIF lacks, except that XMP ratings, flags and keywords are the manager's."""
    meta.taken_at, meta.taken_offset, meta.taken_tz = ((ex.taken_at, ex.taken_offset, ex.taken_tz) if ex.taken_at
                                                       else (xmp.taken_at, xmp.taken_offset, xmp.taken_tz))
    meta.gps = ex.gps or xmp.gps
    meta.orientation = ex.orientation or xmp.orientation
    meta.rating, meta.rating_source = (xmp.rating, xmp.rating_source) if xmp.rating is not None else (ex.rating, ex.rating_source)
    meta.pick, meta.pick_source = xmp.pick, xmp.pick_source
    meta.label = xmp.label
    meta.location = xmp.location or ex.location
    meta.keywords = tuple(dict.fromkeys(xmp.keywords + ex.keywords))
    meta.paths = xmp.paths
    meta.persons = xmp.persons


def _regions(meta: Metadata, xmp: XmpData, stored: tuple[int, int]) -> None:
    """Face and Pet regions in upright normalised boxes; the types of the others are kept to be reported.

    Regions are read as written on the stored pixels and rotated with the orientation, unless the
    region list's ``AppliedToDimensions`` are the stored size swapped (a writer that annotated the
    rotated view), in which case they are used as they are.
    """
    sw, sh = stored
    for r in xmp.regions:
        kind = r.kind.lower()
        if kind not in ("face", "pet"):
            meta.other_regions.append(r.kind)
            continue
        orient = meta.orientation
        if r.applied is not None and (orient or 1) >= 5 and sw != sh:
            aw, ah = r.applied
            if abs(aw - sh) <= 1 and abs(ah - sw) <= 1:
                orient = 1
        x0, y0, x1, y1 = orient_box(r.cx, r.cy, r.w, r.h, orient)
        (meta.regions if kind == "face" else meta.pets).append((r.name, x0, y0, x1, y1))


def _open(data: bytes, max_pixels: int) -> Any:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise MediaError("decompression bomb (refused by Pillow)") from None
    except Exception as exc:  # noqa: BLE001 - UnidentifiedImageError, SyntaxError in a plugin, struct errors …
        raise MediaError(f"not a readable image ({type(exc).__name__})") from None
    if im.format not in STILL_FORMATS:
        raise MediaError(f"unsupported image format {im.format}")
    w, h = im.size
    if w <= 0 or h <= 0:
        raise MediaError("empty image")
    if w * h > max_pixels:
        raise MediaError(f"decompression bomb: {w}×{h} pixels exceeds the {max_pixels:,}-pixel limit")
    return im


def read_metadata(data: bytes, sidecar: bytes | None, max_pixels: int = MAX_PIXELS) -> tuple[Metadata, Any]:
    """Headers of a still (no pixel decoding): (metadata, the opened Pillow image).

    Pillow's warnings on damaged headers ("Tag data larger than file", "Corrupt EXIF data") are not
    printed: what matters of them ends up as the file's problems or as a :class:`MediaError`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read_metadata(data, sidecar, max_pixels)


def _read_metadata(data: bytes, sidecar: bytes | None, max_pixels: int) -> tuple[Metadata, Any]:
    im = _open(data, max_pixels)
    meta = Metadata(format=im.format)
    ex = read_exif(im)
    packets = Packets()
    packets.add(embedded_xmp(im), "embedded XMP")
    packets.add(sidecar, "sidecar XMP")
    meta.problems.extend(packets.problems)
    _merge(meta, ex, packets.data)
    sw, sh = im.size
    meta.width, meta.height = (sh, sw) if (meta.orientation or 1) >= 5 else (sw, sh)
    _regions(meta, packets.data, (sw, sh))
    return meta, im


def decode_still(im: Any, orientation: int | None, size: int) -> np.ndarray:
    """(h, w, 3) uint8 upright pixels, scaled to fit ``size``×``size`` (never enlarged)."""
    from PIL import Image

    try:
        if im.format == "JPEG":
            im.draft("RGB", (size, size))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's notes on damaged data: a MediaError says what matters
            im.load()
        if im.mode != "RGB":
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                im = Image.alpha_composite(bg, rgba).convert("RGB")
            else:
                im = im.convert("RGB")
        im = orient_image(im, orientation)
        if max(im.size) > size:
            im.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
        return np.asarray(im, dtype=np.uint8).copy()
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - truncated data, broken compressed streams …
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MediaError(f"corrupt or truncated image ({text})") from None


#: Largest Takeout JSON read (they are a few kilobytes).
MAX_TAKEOUT_BYTES = 1 << 20
#: Latest capture time accepted from a Unix timestamp (9999-12-31 23:59:59 UTC; later ones overflow datetime).
MAX_TIMESTAMP = 253_402_300_799


def apply_takeout(meta: Metadata, data: bytes | None) -> None:
    """Google Photos Takeout JSON: views, favourite, people; capture time and GPS where EXIF/XMP lack them.

    Fields: ``imageViews`` (a count, as text), ``favorited``, ``people[].name``,
    ``photoTakenTime.timestamp`` (Unix seconds, UTC), ``geoData.latitude/longitude`` (0, 0 = none).
    """
    if data is None:
        return
    import json

    try:
        if len(data) > MAX_TAKEOUT_BYTES:
            raise ValueError("larger than 1 MiB")
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
    except (ValueError, UnicodeDecodeError) as exc:
        meta.problems.append(f"takeout JSON: malformed ({str(exc).splitlines()[0][:80]})")
        return
    views = doc.get("imageViews")
    if isinstance(views, (int, str)) and str(views).strip().isdigit() and len(str(views).strip()) <= 18:
        meta.views = int(views)
    if doc.get("favorited") is True and meta.pick is None:  # an XMP flag (a reject too) wins
        meta.pick, meta.pick_source = True, "takeout:favorited"
    names = [p.get("name") for p in doc.get("people", []) if isinstance(p, dict)] if isinstance(doc.get("people"), list) else []
    meta.persons = tuple(dict.fromkeys([*meta.persons, *(n.strip() for n in names if isinstance(n, str) and n.strip())]))
    taken = doc.get("photoTakenTime")
    if meta.taken_at is None and isinstance(taken, dict) and str(taken.get("timestamp", "")).isdigit() and len(str(taken["timestamp"])) <= 24:
        seconds = int(taken["timestamp"])
        if 0 < seconds <= MAX_TIMESTAMP:
            meta.taken_at, meta.taken_offset = datetime(1970, 1, 1) + timedelta(seconds=seconds), True
        elif seconds > MAX_TIMESTAMP:
            meta.problems.append(f"takeout JSON: photoTakenTime {str(seconds)[:24]} is after the year 9999; ignored")
    geo = doc.get("geoData")
    if meta.gps is None and isinstance(geo, dict):
        lat, lon = geo.get("latitude"), geo.get("longitude")
        if isinstance(lat, (int, float)) and isinstance(lon, (int, float)) and (lat, lon) != (0, 0) and -90 <= lat <= 90 and -180 <= lon <= 180:
            meta.gps = (float(lat), float(lon))


def read_video_metadata(path: Path, sidecar: bytes | None) -> Metadata:
    """A clip's capture time (MP4/MOV ``mvhd``) and the sidecar's XMP."""
    meta = Metadata(format="video")
    packets = Packets()
    packets.add(sidecar, "sidecar XMP")
    meta.problems.extend(packets.problems)
    _merge(meta, ExifData(), packets.data)
    if meta.taken_at is None:
        meta.taken_at = mp4_creation_time(path)
        meta.taken_offset = meta.taken_at is not None
    return meta


def sample_video(path: Path, size: int, fps_sampled: float = VIDEO_FPS_SAMPLED,
                 max_frames: int = VIDEO_MAX_FRAMES) -> tuple[list[np.ndarray], list[int], dict[str, Any]]:
    """Frames at ``fps_sampled`` (at most ``max_frames``): (h, w, 3) uint8 frames, their indices, clip facts."""
    import cv2

    cv2.setNumThreads(1)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError("not a readable video (OpenCV cannot open it)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if fps <= 0 or width <= 0 or height <= 0:
            raise MediaError("not a readable video (no frame rate or size)")
        step = max(1, round(fps / fps_sampled))
        wanted = [k * step for k in range(max_frames) if n <= 0 or k * step < n]
        frames: list[np.ndarray] = []
        kept: list[int] = []
        index = 0
        while wanted and index <= wanted[-1]:
            ok, frame = cap.read()
            if not ok:
                break
            if index in wanted:
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                h, w = rgb.shape[:2]
                scale = min(1.0, size / max(h, w))
                if scale < 1.0:
                    rgb = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
                frames.append(np.ascontiguousarray(rgb, dtype=np.uint8))
                kept.append(index)
            index += 1
        if not frames:
            raise MediaError("not a readable video (no frame decoded)")
        facts = {"fps": fps, "n_frames": n if n > 0 else index, "width": width, "height": height,
                 "duration_s": (n / fps) if n > 0 else index / fps, "kept": len(frames)}
        return frames, kept, facts
    finally:
        cap.release()


def mp4_creation_time(path: Path) -> datetime | None:
    """``moov/mvhd`` creation time of an MP4/MOV (UTC), None when absent, zero or unreadable."""
    try:
        with open(path, "rb") as f:
            end = f.seek(0, 2)
            pos = 0
            while pos + 8 <= end:
                f.seek(pos)
                size, kind = struct.unpack(">I4s", f.read(8))
                header = 8
                if size == 1:
                    size = struct.unpack(">Q", f.read(8))[0]
                    header = 16
                elif size == 0:
                    size = end - pos
                if size < header:
                    return None
                if kind == b"moov":
                    inner, stop = pos + header, pos + size
                    while inner + 8 <= stop:
                        f.seek(inner)
                        isize, ikind = struct.unpack(">I4s", f.read(8))
                        if ikind == b"mvhd":
                            version = f.read(4)[0]
                            secs = struct.unpack(">Q", f.read(8))[0] if version == 1 else struct.unpack(">I", f.read(4))[0]
                            return datetime(1904, 1, 1) + timedelta(seconds=secs) if secs else None
                        if isize < 8:
                            return None
                        inner += isize
                    return None
                pos += size
    except (OSError, struct.error, IndexError, OverflowError):
        return None
    return None
