"""``procedural``: the embedded CPU renderer of `memoire synth` (stands in for S1.1.4–S1.1.7 offline).

The spec renders stills with SD3 + InstantID (S1.1.4) and clips with HunyuanVideo (S1.1.5), from a
composition bank of shot plans × lighting variants per event and location (S1.1.7). This backend
draws the same shot specifications with numpy + PIL in a few milliseconds per image, so that a
whole synthetic population renders on one CPU core without any download:

* **location** (S1.1.7): a backdrop per location kind (sky/ground or wall/floor gradients and
  furniture shapes in a palette per kind; landmarks as a big distinctive silhouette: arch, fort
  walls, colosseum, lattice tower, dome and minarets, suspension bridge, sail shells, harbour gate).
  The same ``location_tag`` always gets the same variant (palette jitter, furniture placement; for
  ``landmark`` the silhouette is ``LANDMARKS[location_tag % 8]``). Backdrops are cached per
  (kind, tag, lighting, size) inside the instance (bounded).
* **lighting** (S1.1.7 daylight / golden hour / tungsten indoor): sky colours of the backdrop and a
  per-channel tint applied with one lookup table, together with the exposure error.
* **event** (S1.1.2 props of :data:`~memoire_cli.synth.ontology.EVENT_BY_NAME`): every prop of the
  event drawn as a recognisable simple shape (cake with candles, balloons, christmas tree, cap on a
  graduate, stage lights, beach umbrella, trophy, …; a generic fallback for unknown names).
* **people** (S1.1.4 identity, S1.1.1 physical attributes): figures whose body size follows age,
  height and build, clothes in ``PersonSpec.clothing_rgb``, and whose HEADS ARE REAL FACE PHOTOS from
  the :class:`~memoire_cli.faces.bank.FaceBank` (``face_key``), so ArcFace QC (S1.1.6) is meaningful.
  A small per-shot face augmentation (scale, brightness, mirror) keeps the identity.
* **shot plan** (S1.1.7): *intimate portrait* = 1–2 large faces; *medium group* = people waist-up;
  *wide establishing* = full figures with faces of ≈ 40 px at 512²; *detail close-up* = one big prop,
  people only as hands reaching in (no faces).
* **camera** (S1.1.5 pan, S1.1.6 blur/exposure heuristics): ``pan`` shifts the backdrop by up to 25 %
  and the foreground by up to 10 % of the width (parallax, left-to-right pan); ``exposure_ev`` is a
  gain/gamma LUT; ``blur_sigma`` a Gaussian blur, both applied last.

Ground truth (hidden, for ``memoire eval``): a label map is drawn alongside every shape (PIL, same
calls), so masks cost one comparison each. One Region per person (kind "P": visible figure + head
pixels; ``face_box`` = pasted face box, None when less than half of it is visible), one for the
event (kind "E": union of visible prop pixels) and one for the location (kind "L": visible backdrop).

Everything is drawn from ``np.random.default_rng(shot.seed)``: same spec, same bytes.
"""

from __future__ import annotations

import math
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from memoire_cli.faces.bank import FaceBank
from memoire_cli.synth.ontology import EVENT_BY_NAME, LANDMARKS
from memoire_cli.synth.render.base import PersonSpec, Region, Rendered, Renderer, ShotSpec

Box = tuple[float, float, float, float]
RGB = tuple[int, int, int]

LABEL_BACKGROUND = 0
LABEL_EVENT = 1
LABEL_PERSON0 = 2  # person i of the shot has label LABEL_PERSON0 + i

PAN_BACKGROUND = 0.25  # backdrop shift at pan = 1, fraction of the width
PAN_FOREGROUND = 0.10  # people/props shift at pan = 1 (parallax)
FACE_CM = 21.0  # height of an adult face box (brow to chin, with forehead), centimetres
MIN_FACE_FRACTION = 0.066  # smallest face box height, in units of sqrt(W·H) (≈ 34 px at 512²)
BACKDROP_CACHE = 96  # backdrops kept per renderer instance (≈ 1 MB each at 512²)
FACE_VISIBLE = 0.5  # a face box counts as visible when this fraction of it shows the person


# --------------------------------------------------------------------------------------------------
# small helpers


def _stable(text: str) -> int:
    """A process-independent hash of a string (Python's hash() is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def _rgb(c) -> RGB:
    return (min(255, max(0, int(c[0]))), min(255, max(0, int(c[1]))), min(255, max(0, int(c[2]))))


def _shade(c, k: float) -> RGB:
    return _rgb((c[0] * k, c[1] * k, c[2] * k))


def _mix(a, b, t: float) -> RGB:
    return _rgb(tuple(a[i] * (1 - t) + b[i] * t for i in range(3)))


def _jitter(rng: np.random.Generator, c, amount: float = 0.08) -> RGB:
    return _rgb(np.asarray(c, dtype=float) * rng.uniform(1 - amount, 1 + amount, 3))


def _vgradient(width: int, height: int, top, bottom) -> np.ndarray:
    """(height, width, 3) float32 vertical gradient from ``top`` to ``bottom``."""
    t = np.linspace(0.0, 1.0, max(height, 1), dtype=np.float32)[:, None]
    col = np.asarray(top, np.float32)[None, :] * (1 - t) + np.asarray(bottom, np.float32)[None, :] * t
    return np.broadcast_to(col[:, None, :], (height, width, 3))


class _Pen:
    """Draws each shape twice: in colour on the image and as ``label`` on the label map (mode "L")."""

    def __init__(self, img: Image.Image, labels: Image.Image | None) -> None:
        self.d = ImageDraw.Draw(img)
        self.l = ImageDraw.Draw(labels) if labels is not None else None
        self.label = LABEL_BACKGROUND

    @staticmethod
    def _pts(pts) -> list[tuple[float, float]]:
        """Points as [(x, y), …]; a flat (x0, y0, x1, y1, …) sequence is accepted too."""
        pts = list(pts)
        if pts and not isinstance(pts[0], (tuple, list, np.ndarray)):
            pts = list(zip(pts[0::2], pts[1::2]))
        return [(float(x), float(y)) for x, y in pts]

    @staticmethod
    def _b(b: Box) -> Box:
        x0, y0, x1, y1 = b
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def ellipse(self, b: Box, fill) -> None:
        b = self._b(b)
        self.d.ellipse(b, fill=fill)
        if self.l is not None:
            self.l.ellipse(b, fill=self.label)

    def rect(self, b: Box, fill) -> None:
        b = self._b(b)
        self.d.rectangle(b, fill=fill)
        if self.l is not None:
            self.l.rectangle(b, fill=self.label)

    def rounded(self, b: Box, r: float, fill) -> None:
        b = self._b(b)
        r = max(0.0, min(r, (b[2] - b[0]) / 2, (b[3] - b[1]) / 2))
        self.d.rounded_rectangle(b, radius=r, fill=fill)
        if self.l is not None:
            self.l.rounded_rectangle(b, radius=r, fill=self.label)

    def polygon(self, pts, fill) -> None:
        pts = self._pts(pts)
        self.d.polygon(pts, fill=fill)
        if self.l is not None:
            self.l.polygon(pts, fill=self.label)

    def line(self, pts, fill, width: float) -> None:
        pts = self._pts(pts)
        w = max(1, int(round(width)))
        self.d.line(pts, fill=fill, width=w)
        if self.l is not None:
            self.l.line(pts, fill=self.label, width=w)

    def pieslice(self, b: Box, start: float, end: float, fill) -> None:
        b = self._b(b)
        self.d.pieslice(b, start, end, fill=fill)
        if self.l is not None:
            self.l.pieslice(b, start, end, fill=self.label)

    def chord(self, b: Box, start: float, end: float, fill) -> None:
        b = self._b(b)
        self.d.chord(b, start, end, fill=fill)
        if self.l is not None:
            self.l.chord(b, start, end, fill=self.label)


# --------------------------------------------------------------------------------------------------
# lighting and backdrops (S1.1.7)

#: Per-channel gain of each lighting variant (applied with the exposure LUT at the end).
LIGHT_TINT: dict[str, tuple[float, float, float]] = {
    "daylight": (1.0, 1.0, 1.02),
    "golden hour": (1.08, 0.97, 0.82),
    "tungsten indoor": (1.06, 0.95, 0.78),
}

#: Sky (top, horizon) per lighting for outdoor backdrops; "tungsten indoor" outdoors = evening.
SKY: dict[str, tuple[RGB, RGB]] = {
    "daylight": ((96, 150, 222), (200, 224, 246)),
    "golden hour": ((110, 118, 180), (252, 186, 116)),
    "tungsten indoor": ((18, 22, 52), (70, 62, 96)),
}


@dataclass(frozen=True)
class _Backdrop:
    """Base palette of a location kind: wall or sky above ``horizon`` (fraction of H), floor below."""

    indoor: bool
    horizon: float
    upper: tuple[RGB, RGB]  # wall top/bottom (indoor); ignored outdoors (sky comes from lighting)
    lower: tuple[RGB, RGB]  # floor or ground, far/near


BACKDROPS: dict[str, _Backdrop] = {
    "home": _Backdrop(True, 0.64, ((226, 214, 190), (204, 190, 164)), ((150, 110, 72), (112, 78, 48))),
    "office": _Backdrop(True, 0.66, ((214, 220, 226), (190, 198, 206)), ((120, 128, 140), (92, 98, 110))),
    "school": _Backdrop(True, 0.66, ((232, 222, 180), (214, 200, 150)), ((170, 160, 140), (140, 130, 112))),
    "university": _Backdrop(True, 0.62, ((150, 104, 70), (120, 80, 52)), ((110, 60, 50), (84, 44, 38))),
    "park": _Backdrop(False, 0.52, ((0, 0, 0), (0, 0, 0)), ((112, 170, 80), (70, 130, 50))),
    "garden": _Backdrop(False, 0.50, ((0, 0, 0), (0, 0, 0)), ((96, 160, 72), (60, 120, 44))),
    "beach": _Backdrop(False, 0.46, ((0, 0, 0), (0, 0, 0)), ((236, 214, 160), (218, 190, 132))),
    "mountain": _Backdrop(False, 0.58, ((0, 0, 0), (0, 0, 0)), ((120, 160, 90), (90, 124, 66))),
    "highway": _Backdrop(False, 0.50, ((0, 0, 0), (0, 0, 0)), ((200, 170, 120), (170, 140, 96))),
    "restaurant": _Backdrop(True, 0.63, ((150, 60, 48), (120, 46, 38)), ((96, 64, 44), (70, 46, 32))),
    "cafe": _Backdrop(True, 0.64, ((168, 96, 70), (140, 78, 56)), ((128, 96, 70), (98, 72, 52))),
    "banquet hall": _Backdrop(True, 0.62, ((236, 220, 200), (216, 196, 170)), ((160, 40, 50), (120, 28, 36))),
    "place of worship": _Backdrop(True, 0.64, ((230, 200, 150), (206, 170, 120)), ((180, 150, 120), (150, 120, 92))),
    "stadium": _Backdrop(False, 0.42, ((0, 0, 0), (0, 0, 0)), ((70, 150, 70), (50, 126, 52))),
    "concert hall": _Backdrop(True, 0.60, ((40, 28, 44), (24, 18, 30)), ((60, 40, 36), (40, 28, 26))),
    "conference hall": _Backdrop(True, 0.62, ((44, 62, 100), (30, 44, 76)), ((70, 70, 84), (50, 50, 62))),
    "museum": _Backdrop(True, 0.66, ((240, 238, 232), (224, 220, 210)), ((196, 170, 130), (170, 144, 104))),
    "hotel": _Backdrop(True, 0.64, ((228, 218, 200), (210, 196, 172)), ((200, 196, 190), (170, 164, 156))),
    "city street": _Backdrop(False, 0.60, ((0, 0, 0), (0, 0, 0)), ((120, 120, 124), (90, 90, 96))),
    "landmark": _Backdrop(False, 0.66, ((0, 0, 0), (0, 0, 0)), ((196, 186, 170), (168, 158, 142))),
}
_DEFAULT_BACKDROP = _Backdrop(True, 0.64, ((200, 200, 200), (180, 180, 180)), ((130, 120, 110), (100, 92, 84)))

Painter = Callable[[ImageDraw.ImageDraw, int, int, float, np.random.Generator, str], None]


def _bg_home(d, w, h, hy, rng, light):
    sky = SKY["daylight" if light != "tungsten indoor" else "tungsten indoor"]
    for _ in range(int(rng.integers(1, 3))):
        x = rng.uniform(0.05, 0.8) * w
        ww, wh = 0.14 * w, 0.28 * h
        y = 0.12 * h
        d.rectangle((x - 6, y - 6, x + ww + 6, y + wh + 6), fill=(246, 244, 238))
        d.rectangle((x, y, x + ww, y + wh), fill=sky[1])
        d.line((x + ww / 2, y, x + ww / 2, y + wh), fill=(246, 244, 238), width=4)
        d.line((x, y + wh / 2, x + ww, y + wh / 2), fill=(246, 244, 238), width=4)
    fx = rng.uniform(0.1, 0.8) * w
    d.rectangle((fx, 0.18 * h, fx + 0.08 * w, 0.3 * h), fill=(90, 60, 40))
    d.rectangle((fx + 4, 0.18 * h + 4, fx + 0.08 * w - 4, 0.3 * h - 4), fill=_jitter(rng, (120, 150, 170), 0.3))
    sy = 0.44 * h
    sx = rng.uniform(0.05, 0.7) * w
    d.rectangle((sx, sy, sx + 0.2 * w, sy + 6), fill=(110, 80, 50))
    x = sx + 4
    while x < sx + 0.19 * w:
        bw = rng.uniform(4, 9)
        d.rectangle((x, sy - rng.uniform(14, 24), x + bw, sy), fill=_jitter(rng, (150, 80, 60), 0.4))
        x += bw + 1
    d.rectangle((0, hy - 5, w, hy + 3), fill=(236, 230, 220))
    d.ellipse((0.2 * w, hy + 0.08 * h, 0.8 * w, hy + 0.3 * h), fill=_jitter(rng, (150, 60, 60), 0.25))


def _bg_office(d, w, h, hy, rng, light):
    for i in range(int(w // 90) + 1):
        x = i * 90 + rng.uniform(-4, 4)
        d.rectangle((x + 8, 0.1 * h, x + 82, hy - 0.12 * h), fill=(170, 196, 216))
        d.line((x + 45, 0.1 * h, x + 45, hy - 0.12 * h), fill=(150, 156, 162), width=3)
    for i in range(int(w // 140) + 1):
        x = i * 140 + 20
        d.rectangle((x, 0.02 * h, x + 90, 0.05 * h), fill=(250, 250, 246))
    for i in range(int(w // 160) + 1):
        x = i * 160 + rng.uniform(0, 40)
        d.rectangle((x, hy - 0.08 * h, x + 120, hy - 0.06 * h), fill=(230, 230, 226))
        d.rectangle((x + 40, hy - 0.16 * h, x + 80, hy - 0.09 * h), fill=(40, 44, 52))
        d.rectangle((x + 10, hy - 0.06 * h, x + 16, hy + 0.02 * h), fill=(90, 90, 96))


def _bg_school(d, w, h, hy, rng, light):
    bx = rng.uniform(0.1, 0.4) * w
    d.rectangle((bx - 8, 0.14 * h - 8, bx + 0.45 * w + 8, 0.46 * h + 8), fill=(140, 100, 60))
    d.rectangle((bx, 0.14 * h, bx + 0.45 * w, 0.46 * h), fill=(46, 84, 60))
    for _ in range(4):
        y = rng.uniform(0.2, 0.4) * h
        x = bx + rng.uniform(0.03, 0.2) * w
        d.line((x, y, x + rng.uniform(0.05, 0.2) * w, y), fill=(220, 226, 220), width=2)
    for i in range(int(w // 120) + 1):
        x = i * 120 + 10
        if bx - 100 < x < bx + 0.45 * w + 10:
            continue
        d.rectangle((x, 0.12 * h, x + 70, 0.4 * h), fill=(186, 214, 236))
    for i in range(int(w // 40) + 1):
        d.line((i * 40, hy, i * 40 - 30, h), fill=(150, 140, 124), width=2)


def _bg_university(d, w, h, hy, rng, light):
    for i in range(int(w // 48) + 1):
        x = i * 48
        d.rectangle((x, 0, x + 44, hy), fill=_jitter(rng, (150, 100, 66), 0.06))
    d.rectangle((0, 0.08 * h, w, 0.1 * h), fill=(200, 170, 90))
    cx = rng.uniform(0.2, 0.8) * w
    d.ellipse((cx - 24, 0.14 * h, cx + 24, 0.14 * h + 48), fill=(240, 236, 220))
    d.line((cx, 0.14 * h + 24, cx, 0.14 * h + 8), fill=(20, 20, 20), width=3)
    d.line((cx, 0.14 * h + 24, cx + 12, 0.14 * h + 24), fill=(20, 20, 20), width=3)
    for r in range(4):
        y = hy + r * 0.08 * h
        d.rectangle((0, y, w, y + 0.035 * h), fill=(96, 54, 40))


def _trees(d, w, h, hy, rng, n: int, colour=(60, 120, 50)):
    for _ in range(n):
        x = rng.uniform(0, w)
        s = rng.uniform(0.06, 0.12) * h
        d.rectangle((x - s * 0.12, hy - s * 0.9, x + s * 0.12, hy + s * 0.15), fill=(96, 70, 46))
        d.ellipse((x - s, hy - s * 2.6, x + s, hy - s * 0.7), fill=_jitter(rng, colour, 0.15))


def _bg_park(d, w, h, hy, rng, light):
    d.rectangle((0, hy - 0.04 * h, w, hy), fill=(70, 120, 70))
    _trees(d, w, h, hy, rng, int(w // 70))
    d.polygon([(0.4 * w, h), (0.6 * w, h), (0.52 * w, hy), (0.49 * w, hy)], fill=(214, 200, 168))


def _bg_garden(d, w, h, hy, rng, light):
    d.rectangle((0, hy - 0.1 * h, w, hy + 0.01 * h), fill=(40, 96, 44))
    for i in range(int(w // 30)):
        d.ellipse((i * 30 - 10, hy - 0.13 * h, i * 30 + 30, hy - 0.06 * h), fill=(46, 104, 48))
    for _ in range(int(w // 3)):
        x = rng.uniform(0, w)
        y = rng.uniform(hy + 0.02 * h, h)
        r = 2 + 4 * (y - hy) / h
        c = [(230, 60, 80), (250, 220, 60), (240, 140, 190), (250, 250, 250), (170, 90, 200)][int(rng.integers(5))]
        d.ellipse((x - r, y - r, x + r, y + r), fill=c)
    x = rng.uniform(0.1, 0.7) * w
    for i in range(6):
        d.line((x + i * 14, hy - 0.3 * h, x + i * 14, hy), fill=(230, 230, 226), width=3)
    d.arc((x - 10, hy - 0.4 * h, x + 80, hy - 0.2 * h), 180, 360, fill=(230, 230, 226), width=4)


def _bg_beach(d, w, h, hy, rng, light):
    sea_top = hy - 0.12 * h
    d.rectangle((0, sea_top, w, hy + 0.02 * h), fill=(40, 120, 170))
    for i in range(int(w // 60) + 1):
        x = i * 60 + rng.uniform(0, 30)
        d.line((x, hy - rng.uniform(0.01, 0.09) * h, x + 30, hy - rng.uniform(0.01, 0.09) * h),
               fill=(170, 210, 230), width=2)
    d.polygon([(0, hy + 0.02 * h), (w, hy + 0.01 * h), (w, hy + 0.04 * h), (0, hy + 0.05 * h)], fill=(246, 246, 240))
    sx = rng.uniform(0.1, 0.9) * w
    r = 0.045 * h
    sun = (255, 250, 220) if light == "daylight" else (255, 200, 120)
    d.ellipse((sx - r, sea_top - 0.3 * h - r, sx + r, sea_top - 0.3 * h + r), fill=sun)


def _bg_mountain(d, w, h, hy, rng, light):
    for layer, col in enumerate(((130, 140, 170), (100, 110, 140))):
        x = -rng.uniform(0, 0.2) * w
        while x < w:
            pw = rng.uniform(0.25, 0.45) * w
            ph = rng.uniform(0.22, 0.38) * h * (1 - 0.25 * layer)
            peak = (x + pw / 2, hy - ph)
            d.polygon([(x, hy), peak, (x + pw, hy)], fill=col)
            d.polygon([peak, (peak[0] - pw * 0.09, peak[1] + ph * 0.2), (peak[0] + pw * 0.09, peak[1] + ph * 0.2)],
                      fill=(244, 246, 250))
            x += pw * 0.7
    for _ in range(int(w // 40)):
        x = rng.uniform(0, w)
        s = rng.uniform(0.03, 0.06) * h
        d.polygon([(x - s * 0.5, hy + s * 0.3), (x, hy - s * 1.8), (x + s * 0.5, hy + s * 0.3)], fill=(40, 80, 50))


def _bg_highway(d, w, h, hy, rng, light):
    for i in range(3):
        x = rng.uniform(0, w)
        d.ellipse((x - 0.4 * w, hy - 0.1 * h, x + 0.4 * w, hy + 0.1 * h), fill=(176, 140, 110))
    d.rectangle((0, hy, w, h), fill=(200, 170, 120))
    vx = rng.uniform(0.35, 0.65) * w
    d.polygon([(vx - 6, hy), (vx + 6, hy), (0.95 * w, h), (0.05 * w, h)], fill=(70, 70, 74))
    for i in range(8):
        t0, t1 = (i / 8) ** 1.6, ((i + 0.5) / 8) ** 1.6
        y0, y1 = hy + t0 * (h - hy), hy + t1 * (h - hy)
        d.polygon([(vx - 1 - 4 * t0, y0), (vx + 1 + 4 * t0, y0), (vx + 1 + 4 * t1, y1), (vx - 1 - 4 * t1, y1)],
                  fill=(240, 220, 90))
    for i in range(5):
        t = (i + 1) / 6
        x = vx + (0.98 * w - vx) * t
        y = hy + (h - hy) * t
        d.line((x, y, x, y - 0.18 * h * t), fill=(120, 110, 100), width=max(1, int(4 * t)))


def _bg_restaurant(d, w, h, hy, rng, light):
    d.rectangle((0, hy - 0.22 * h, w, hy), fill=(90, 52, 36))
    for i in range(int(w // 110) + 1):
        x = i * 110 + 40
        d.ellipse((x - 12, 0.2 * h - 16, x + 12, 0.2 * h + 16), fill=(255, 214, 130))
        d.rectangle((x - 3, 0.2 * h + 14, x + 3, 0.26 * h), fill=(60, 40, 30))
    for _ in range(int(w // 200) + 1):
        x = rng.uniform(0, w)
        d.rectangle((x - 50, hy - 0.02 * h, x + 50, hy + 0.05 * h), fill=(244, 240, 232))
        d.rectangle((x - 40, hy + 0.05 * h, x - 34, hy + 0.14 * h), fill=(60, 40, 30))
        d.rectangle((x + 34, hy + 0.05 * h, x + 40, hy + 0.14 * h), fill=(60, 40, 30))
    px = rng.uniform(0.1, 0.8) * w
    d.rectangle((px, 0.3 * h, px + 0.12 * w, 0.42 * h), fill=(200, 170, 90))
    d.rectangle((px + 5, 0.3 * h + 5, px + 0.12 * w - 5, 0.42 * h - 5), fill=_jitter(rng, (90, 120, 80), 0.4))


def _bg_cafe(d, w, h, hy, rng, light):
    bh = 0.035 * h
    for r in range(int(hy // bh) + 1):
        off = (r % 2) * 0.04 * w
        y = r * bh
        for c in range(-1, int(w / (0.08 * w)) + 1):
            x = c * 0.08 * w + off
            d.rectangle((x + 1, y + 1, x + 0.08 * w - 1, y + bh - 1), fill=_jitter(rng, (170, 92, 64), 0.08))
    mx = rng.uniform(0.05, 0.6) * w
    d.rectangle((mx, 0.1 * h, mx + 0.3 * w, 0.34 * h), fill=(30, 34, 32))
    for i in range(4):
        y = 0.14 * h + i * 0.045 * h
        d.line((mx + 12, y, mx + 0.3 * w * rng.uniform(0.5, 0.9), y), fill=(230, 230, 220), width=2)
    d.rectangle((0, hy - 0.16 * h, w, hy), fill=(96, 64, 44))
    d.rectangle((0, hy - 0.17 * h, w, hy - 0.15 * h), fill=(60, 40, 30))
    for i in range(int(w // 130) + 1):
        x = i * 130 + 60
        d.line((x, 0, x, 0.07 * h), fill=(30, 30, 30), width=2)
        d.pieslice((x - 20, 0.06 * h, x + 20, 0.12 * h), 180, 360, fill=(230, 180, 80))


def _bg_banquet(d, w, h, hy, rng, light):
    for i in range(int(w // 36) + 1):
        x = i * 36
        d.rectangle((x, 0, x + 18, hy), fill=(200, 176, 150))
    for i in range(int(w // 180) + 1):
        x = i * 180 + 90 + rng.uniform(-20, 20)
        for j in range(7):
            a = j / 7 * 2 * math.pi
            cx, cy = x + 30 * math.cos(a), 0.1 * h + 8 * math.sin(a)
            d.ellipse((cx - 5, cy - 5, cx + 5, cy + 5), fill=(255, 236, 170))
        d.ellipse((x - 10, 0.1 * h - 4, x + 10, 0.1 * h + 16), fill=(255, 240, 190))
    for _ in range(int(w // 160) + 1):
        x = rng.uniform(0, w)
        d.ellipse((x - 70, hy - 0.02 * h, x + 70, hy + 0.06 * h), fill=(246, 244, 240))
        d.rectangle((x - 70, hy + 0.02 * h, x + 70, hy + 0.1 * h), fill=(246, 244, 240))


def _bg_worship(d, w, h, hy, rng, light):
    for i in range(int(w // 150) + 1):
        x = i * 150 + 20
        d.rectangle((x, 0, x + 36, hy), fill=(236, 220, 190))
        d.rectangle((x - 6, hy - 0.05 * h, x + 42, hy), fill=(210, 190, 160))
        wx = x + 75
        d.rectangle((wx - 22, 0.16 * h, wx + 22, 0.42 * h), fill=_jitter(rng, (80, 120, 190), 0.3))
        d.pieslice((wx - 22, 0.16 * h - 22, wx + 22, 0.16 * h + 22), 180, 360, fill=_jitter(rng, (190, 70, 60), 0.3))
    d.polygon([(0.42 * w, hy), (0.58 * w, hy), (0.75 * w, h), (0.25 * w, h)], fill=(150, 36, 40))


def _bg_stadium(d, w, h, hy, rng, light):
    tiers = 5
    for t in range(tiers):
        y0 = 0.08 * h + t * (hy - 0.08 * h) / tiers
        y1 = y0 + (hy - 0.08 * h) / tiers - 2
        d.rectangle((0, y0, w, y1), fill=_jitter(rng, (70, 80, 110), 0.12))
        for _ in range(int(w // 5)):
            x = rng.uniform(0, w)
            y = rng.uniform(y0 + 2, y1 - 4)
            c = _jitter(rng, [(200, 60, 60), (240, 240, 240), (60, 90, 200), (240, 200, 60), (200, 160, 130)]
                        [int(rng.integers(5))], 0.15)
            d.rectangle((x, y, x + 3, y + 4), fill=c)
    d.rectangle((0, hy - 4, w, hy), fill=(230, 230, 230))
    for i in range(int(w // 80) + 1):
        x = i * 80
        d.rectangle((x, hy, x + 40, h), fill=(60, 140, 62))
    d.line((0, hy + 0.3 * (h - hy), w, hy + 0.3 * (h - hy)), fill=(240, 240, 240), width=3)
    for x in (0.1 * w, 0.9 * w):
        d.line((x, 0, x, 0.08 * h), fill=(90, 90, 90), width=4)
        d.rectangle((x - 20, 0, x + 20, 0.03 * h), fill=(250, 250, 230))


def _bg_concert(d, w, h, hy, rng, light):
    d.rectangle((0, 0, 0.12 * w, hy), fill=(150, 20, 30))
    d.rectangle((0.88 * w, 0, w, hy), fill=(150, 20, 30))
    for i in range(6):
        x = 0.01 * w + i * 0.02 * w
        d.line((x, 0, x, hy), fill=(110, 14, 24), width=2)
        d.line((w - x, 0, w - x, hy), fill=(110, 14, 24), width=2)
    d.rectangle((0.12 * w, hy - 0.06 * h, 0.88 * w, hy), fill=(110, 76, 50))
    d.rectangle((0, 0, w, 0.05 * h), fill=(20, 14, 20))


def _bg_conference(d, w, h, hy, rng, light):
    d.rectangle((0.05 * w, hy - 0.07 * h, 0.95 * w, hy), fill=(60, 70, 90))
    for r in range(4):
        y = hy + 0.04 * h + r * 0.09 * h
        for i in range(int(w // 36) + 1):
            x = i * 36 + (r % 2) * 18
            d.rounded_rectangle((x, y, x + 30, y + 0.05 * h), radius=5, fill=(40, 44, 60))
    for i in range(int(w // 200) + 1):
        x = i * 200 + 100
        d.rectangle((x - 6, 0.03 * h, x + 6, 0.06 * h), fill=(250, 250, 230))


def _bg_museum(d, w, h, hy, rng, light):
    for i in range(int(w // 160) + 1):
        x = i * 160 + rng.uniform(10, 50)
        fw, fh = rng.uniform(60, 100), rng.uniform(50, 90)
        y = 0.3 * h - fh / 2
        d.rectangle((x - 6, y - 6, x + fw + 6, y + fh + 6), fill=(170, 130, 60))
        d.rectangle((x, y, x + fw, y + fh), fill=_jitter(rng, (110, 130, 150), 0.4))
        d.ellipse((x + fw * 0.3, y + fh * 0.3, x + fw * 0.6, y + fh * 0.6), fill=_jitter(rng, (200, 160, 90), 0.3))
        d.polygon([(x + fw / 2 - 10, 0), (x + fw / 2 + 10, 0), (x + fw / 2 + 50, y), (x + fw / 2 - 50, y)],
                  fill=(246, 244, 236))
    d.rectangle((0, hy - 3, w, hy + 2), fill=(200, 196, 190))
    for i in range(int(w // 60) + 1):
        d.line((i * 60, hy, i * 60 - 40, h), fill=(176, 150, 112), width=2)


def _bg_hotel(d, w, h, hy, rng, light):
    for i in range(int(w // 170) + 1):
        x = i * 170 + 30
        d.rectangle((x, 0, x + 40, hy), fill=(240, 234, 220))
        d.rectangle((x - 6, 0, x + 46, 0.04 * h), fill=(210, 200, 180))
        px = x + 100
        d.rectangle((px - 14, hy - 0.1 * h, px + 14, hy), fill=(150, 90, 60))
        d.ellipse((px - 34, hy - 0.3 * h, px + 34, hy - 0.08 * h), fill=_jitter(rng, (60, 120, 60), 0.15))
    dx = rng.uniform(0.2, 0.6) * w
    d.rectangle((dx, hy - 0.16 * h, dx + 0.3 * w, hy), fill=(120, 80, 50))
    d.rectangle((dx - 6, hy - 0.17 * h, dx + 0.3 * w + 6, hy - 0.15 * h), fill=(220, 210, 190))


def _bg_street(d, w, h, hy, rng, light):
    night = light == "tungsten indoor"
    x = -rng.uniform(0, 40)
    while x < w:
        bw = rng.uniform(0.12, 0.22) * w
        bh = rng.uniform(0.3, 0.55) * h
        col = _jitter(rng, (170, 150, 130), 0.2)
        d.rectangle((x, hy - bh, x + bw, hy), fill=col)
        for wy in np.arange(hy - bh + 10, hy - 20, 22):
            for wx in np.arange(x + 8, x + bw - 14, 18):
                lit = night and rng.random() < 0.6
                d.rectangle((wx, wy, wx + 10, wy + 12), fill=(255, 214, 120) if lit else (70, 90, 110))
        x += bw + rng.uniform(2, 10)
    d.rectangle((0, hy, w, hy + 0.06 * h), fill=(176, 170, 160))
    d.rectangle((0, hy + 0.06 * h, w, h), fill=(70, 70, 76))
    for i in range(int(w // 80) + 1):
        d.rectangle((i * 80, hy + 0.22 * h, i * 80 + 40, hy + 0.235 * h), fill=(230, 230, 220))


# Landmarks (S1.1.7 visual anchors), indexed like ontology.LANDMARKS.


def _lm_arc(d, w, h, hy, rng):  # Arc de Triomphe
    c, s = (214, 200, 170), 0.62 * h
    x0 = 0.5 * w - 0.45 * s
    d.rectangle((x0, hy - s, x0 + 0.9 * s, hy), fill=c)
    d.rectangle((x0 - 8, hy - s, x0 + 0.9 * s + 8, hy - 0.9 * s), fill=_shade(c, 0.9))
    ax0, ax1 = x0 + 0.28 * s, x0 + 0.62 * s
    d.rectangle((ax0, hy - 0.45 * s, ax1, hy), fill=(110, 130, 160))
    d.pieslice((ax0, hy - 0.62 * s, ax1, hy - 0.28 * s), 180, 360, fill=(110, 130, 160))
    for fx in (x0 + 0.06 * s, x0 + 0.7 * s):
        d.rectangle((fx, hy - 0.75 * s, fx + 0.14 * s, hy - 0.55 * s), fill=_shade(c, 0.82))


def _lm_fort(d, w, h, hy, rng):  # Red Fort
    c = (178, 70, 52)
    top = hy - 0.32 * h
    d.rectangle((0, top, w, hy), fill=c)
    for x in np.arange(0, w, 22):
        d.rectangle((x, top - 12, x + 12, top), fill=c)
    gx = 0.5 * w
    d.rectangle((gx - 0.12 * w, top - 0.16 * h, gx + 0.12 * w, hy), fill=_shade(c, 1.05))
    d.pieslice((gx - 0.05 * w, hy - 0.22 * h, gx + 0.05 * w, hy - 0.1 * h), 180, 360, fill=(60, 30, 26))
    d.rectangle((gx - 0.05 * w, hy - 0.16 * h, gx + 0.05 * w, hy), fill=(60, 30, 26))
    for tx in (gx - 0.12 * w, gx + 0.12 * w):
        d.rectangle((tx - 12, top - 0.26 * h, tx + 12, top - 0.16 * h), fill=(230, 220, 200))
        d.pieslice((tx - 18, top - 0.31 * h, tx + 18, top - 0.21 * h), 180, 360, fill=(236, 230, 214))


def _lm_colosseum(d, w, h, hy, rng):  # Colosseum
    c = (200, 170, 130)
    d.chord((0.05 * w, hy - 0.5 * h, 0.95 * w, hy + 0.3 * h), 180, 360, fill=c)
    for row in range(3):
        y = hy - 0.4 * h + row * 0.12 * h
        for x in np.arange(0.1 * w, 0.9 * w, 0.05 * w):
            d.rectangle((x, y + 0.03 * h, x + 0.025 * w, y + 0.09 * h), fill=(90, 70, 56))
            d.pieslice((x, y + 0.015 * h, x + 0.025 * w, y + 0.045 * h), 180, 360, fill=(90, 70, 56))


def _lm_eiffel(d, w, h, hy, rng):  # Eiffel Tower
    c = (92, 84, 76)
    cx, top, base = 0.5 * w, hy - 0.9 * h, 0.24 * w
    mid = hy - 0.32 * h
    for side in (-1, 1):
        d.polygon([(cx + side * base / 2, hy), (cx + side * (base / 2 - 0.035 * w), hy),
                   (cx + side * 0.02 * w, mid), (cx + side * 0.055 * w, mid)], fill=c)
    d.polygon([(cx - 0.055 * w, mid), (cx + 0.055 * w, mid), (cx + 4, top), (cx - 4, top)], fill=c)
    d.rectangle((cx - 0.075 * w, mid - 6, cx + 0.075 * w, mid + 4), fill=c)
    d.rectangle((cx - 0.035 * w, hy - 0.6 * h - 4, cx + 0.035 * w, hy - 0.6 * h + 3), fill=c)
    d.arc((cx - base * 0.3, hy - 0.2 * h, cx + base * 0.3, hy + 0.1 * h), 180, 360, fill=c, width=5)
    for y in np.arange(mid + 10, hy, 16):
        t = (hy - y) / (hy - mid)
        half = base / 2 * (1 - t) + 0.055 * w * t
        d.line((cx - half, y, cx - half + 0.03 * w, y + 16), fill=c, width=2)
        d.line((cx + half, y, cx + half - 0.03 * w, y + 16), fill=c, width=2)


def _lm_taj(d, w, h, hy, rng):  # Taj Mahal
    c = (244, 242, 236)
    cx = 0.5 * w
    d.rectangle((cx - 0.22 * w, hy - 0.26 * h, cx + 0.22 * w, hy), fill=c)
    d.ellipse((cx - 0.12 * w, hy - 0.52 * h, cx + 0.12 * w, hy - 0.2 * h), fill=c)
    d.polygon([(cx - 6, hy - 0.5 * h), (cx, hy - 0.6 * h), (cx + 6, hy - 0.5 * h)], fill=(210, 190, 120))
    d.pieslice((cx - 0.06 * w, hy - 0.2 * h, cx + 0.06 * w, hy - 0.05 * h), 180, 360, fill=(170, 170, 180))
    d.rectangle((cx - 0.06 * w, hy - 0.125 * h, cx + 0.06 * w, hy), fill=(170, 170, 180))
    for mx in (cx - 0.36 * w, cx + 0.36 * w):
        d.rectangle((mx - 9, hy - 0.48 * h, mx + 9, hy), fill=c)
        d.ellipse((mx - 14, hy - 0.53 * h, mx + 14, hy - 0.45 * h), fill=c)
    d.rectangle((cx - 0.04 * w, hy, cx + 0.04 * w, hy + 0.3 * h), fill=(80, 140, 190))


def _lm_bridge(d, w, h, hy, rng):  # Golden Gate Bridge
    c = (192, 64, 40)
    d.rectangle((0, hy - 0.14 * h, w, hy), fill=(50, 110, 150))
    deck = hy - 0.2 * h
    d.rectangle((0, deck, w, deck + 10), fill=c)
    towers = (0.22 * w, 0.78 * w)
    for tx in towers:
        d.rectangle((tx - 10, deck - 0.5 * h, tx - 3, hy), fill=c)
        d.rectangle((tx + 3, deck - 0.5 * h, tx + 10, hy), fill=c)
        for k in range(4):
            y = deck - 0.5 * h + k * 0.13 * h
            d.rectangle((tx - 10, y, tx + 10, y + 6), fill=c)
    span = towers[1] - towers[0]
    pts = [(x, deck - 0.48 * h + 0.44 * h * (1 - (2 * (x - towers[0]) / span - 1) ** 2))
           for x in np.linspace(towers[0], towers[1], 24)]
    d.line(pts, fill=c, width=4)
    d.line([(0, deck - 0.2 * h), (towers[0], deck - 0.48 * h)], fill=c, width=4)
    d.line([(towers[1], deck - 0.48 * h), (w, deck - 0.2 * h)], fill=c, width=4)
    for x, y in pts[::2]:
        d.line((x, y, x, deck), fill=c, width=1)


def _lm_opera(d, w, h, hy, rng):  # Sydney Opera House
    c = (246, 244, 238)
    d.rectangle((0.1 * w, hy - 0.08 * h, 0.9 * w, hy), fill=(200, 180, 150))
    for i, (x, s) in enumerate(((0.2, 0.26), (0.34, 0.34), (0.5, 0.3), (0.63, 0.24), (0.74, 0.2))):
        x0 = x * w
        d.polygon([(x0, hy - 0.08 * h), (x0 + 0.06 * w, hy - (0.08 + s) * h), (x0 + 0.16 * w, hy - 0.08 * h)], fill=c)
        d.line((x0 + 0.06 * w, hy - (0.08 + s) * h, x0 + 0.1 * w, hy - 0.08 * h), fill=(200, 200, 196), width=2)
    d.rectangle((0, hy, w, hy + 0.06 * h), fill=(50, 110, 150))


def _lm_gateway(d, w, h, hy, rng):  # Gateway of India
    c = (196, 168, 120)
    cx = 0.5 * w
    d.rectangle((cx - 0.26 * w, hy - 0.42 * h, cx + 0.26 * w, hy), fill=c)
    d.rectangle((cx - 0.08 * w, hy - 0.3 * h, cx + 0.08 * w, hy), fill=(100, 120, 140))
    d.pieslice((cx - 0.08 * w, hy - 0.38 * h, cx + 0.08 * w, hy - 0.22 * h), 180, 360, fill=(100, 120, 140))
    for tx in (cx - 0.22 * w, cx + 0.22 * w):
        d.rectangle((tx - 16, hy - 0.52 * h, tx + 16, hy - 0.42 * h), fill=c)
        d.ellipse((tx - 20, hy - 0.58 * h, tx + 20, hy - 0.48 * h), fill=_shade(c, 1.05))
    d.rectangle((cx - 0.26 * w, hy - 0.44 * h, cx + 0.26 * w, hy - 0.42 * h), fill=_shade(c, 0.8))
    d.rectangle((0, hy - 0.02 * h, w, hy + 0.03 * h), fill=(60, 110, 140))


LANDMARK_PAINTERS: tuple[Callable, ...] = (
    _lm_arc, _lm_fort, _lm_colosseum, _lm_eiffel, _lm_taj, _lm_bridge, _lm_opera, _lm_gateway,
)
assert len(LANDMARK_PAINTERS) == len(LANDMARKS)


def _bg_landmark(d, w, h, hy, rng, light, *, index: int = 0):
    LANDMARK_PAINTERS[index % len(LANDMARK_PAINTERS)](d, w, h, hy, rng)
    for i in range(int(w // 50) + 1):
        d.line((i * 50, hy, i * 50 - 60, h), fill=(176, 166, 150), width=2)


PAINTERS: dict[str, Painter] = {
    "home": _bg_home, "office": _bg_office, "school": _bg_school, "university": _bg_university,
    "park": _bg_park, "garden": _bg_garden, "beach": _bg_beach, "mountain": _bg_mountain,
    "highway": _bg_highway, "restaurant": _bg_restaurant, "cafe": _bg_cafe, "banquet hall": _bg_banquet,
    "place of worship": _bg_worship, "stadium": _bg_stadium, "concert hall": _bg_concert,
    "conference hall": _bg_conference, "museum": _bg_museum, "hotel": _bg_hotel, "city street": _bg_street,
}


def landmark_name(location_tag: int) -> str:
    """The landmark drawn for a ``landmark`` location tag (S1.1.7): ``LANDMARKS[tag % 8]``."""
    return LANDMARKS[location_tag % len(LANDMARKS)][0]


def paint_backdrop(kind: str, location_tag: int, lighting: str, width: int, height: int) -> Image.Image:
    """The backdrop of a location (RGB image, width × height), deterministic in its arguments."""
    spec = BACKDROPS.get(kind, _DEFAULT_BACKDROP)
    rng = np.random.default_rng([location_tag & 0xFFFFFFFF, _stable(kind)])
    hy = int(round(spec.horizon * height * rng.uniform(0.96, 1.04)))
    if spec.indoor:
        top, bottom = (_jitter(rng, c, 0.1) for c in spec.upper)
    else:
        top, bottom = SKY.get(lighting, SKY["daylight"])
    lower = [_jitter(rng, c, 0.08) for c in spec.lower]
    arr = np.empty((height, width, 3), np.float32)
    arr[:hy] = _vgradient(width, hy, top, bottom)
    arr[hy:] = _vgradient(width, height - hy, lower[0], lower[1])
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    if kind == "landmark":
        _bg_landmark(d, width, height, hy, rng, lighting, index=location_tag % len(LANDMARKS))
    else:
        PAINTERS.get(kind, _bg_home if spec.indoor else _bg_park)(d, width, height, hy, rng, lighting)
    noise = rng.integers(-4, 5, size=(height, width, 1), dtype=np.int16)
    return Image.fromarray(np.clip(np.asarray(img, np.int16) + noise, 0, 255).astype(np.uint8))


# --------------------------------------------------------------------------------------------------
# event props (S1.1.2 ``props``)

PropFn = Callable[[_Pen, Box, np.random.Generator], None]


def _dims(b: Box) -> tuple[float, float, float, float, float, float]:
    x0, y0, x1, y1 = b
    return x0, y0, x1, y1, x1 - x0, y1 - y0


def _p_cake(pen, b, rng, candles: bool = True):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.ellipse((x0 - 0.08 * w, y1 - 0.16 * h, x1 + 0.08 * w, y1 + 0.06 * h), (240, 240, 244))
    pen.rect((x0, y0 + 0.45 * h, x1, y1 - 0.06 * h), (246, 226, 236))
    pen.ellipse((x0, y1 - 0.16 * h, x1, y1), (246, 226, 236))
    pen.ellipse((x0, y0 + 0.35 * h, x1, y0 + 0.55 * h), (255, 246, 250))
    pen.rect((x0, y0 + 0.6 * h, x1, y0 + 0.66 * h), (210, 90, 140))
    if candles:
        _candles(pen, (x0 + 0.15 * w, y0, x1 - 0.15 * w, y0 + 0.45 * h), rng)


def _candles(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    n = int(rng.integers(3, 6))
    cw = max(2.0, w / (n * 3))
    for i in range(n):
        cx = x0 + (i + 0.5) * w / n
        pen.rect((cx - cw / 2, y0 + 0.35 * h, cx + cw / 2, y1), [(90, 160, 230), (240, 200, 60), (230, 90, 120)][i % 3])
        pen.ellipse((cx - cw * 0.7, y0, cx + cw * 0.7, y0 + 0.35 * h), (255, 190, 60))


def _p_candles(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.ellipse((x0, y1 - 0.12 * h, x1, y1), (200, 190, 170))
    _candles(pen, (x0 + 0.1 * w, y0, x1 - 0.1 * w, y1 - 0.06 * h), rng)


def _p_balloons(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    n = int(rng.integers(4, 7))
    r = min(w / 4.0, h / 4.5)
    tie = (x0 + w / 2, y1)
    for _ in range(n):
        cx, cy = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r * 1.2, y0 + h * 0.55)
        col = [(230, 40, 60), (40, 120, 230), (250, 200, 40), (60, 190, 90), (220, 90, 200)][int(rng.integers(5))]
        pen.line((cx, cy + r * 1.1, tie[0], tie[1]), (90, 90, 90), max(1.0, r * 0.05))
        pen.ellipse((cx - r * 0.85, cy - r, cx + r * 0.85, cy + r * 1.1), col)
        pen.ellipse((cx - r * 0.45, cy - r * 0.6, cx - r * 0.15, cy - r * 0.2), _mix(col, (255, 255, 255), 0.6))


def _p_gifts(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for i, (fx, fw, fh) in enumerate(((0.0, 0.55, 0.75), (0.45, 0.55, 1.0))):
        bx0, bx1 = x0 + fx * w, x0 + (fx + fw) * w
        by0 = y1 - fh * h
        col = [(200, 40, 60), (40, 110, 200), (60, 160, 80), (230, 170, 40)][int(rng.integers(4))]
        pen.rect((bx0, by0 + 0.12 * h, bx1, y1), col)
        rib = (250, 230, 120)
        pen.rect(((bx0 + bx1) / 2 - 0.05 * w, by0 + 0.12 * h, (bx0 + bx1) / 2 + 0.05 * w, y1), rib)
        pen.rect((bx0, by0 + 0.3 * h, bx1, by0 + 0.38 * h), rib)
        pen.ellipse(((bx0 + bx1) / 2 - 0.14 * w, by0, (bx0 + bx1) / 2, by0 + 0.16 * h), rib)
        pen.ellipse(((bx0 + bx1) / 2, by0, (bx0 + bx1) / 2 + 0.14 * w, by0 + 0.16 * h), rib)


def _flowers(pen, b, rng, colours):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    for _ in range(7):
        tx, ty = rng.uniform(x0 + 0.15 * w, x1 - 0.15 * w), rng.uniform(y0 + 0.1 * h, y0 + 0.45 * h)
        pen.line((cx, y1 - 0.1 * h, tx, ty), (60, 130, 60), max(1.0, w * 0.03))
    pen.polygon([(cx - 0.2 * w, y0 + 0.5 * h), (cx + 0.2 * w, y0 + 0.5 * h), (cx + 0.08 * w, y1), (cx - 0.08 * w, y1)],
                (240, 236, 220))
    r = w * 0.13
    for _ in range(7):
        fx, fy = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r, y0 + 0.45 * h)
        col = colours[int(rng.integers(len(colours)))]
        pen.ellipse((fx - r, fy - r, fx + r, fy + r), col)
        pen.ellipse((fx - r * 0.35, fy - r * 0.35, fx + r * 0.35, fy + r * 0.35), _mix(col, (250, 220, 80), 0.6))


def _p_flowers(pen, b, rng):
    _flowers(pen, b, rng, [(240, 240, 240), (250, 180, 200), (250, 210, 60), (200, 120, 220)])


def _p_roses(pen, b, rng):
    _flowers(pen, b, rng, [(200, 20, 40), (170, 10, 30), (220, 40, 60)])


def _p_rings(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rounded((x0, y0 + 0.45 * h, x1, y1), 0.1 * w, (120, 20, 40))
    pen.rounded((x0, y0 + 0.1 * h, x1, y0 + 0.45 * h), 0.1 * w, (150, 30, 54))
    for cx in (x0 + 0.36 * w, x0 + 0.64 * w):
        r = 0.2 * w
        pen.ellipse((cx - r, y0 + 0.3 * h - r, cx + r, y0 + 0.3 * h + r), (235, 200, 90))
        pen.ellipse((cx - r * 0.7, y0 + 0.3 * h - r * 0.7, cx + r * 0.7, y0 + 0.3 * h + r * 0.7), (150, 30, 54))
        pen.ellipse((cx - r * 0.35, y0 + 0.3 * h - r * 1.5, cx + r * 0.35, y0 + 0.3 * h - r * 0.8), (230, 240, 255))


def _p_glasses(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for i in range(2):
        gx0, gx1 = x0 + i * 0.5 * w + 0.05 * w, x0 + (i + 1) * 0.5 * w - 0.05 * w
        cx, gw = (gx0 + gx1) / 2, gx1 - gx0
        pen.chord((gx0, y0, gx1, y0 + 0.65 * h), 0, 180, (150, 20, 40) if i == 0 else (240, 220, 140))
        pen.chord((gx0, y0 - 0.12 * h, gx1, y0 + 0.5 * h), 180, 360, (225, 235, 240))
        pen.rect((cx - gw * 0.05, y0 + 0.6 * h, cx + gw * 0.05, y1 - 0.06 * h), (225, 235, 240))
        pen.ellipse((gx0 + 0.1 * gw, y1 - 0.1 * h, gx1 - 0.1 * gw, y1), (225, 235, 240))


def _p_cap_and_gown(pen, b, rng):
    """Standalone graduation cap (mortarboard) with tassel; on a person see :func:`_worn_cap`."""
    x0, y0, x1, y1, w, h = _dims(b)
    _mortarboard(pen, x0 + w / 2, y0 + 0.45 * h, w)


def _mortarboard(pen, cx, cy, w):
    pen.polygon([(cx - w / 2, cy), (cx, cy - w * 0.18), (cx + w / 2, cy), (cx, cy + w * 0.18)], (24, 24, 30))
    pen.rect((cx - w * 0.28, cy, cx + w * 0.28, cy + w * 0.22), (30, 30, 36))
    pen.line((cx, cy, cx + w * 0.42, cy + w * 0.08, cx + w * 0.42, cy + w * 0.35), (240, 190, 40), max(2.0, w * 0.04))


def _p_diploma(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rounded((x0, y0 + 0.2 * h, x1, y1 - 0.2 * h), 0.3 * h, (246, 238, 214))
    pen.rect((x0 + 0.45 * w, y0 + 0.1 * h, x0 + 0.55 * w, y1 - 0.1 * h), (170, 20, 40))


def _p_podium(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.polygon([(x0 + 0.1 * w, y0 + 0.15 * h), (x1 - 0.1 * w, y0 + 0.15 * h), (x1, y1), (x0, y1)], (110, 70, 40))
    pen.rect((x0, y0, x1, y0 + 0.15 * h), (140, 92, 56))
    pen.ellipse((x0 + 0.35 * w, y0 + 0.35 * h, x0 + 0.65 * w, y0 + 0.55 * h), (220, 190, 90))
    pen.line((x0 + 0.5 * w, y0, x0 + 0.6 * w, y0 - 0.25 * h), (30, 30, 30), max(2.0, w * 0.03))


def _p_dining_table(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0, x1, y0 + 0.25 * h), (245, 243, 236))
    pen.polygon([(x0, y0 + 0.25 * h), (x1, y0 + 0.25 * h), (x1 - 0.02 * w, y1), (x0 + 0.02 * w, y1)], (236, 232, 224))
    for i in range(int(max(2, w // max(h, 1)))):
        cx = x0 + (i + 0.5) * w / max(2, int(w // max(h, 1)))
        pen.ellipse((cx - 0.3 * h, y0 + 0.02 * h, cx + 0.3 * h, y0 + 0.2 * h), (255, 255, 255))
        pen.ellipse((cx - 0.15 * h, y0 + 0.06 * h, cx + 0.15 * h, y0 + 0.16 * h), (200, 120, 60))


def _p_plates(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for i in range(3):
        cx = x0 + (i + 0.5) * w / 3
        pen.ellipse((cx - w / 7, y0, cx + w / 7, y1), (250, 250, 250))
        pen.ellipse((cx - w / 12, y0 + 0.25 * h, cx + w / 12, y1 - 0.25 * h),
                    [(200, 110, 50), (90, 160, 60), (220, 200, 120)][i])


def _p_suitcase(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rounded((x0, y0 + 0.25 * h, x1, y1 - 0.04 * h), 0.1 * w, (40, 90, 160))
    pen.rect((x0 + 0.3 * w, y0, x0 + 0.36 * w, y0 + 0.25 * h), (60, 60, 60))
    pen.rect((x1 - 0.36 * w, y0, x1 - 0.3 * w, y0 + 0.25 * h), (60, 60, 60))
    pen.rect((x0 + 0.3 * w, y0, x1 - 0.3 * w, y0 + 0.05 * h), (60, 60, 60))
    for fx in (0.25, 0.5, 0.75):
        pen.rect((x0 + fx * w - 1, y0 + 0.3 * h, x0 + fx * w + 1, y1 - 0.08 * h), (30, 70, 130))
    pen.ellipse((x0 + 0.1 * w, y1 - 0.08 * h, x0 + 0.25 * w, y1), (20, 20, 20))
    pen.ellipse((x1 - 0.25 * w, y1 - 0.08 * h, x1 - 0.1 * w, y1), (20, 20, 20))


def _p_sun_hat(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    _sun_hat(pen, x0 + w / 2, y0 + 0.7 * h, w)


def _sun_hat(pen, cx, base_y, w):
    pen.ellipse((cx - w / 2, base_y - w * 0.1, cx + w / 2, base_y + w * 0.1), (236, 214, 150))
    pen.chord((cx - w * 0.28, base_y - w * 0.36, cx + w * 0.28, base_y + w * 0.1), 180, 360, (240, 220, 160))
    pen.rect((cx - w * 0.28, base_y - w * 0.1, cx + w * 0.28, base_y - w * 0.03), (200, 60, 60))


def _p_picnic_basket(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.line((x0 + 0.15 * w, y0 + 0.5 * h, x0 + 0.5 * w, y0, x1 - 0.15 * w, y0 + 0.5 * h), (140, 96, 50), 0.06 * w)
    pen.polygon([(x0, y0 + 0.4 * h), (x1, y0 + 0.4 * h), (x1 - 0.08 * w, y1), (x0 + 0.08 * w, y1)], (176, 122, 62))
    for i in range(4):
        y = y0 + 0.5 * h + i * 0.12 * h
        pen.line((x0 + 0.06 * w, y, x1 - 0.06 * w, y), (130, 88, 44), max(1.0, 0.03 * h))
    pen.rect((x0, y0 + 0.4 * h, x1, y0 + 0.48 * h), (200, 40, 40))


def _p_checkered_blanket(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.polygon([(x0 + 0.08 * w, y0), (x1 - 0.08 * w, y0), (x1, y1), (x0, y1)], (246, 246, 246))
    n, m = 10, 4
    for i in range(n):
        for j in range(m):
            if (i + j) % 2:
                continue
            t0, t1 = j / m, (j + 1) / m
            def at(u, t):
                left = x0 + 0.08 * w * (1 - t)
                right = x1 - 0.08 * w * (1 - t)
                return (left + (right - left) * u, y0 + h * t)
            pen.polygon([at(i / n, t0), at((i + 1) / n, t0), at((i + 1) / n, t1), at(i / n, t1)], (210, 30, 40))


def _p_backpack(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rounded((x0, y0 + 0.1 * h, x1, y1), 0.25 * w, (50, 110, 70))
    pen.rounded((x0 + 0.15 * w, y0 + 0.5 * h, x1 - 0.15 * w, y1 - 0.08 * h), 0.1 * w, (40, 90, 56))
    pen.line((x0 + 0.3 * w, y0 + 0.12 * h, x0 + 0.5 * w, y0, x1 - 0.3 * w, y0 + 0.12 * h), (30, 60, 40), 0.06 * w)


def _p_trekking_poles(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for fx in (0.3, 0.7):
        pen.line((x0 + fx * w, y0, x0 + fx * w + 0.1 * w, y1), (150, 150, 160), max(2.0, 0.05 * w))
        pen.rect((x0 + fx * w - 0.05 * w, y0, x0 + fx * w + 0.05 * w, y0 + 0.12 * h), (30, 30, 30))


def _p_scoreboard(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0, x1, y1), (20, 22, 26))
    pen.rect((x0 + 0.04 * w, y0 + 0.1 * h, x1 - 0.04 * w, y1 - 0.1 * h), (30, 36, 44))
    for fx in (0.1, 0.6):
        for k in range(2):
            sx = x0 + (fx + 0.14 * k) * w
            pen.rect((sx, y0 + 0.25 * h, sx + 0.1 * w, y1 - 0.25 * h), (250, 170, 40))
            pen.rect((sx + 0.025 * w, y0 + 0.35 * h, sx + 0.075 * w, y1 - 0.35 * h), (30, 36, 44))
    pen.rect((x0 + 0.45 * w, y0 + 0.4 * h, x0 + 0.55 * w, y0 + 0.5 * h), (250, 250, 250))


def _p_ball(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    s = min(w, h)
    cx, cy = x0 + w / 2, y1 - s / 2
    pen.ellipse((cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2), (250, 250, 250))
    pen.polygon([(cx + s * 0.16 * math.cos(a), cy + s * 0.16 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 6)[:-1]],
                (20, 20, 20))
    for a in np.linspace(0, 2 * math.pi, 6)[:-1] + 0.6:
        px, py = cx + s * 0.38 * math.cos(a), cy + s * 0.38 * math.sin(a)
        pen.ellipse((px - s * 0.08, py - s * 0.08, px + s * 0.08, py + s * 0.08), (20, 20, 20))


def _p_goalpost(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    t = max(3.0, 0.04 * h)
    pen.rect((x0, y0, x0 + t, y1), (250, 250, 250))
    pen.rect((x1 - t, y0, x1, y1), (250, 250, 250))
    pen.rect((x0, y0, x1, y0 + t), (250, 250, 250))
    for i in range(1, 8):
        x = x0 + i * w / 8
        pen.line((x, y0 + t, x, y1), (220, 220, 220), 1)
    for j in range(1, 5):
        y = y0 + j * h / 5
        pen.line((x0 + t, y, x1 - t, y), (220, 220, 220), 1)


def _p_stage_lights(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0, x1, y0 + 0.05 * h), (40, 40, 44))
    n = 5
    for i in range(n):
        cx = x0 + (i + 0.5) * w / n
        col = [(255, 80, 80), (90, 140, 255), (255, 230, 90), (200, 90, 255), (90, 255, 170)][i % 5]
        pen.polygon([(cx - 0.02 * w, y0 + 0.12 * h), (cx + 0.02 * w, y0 + 0.12 * h),
                     (cx + 0.09 * w, y1), (cx - 0.09 * w, y1)], _mix(col, (255, 255, 255), 0.5))
        pen.rounded((cx - 0.035 * w, y0 + 0.03 * h, cx + 0.035 * w, y0 + 0.14 * h), 3, (30, 30, 34))
        pen.ellipse((cx - 0.025 * w, y0 + 0.09 * h, cx + 0.025 * w, y0 + 0.15 * h), col)


def _p_microphone(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    lw = max(2.0, 0.05 * w)
    pen.line((cx, y1, cx, y0 + 0.12 * h), (40, 40, 44), lw)
    pen.line((cx - 0.35 * w, y1, cx, y1 - 0.06 * h, cx + 0.35 * w, y1), (40, 40, 44), lw)
    pen.rounded((cx - 0.14 * w, y0, cx + 0.14 * w, y0 + 0.16 * h), 0.14 * w, (90, 90, 96))


def _p_guitar(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    body = (190, 110, 40)
    pen.rect((cx - 0.06 * w, y0, cx + 0.06 * w, y0 + 0.55 * h), (70, 40, 20))
    pen.rect((cx - 0.12 * w, y0, cx + 0.12 * w, y0 + 0.08 * h), (50, 30, 16))
    pen.ellipse((x0 + 0.12 * w, y0 + 0.42 * h, x1 - 0.12 * w, y0 + 0.7 * h), body)
    pen.ellipse((x0, y0 + 0.58 * h, x1, y1), body)
    pen.ellipse((cx - 0.16 * w, y0 + 0.6 * h, cx + 0.16 * w, y0 + 0.72 * h), (40, 24, 12))


def _p_string_lights(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for row in range(2):
        yb = y0 + (0.3 + 0.45 * row) * h
        pts = [(x, yb + 0.2 * h * math.sin(math.pi * (x - x0) / w * 3)) for x in np.linspace(x0, x1, 40)]
        pen.line(pts, (50, 50, 40), max(1.0, 0.01 * h))
        for k, (x, y) in enumerate(pts[1::3]):
            r = max(2.0, 0.05 * h)
            col = [(255, 220, 120), (255, 120, 120), (140, 200, 255), (180, 255, 160)][k % 4]
            pen.ellipse((x - r, y, x + r, y + 2.2 * r), col)


def _p_lamps(pen, b, rng):
    """Floor lamp with a glowing shade (Housewarming, Casual Home Scene) / oil lamps (festivals)."""
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    pen.ellipse((cx - 0.35 * w, y1 - 0.05 * h, cx + 0.35 * w, y1), (50, 46, 40))
    pen.rect((cx - 0.03 * w, y0 + 0.25 * h, cx + 0.03 * w, y1 - 0.02 * h), (70, 64, 56))
    pen.polygon([(cx - 0.25 * w, y0), (cx + 0.25 * w, y0), (cx + 0.5 * w, y0 + 0.28 * h), (cx - 0.5 * w, y0 + 0.28 * h)],
                (255, 226, 150))


def _p_colour_powder(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for _ in range(9):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        r = rng.uniform(0.08, 0.16) * min(w, h)
        col = [(240, 40, 140), (250, 200, 0), (40, 200, 90), (60, 120, 250), (250, 120, 20)][int(rng.integers(5))]
        pen.ellipse((cx - r * 1.3, cy - r, cx + r * 1.3, cy + r), col)


def _p_idol(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    gold = (220, 170, 50)
    pen.rect((x0, y1 - 0.15 * h, x1, y1), (150, 40, 40))
    pen.ellipse((x0 + 0.1 * w, y0 + 0.35 * h, x1 - 0.1 * w, y1 - 0.1 * h), gold)
    pen.ellipse((cx - 0.18 * w, y0 + 0.12 * h, cx + 0.18 * w, y0 + 0.42 * h), gold)
    pen.polygon([(cx - 0.14 * w, y0 + 0.16 * h), (cx, y0), (cx + 0.14 * w, y0 + 0.16 * h)], gold)
    pen.chord((x0 - 0.05 * w, y0 - 0.05 * h, x1 + 0.05 * w, y0 + 0.6 * h), 180, 360, (250, 140, 40))
    pen.ellipse((cx - 0.16 * w, y0 + 0.12 * h, cx + 0.16 * w, y0 + 0.4 * h), gold)


def _p_banner(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.line((x0, y0, x1, y0), (80, 80, 80), max(1.0, 0.04 * h))
    n = 9
    for i in range(n):
        fx0 = x0 + i * w / n
        col = [(230, 60, 70), (60, 140, 230), (250, 200, 50), (80, 190, 100)][i % 4]
        pen.polygon([(fx0 + 0.05 * w / n, y0), (fx0 + 0.95 * w / n, y0), (fx0 + 0.5 * w / n, y1)], col)


def _p_whiteboard(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0, x1, y1), (170, 170, 176))
    pen.rect((x0 + 0.02 * w, y0 + 0.03 * h, x1 - 0.02 * w, y1 - 0.08 * h), (250, 250, 252))
    for i in range(4):
        y = y0 + (0.15 + 0.15 * i) * h
        pen.line((x0 + 0.08 * w, y, x0 + rng.uniform(0.3, 0.8) * w, y), [(30, 60, 200), (200, 40, 40)][i % 2], 2)
    pen.line((x0 + 0.65 * w, y0 + 0.7 * h, x0 + 0.75 * w, y0 + 0.4 * h, x0 + 0.85 * w, y0 + 0.55 * h), (20, 140, 60), 3)


def _p_laptop(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.polygon([(x0 + 0.12 * w, y0), (x1 - 0.12 * w, y0), (x1 - 0.1 * w, y0 + 0.72 * h), (x0 + 0.1 * w, y0 + 0.72 * h)],
                (60, 62, 68))
    pen.polygon([(x0 + 0.16 * w, y0 + 0.06 * h), (x1 - 0.16 * w, y0 + 0.06 * h),
                 (x1 - 0.14 * w, y0 + 0.66 * h), (x0 + 0.14 * w, y0 + 0.66 * h)], (110, 170, 230))
    pen.polygon([(x0 + 0.1 * w, y0 + 0.72 * h), (x1 - 0.1 * w, y0 + 0.72 * h), (x1, y1), (x0, y1)], (170, 172, 178))


def _p_projector_screen(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0 - 0.02 * w, y0, x1 + 0.02 * w, y0 + 0.05 * h), (40, 40, 44))
    pen.rect((x0, y0 + 0.05 * h, x1, y1), (246, 246, 248))
    pen.rect((x0 + 0.08 * w, y0 + 0.15 * h, x1 - 0.08 * w, y0 + 0.3 * h), (40, 80, 160))
    for i, v in enumerate(rng.uniform(0.2, 0.5, 4)):
        bx = x0 + (0.15 + 0.18 * i) * w
        pen.rect((bx, y1 - 0.1 * h - v * h, bx + 0.1 * w, y1 - 0.1 * h), [(230, 120, 40), (60, 150, 90)][i % 2])


def _p_trophy(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    gold, dark = (230, 180, 40), (180, 130, 20)
    cx = x0 + w / 2
    pen.rect((x0 + 0.15 * w, y1 - 0.14 * h, x1 - 0.15 * w, y1), (60, 40, 30))
    pen.rect((cx - 0.07 * w, y0 + 0.5 * h, cx + 0.07 * w, y1 - 0.14 * h), dark)
    pen.ellipse((x0, y0 + 0.08 * h, x0 + 0.4 * w, y0 + 0.38 * h), dark)
    pen.ellipse((x1 - 0.4 * w, y0 + 0.08 * h, x1, y0 + 0.38 * h), dark)
    pen.chord((x0 + 0.12 * w, y0 - 0.2 * h, x1 - 0.12 * w, y0 + 0.58 * h), 0, 180, gold)
    pen.rect((x0 + 0.12 * w, y0, x1 - 0.12 * w, y0 + 0.19 * h), gold)
    pen.rect((x0 + 0.4 * w, y0 + 0.05 * h, x0 + 0.48 * w, y0 + 0.4 * h), (255, 230, 140))


def _p_medal(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    pen.polygon([(x0 + 0.1 * w, y0), (cx - 0.05 * w, y0), (cx + 0.1 * w, y0 + 0.55 * h), (cx - 0.1 * w, y0 + 0.55 * h)],
                (40, 90, 200))
    pen.polygon([(x1 - 0.1 * w, y0), (cx + 0.05 * w, y0), (cx - 0.1 * w, y0 + 0.55 * h), (cx + 0.1 * w, y0 + 0.55 * h)],
                (200, 40, 50))
    r = min(w * 0.4, h * 0.25)
    pen.ellipse((cx - r, y1 - 2 * r, cx + r, y1), (230, 180, 40))
    pen.ellipse((cx - r * 0.6, y1 - 1.6 * r, cx + r * 0.6, y1 - 0.4 * r), (250, 210, 90))


def _p_keys(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.ellipse((x0, y0, x0 + 0.4 * w, y0 + 0.5 * h), (200, 200, 206))
    pen.ellipse((x0 + 0.1 * w, y0 + 0.12 * h, x0 + 0.3 * w, y0 + 0.38 * h), (120, 120, 120))
    for k, ang in enumerate((20, 50)):
        a = math.radians(ang)
        sx, sy = x0 + 0.3 * w, y0 + 0.35 * h
        ex, ey = sx + 0.7 * w * math.cos(a), sy + 0.7 * w * math.sin(a)
        col = [(220, 190, 80), (190, 190, 196)][k]
        pen.line((sx, sy, ex, ey), col, max(2.0, 0.08 * h))
        pen.ellipse((sx - 0.16 * w, sy - 0.16 * w, sx + 0.06 * w, sy + 0.06 * w), col)


def _p_fireworks(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for _ in range(3):
        cx, cy = rng.uniform(x0 + 0.15 * w, x1 - 0.15 * w), rng.uniform(y0 + 0.25 * h, y1 - 0.25 * h)
        r = rng.uniform(0.12, 0.22) * min(w, h * 2)
        col = [(255, 90, 90), (255, 230, 90), (120, 200, 255), (200, 120, 255)][int(rng.integers(4))]
        for a in np.linspace(0, 2 * math.pi, 14)[:-1]:
            pen.line((cx + 0.2 * r * math.cos(a), cy + 0.2 * r * math.sin(a), cx + r * math.cos(a), cy + r * math.sin(a)),
                     col, max(1.0, r * 0.05))
        pen.ellipse((cx - r * 0.1, cy - r * 0.1, cx + r * 0.1, cy + r * 0.1), (255, 255, 230))


def _p_confetti(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    s = max(2.0, 0.012 * (w + h))
    for _ in range(40):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        col = [(250, 60, 90), (60, 160, 250), (250, 220, 60), (80, 220, 120), (220, 90, 250)][int(rng.integers(5))]
        pen.rect((x, y, x + s, y + s * 0.6), col)


def _p_christmas_tree(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    pen.rect((cx - 0.07 * w, y1 - 0.12 * h, cx + 0.07 * w, y1), (100, 60, 30))
    for k, (t0, t1, half) in enumerate(((0.08, 0.42, 0.28), (0.28, 0.66, 0.4), (0.5, 0.9, 0.5))):
        pen.polygon([(cx, y0 + t0 * h), (cx + half * w, y0 + t1 * h), (cx - half * w, y0 + t1 * h)], (30, 110, 50))
    for _ in range(12):
        t = rng.uniform(0.25, 0.85)
        half = 0.5 * w * t
        x = cx + rng.uniform(-half, half) * 0.8
        y = y0 + t * h
        r = max(2.0, 0.035 * w)
        pen.ellipse((x - r, y - r, x + r, y + r), [(230, 40, 40), (250, 210, 50), (60, 120, 240)][int(rng.integers(3))])
    r = 0.08 * w
    pen.polygon([(cx + r * math.cos(a) * (1 if i % 2 == 0 else 0.45), y0 + 0.06 * h + r * math.sin(a) * (1 if i % 2 == 0 else 0.45))
                 for i, a in enumerate(np.linspace(-math.pi / 2, 1.5 * math.pi, 11)[:-1])], (255, 220, 40))


def _p_santa_hat(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    _santa_hat(pen, x0 + w / 2, y0 + 0.8 * h, w)


def _santa_hat(pen, cx, base_y, w):
    pen.polygon([(cx - w * 0.45, base_y), (cx + w * 0.1, base_y - w * 0.75), (cx + w * 0.45, base_y)], (210, 20, 30))
    pen.rounded((cx - w * 0.5, base_y - w * 0.12, cx + w * 0.5, base_y + w * 0.06), w * 0.08, (250, 250, 250))
    pen.ellipse((cx + w * 0.02, base_y - w * 0.84, cx + w * 0.2, base_y - w * 0.66), (250, 250, 250))


def _p_pumpkin(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    for fx in (0.0, 0.22, 0.12):
        pen.ellipse((x0 + fx * w, y0 + 0.18 * h, x0 + (fx + 0.78) * w, y1), (236, 120, 20))
    pen.rect((cx - 0.05 * w, y0, cx + 0.05 * w, y0 + 0.22 * h), (70, 110, 40))
    pen.polygon([(cx - 0.25 * w, y0 + 0.45 * h), (cx - 0.12 * w, y0 + 0.45 * h), (cx - 0.18 * w, y0 + 0.35 * h)], (60, 30, 10))
    pen.polygon([(cx + 0.12 * w, y0 + 0.45 * h), (cx + 0.25 * w, y0 + 0.45 * h), (cx + 0.18 * w, y0 + 0.35 * h)], (60, 30, 10))
    pen.chord((cx - 0.25 * w, y0 + 0.5 * h, cx + 0.25 * w, y0 + 0.8 * h), 0, 180, (60, 30, 10))


def _p_costume(pen, b, rng):
    """Standalone witch hat; on a person see :func:`_worn_costume`."""
    x0, y0, x1, y1, w, h = _dims(b)
    _witch_hat(pen, x0 + w / 2, y0 + 0.85 * h, w)


def _witch_hat(pen, cx, base_y, w):
    pen.ellipse((cx - w / 2, base_y - w * 0.08, cx + w / 2, base_y + w * 0.08), (40, 20, 60))
    pen.polygon([(cx - w * 0.25, base_y), (cx + w * 0.12, base_y - w * 0.85), (cx + w * 0.25, base_y)], (60, 30, 90))
    pen.rect((cx - w * 0.24, base_y - w * 0.12, cx + w * 0.24, base_y - w * 0.04), (240, 130, 20))


def _p_parade_float(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0 + 0.55 * h, x1, y1 - 0.08 * h), (230, 60, 140))
    pen.rect((x0, y0 + 0.55 * h, x1, y0 + 0.62 * h), (250, 210, 60))
    for fx in (0.1, 0.8):
        pen.ellipse((x0 + fx * w, y1 - 0.16 * h, x0 + (fx + 0.1) * w, y1), (30, 30, 30))
    pen.ellipse((x0 + 0.3 * w, y0, x0 + 0.7 * w, y0 + 0.6 * h), (250, 150, 40))
    for _ in range(10):
        x, y = rng.uniform(x0, x1), rng.uniform(y0 + 0.3 * h, y0 + 0.6 * h)
        r = 0.04 * w
        pen.ellipse((x - r, y - r, x + r, y + r), [(250, 250, 250), (80, 200, 250), (250, 90, 90)][int(rng.integers(3))])


def _p_drums(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for fx, fw in ((0.0, 0.55), (0.5, 0.5)):
        dx0, dx1 = x0 + fx * w, x0 + (fx + fw) * w
        pen.rect((dx0, y0 + 0.3 * h, dx1, y1 - 0.1 * h), (200, 40, 40))
        pen.ellipse((dx0, y1 - 0.2 * h, dx1, y1), (200, 40, 40))
        pen.ellipse((dx0, y0 + 0.2 * h, dx1, y0 + 0.4 * h), (240, 236, 220))
        for k in range(4):
            x = dx0 + (k + 0.5) * (dx1 - dx0) / 4
            pen.line((x, y0 + 0.38 * h, x + 0.05 * w, y1 - 0.12 * h), (240, 210, 90), 2)
    pen.line((x0 + 0.3 * w, y0 + 0.3 * h, x0 + 0.1 * w, y0), (200, 170, 120), max(2.0, 0.03 * w))
    pen.line((x0 + 0.7 * w, y0 + 0.3 * h, x0 + 0.9 * w, y0), (200, 170, 120), max(2.0, 0.03 * w))


def _p_painting(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0, x1, y1), (180, 140, 50))
    pen.rect((x0 + 0.07 * w, y0 + 0.08 * h, x1 - 0.07 * w, y1 - 0.08 * h), (110, 160, 200))
    pen.polygon([(x0 + 0.07 * w, y1 - 0.08 * h), (x0 + 0.4 * w, y0 + 0.4 * h), (x0 + 0.65 * w, y1 - 0.08 * h)], (70, 110, 60))
    pen.polygon([(x0 + 0.45 * w, y1 - 0.08 * h), (x0 + 0.7 * w, y0 + 0.5 * h), (x1 - 0.07 * w, y1 - 0.08 * h)], (90, 130, 70))
    pen.ellipse((x0 + 0.7 * w, y0 + 0.15 * h, x0 + 0.82 * w, y0 + 0.3 * h), (250, 220, 90))


def _p_sculpture(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    marble = (230, 228, 222)
    pen.rect((x0, y0 + 0.6 * h, x1, y1), (90, 86, 84))
    pen.ellipse((cx - 0.14 * w, y0, cx + 0.14 * w, y0 + 0.14 * h), marble)
    pen.polygon([(cx - 0.3 * w, y0 + 0.16 * h), (cx + 0.3 * w, y0 + 0.16 * h), (cx + 0.2 * w, y0 + 0.6 * h), (cx - 0.2 * w, y0 + 0.6 * h)], marble)
    pen.line((cx + 0.28 * w, y0 + 0.2 * h, cx + 0.45 * w, y0 + 0.05 * h), marble, max(2.0, 0.1 * w))


def _p_beach_umbrella(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    pen.line((cx, y0 + 0.2 * h, cx + 0.04 * w, y1), (240, 240, 240), max(2.0, 0.025 * w))
    n = 8
    for i in range(n):
        a0, a1 = 180 + i * 180 / n, 180 + (i + 1) * 180 / n
        pen.pieslice((x0, y0, x1, y0 + 0.5 * h), a0, a1, [(230, 40, 50), (250, 250, 250)][i % 2])


def _p_beach_ball(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    s = min(w, h)
    bb = (x0 + w / 2 - s / 2, y1 - s, x0 + w / 2 + s / 2, y1)
    for i, col in enumerate([(230, 40, 50), (250, 250, 250), (40, 110, 230), (250, 250, 250), (250, 210, 40), (250, 250, 250)]):
        pen.pieslice(bb, i * 60, (i + 1) * 60, col)
    c = (bb[0] + s / 2, bb[1] + s / 2)
    pen.ellipse((c[0] - s * 0.1, c[1] - s * 0.1, c[0] + s * 0.1, c[1] + s * 0.1), (250, 250, 250))


def _p_waves(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.rect((x0, y0 + 0.3 * h, x1, y1), (60, 140, 190))
    for row in range(3):
        yb = y0 + (0.3 + 0.22 * row) * h
        pts = [(x, yb - 0.12 * h * abs(math.sin(math.pi * (x - x0) / w * 5 + row))) for x in np.linspace(x0, x1, 50)]
        pen.line(pts, (240, 248, 252), max(2.0, 0.05 * h))


def _p_car(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    col = _jitter(rng, (200, 40, 40), 0.3)
    pen.rounded((x0, y0 + 0.4 * h, x1, y1 - 0.15 * h), 0.12 * h, col)
    pen.polygon([(x0 + 0.2 * w, y0 + 0.42 * h), (x0 + 0.32 * w, y0), (x0 + 0.68 * w, y0), (x0 + 0.82 * w, y0 + 0.42 * h)], col)
    pen.polygon([(x0 + 0.26 * w, y0 + 0.4 * h), (x0 + 0.35 * w, y0 + 0.08 * h), (x0 + 0.48 * w, y0 + 0.08 * h), (x0 + 0.48 * w, y0 + 0.4 * h)], (170, 210, 240))
    pen.polygon([(x0 + 0.52 * w, y0 + 0.4 * h), (x0 + 0.52 * w, y0 + 0.08 * h), (x0 + 0.65 * w, y0 + 0.08 * h), (x0 + 0.76 * w, y0 + 0.4 * h)], (170, 210, 240))
    for fx in (0.22, 0.78):
        cx = x0 + fx * w
        pen.ellipse((cx - 0.11 * w, y1 - 0.34 * h, cx + 0.11 * w, y1), (24, 24, 24))
        pen.ellipse((cx - 0.05 * w, y1 - 0.24 * h, cx + 0.05 * w, y1 - 0.1 * h), (180, 180, 186))


def _p_map(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for i in range(4):
        fx0, fx1 = x0 + i * w / 4, x0 + (i + 1) * w / 4
        dy = 0.05 * h * (1 if i % 2 else -1)
        pen.polygon([(fx0, y0 + dy), (fx1, y0 - dy), (fx1, y1 - dy), (fx0, y1 + dy)], [(236, 226, 190), (220, 210, 172)][i % 2])
    pen.ellipse((x0 + 0.2 * w, y0 + 0.2 * h, x0 + 0.5 * w, y0 + 0.6 * h), (150, 200, 140))
    pen.line((x0 + 0.1 * w, y1 - 0.2 * h, x0 + 0.5 * w, y0 + 0.5 * h, x1 - 0.15 * w, y0 + 0.3 * h), (210, 40, 40), max(2.0, 0.03 * h))


def _p_monument(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    stone = (200, 192, 176)
    pen.rect((x0, y1 - 0.1 * h, x1, y1), _shade(stone, 0.8))
    pen.rect((x0 + 0.15 * w, y1 - 0.2 * h, x1 - 0.15 * w, y1 - 0.1 * h), _shade(stone, 0.9))
    pen.polygon([(cx - 0.16 * w, y1 - 0.2 * h), (cx - 0.08 * w, y0 + 0.08 * h), (cx + 0.08 * w, y0 + 0.08 * h), (cx + 0.16 * w, y1 - 0.2 * h)], stone)
    pen.polygon([(cx - 0.08 * w, y0 + 0.08 * h), (cx, y0), (cx + 0.08 * w, y0 + 0.08 * h)], _shade(stone, 1.1))


def _p_selfie_stick(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.line((x0, y1, x1 - 0.1 * w, y0 + 0.15 * h), (30, 30, 34), max(2.0, 0.02 * h))
    pen.rounded((x1 - 0.2 * w, y0, x1, y0 + 0.3 * h), 3, (20, 20, 24))


def _p_coffee_cups(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    for i, col in enumerate(((246, 246, 246), (200, 90, 60))):
        cx0, cx1 = x0 + i * 0.5 * w + 0.06 * w, x0 + (i + 1) * 0.5 * w - 0.14 * w
        pen.ellipse((cx0 - 0.06 * w, y1 - 0.14 * h, cx1 + 0.06 * w, y1), (236, 236, 236))
        pen.rect((cx0, y0 + 0.25 * h, cx1, y1 - 0.08 * h), col)
        pen.ellipse((cx1 - 0.04 * w, y0 + 0.35 * h, cx1 + 0.12 * w, y0 + 0.7 * h), col)
        pen.ellipse((cx0, y0 + 0.15 * h, cx1, y0 + 0.35 * h), (110, 66, 36))


def _p_pastries(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    pen.ellipse((x0, y0 + 0.5 * h, x1, y1), (250, 250, 250))
    for i in range(3):
        cx = x0 + (0.25 + 0.25 * i) * w
        pen.chord((cx - 0.14 * w, y0, cx + 0.14 * w, y0 + 1.2 * h), 180, 360, (220, 160, 70))
        pen.line((cx - 0.08 * w, y0 + 0.25 * h, cx + 0.08 * w, y0 + 0.45 * h), (170, 110, 40), max(1.0, 0.02 * w))


def _p_sofa(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    col = _jitter(rng, (90, 110, 150), 0.25)
    pen.rounded((x0 + 0.08 * w, y0, x1 - 0.08 * w, y0 + 0.6 * h), 0.1 * h, _shade(col, 0.9))
    pen.rounded((x0, y0 + 0.3 * h, x0 + 0.12 * w, y1 - 0.1 * h), 0.06 * h, col)
    pen.rounded((x1 - 0.12 * w, y0 + 0.3 * h, x1, y1 - 0.1 * h), 0.06 * h, col)
    pen.rounded((x0 + 0.1 * w, y0 + 0.5 * h, x1 - 0.1 * w, y1 - 0.1 * h), 0.06 * h, _shade(col, 1.08))
    pen.rect((x0 + 0.05 * w, y1 - 0.1 * h, x0 + 0.08 * w, y1), (60, 40, 30))
    pen.rect((x1 - 0.08 * w, y1 - 0.1 * h, x1 - 0.05 * w, y1), (60, 40, 30))


def _p_park_bench(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    wood = (150, 96, 50)
    for k in range(2):
        y = y0 + k * 0.18 * h
        pen.rect((x0, y, x1, y + 0.12 * h), wood)
    pen.rect((x0 - 0.03 * w, y0 + 0.5 * h, x1 + 0.03 * w, y0 + 0.62 * h), wood)
    for fx in (0.08, 0.88):
        pen.rect((x0 + fx * w, y0, x0 + (fx + 0.04) * w, y1), (40, 40, 44))


def _p_trees(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    pen.rect((cx - 0.08 * w, y0 + 0.45 * h, cx + 0.08 * w, y1), (100, 70, 44))
    for dx, dy, r in ((0, 0.22, 0.36), (-0.22, 0.34, 0.28), (0.22, 0.34, 0.28)):
        pen.ellipse((cx + dx * w - r * w, y0 + dy * h - r * w, cx + dx * w + r * w, y0 + dy * h + r * w),
                    _jitter(rng, (50, 120, 50), 0.12))


def _p_street_lamps(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    cx = x0 + w / 2
    pen.rect((cx - 0.06 * w, y0 + 0.05 * h, cx + 0.06 * w, y1), (40, 44, 48))
    pen.rect((cx - 0.16 * w, y1 - 0.04 * h, cx + 0.16 * w, y1), (40, 44, 48))
    pen.ellipse((cx - 0.3 * w, y0 - 0.02 * h, cx + 0.3 * w, y0 + 0.1 * h), (255, 220, 140))
    pen.rect((cx - 0.34 * w, y0 - 0.04 * h, cx + 0.34 * w, y0), (40, 44, 48))


def _p_shop_signs(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    n = 3
    for i in range(n):
        sx0 = x0 + i * w / n + 0.05 * w / n
        sx1 = x0 + (i + 1) * w / n - 0.05 * w / n
        col = [(230, 40, 90), (40, 200, 230), (250, 200, 40)][(i + int(rng.integers(3))) % 3]
        pen.rounded((sx0, y0, sx1, y1), 0.15 * h, (30, 30, 34))
        pen.rounded((sx0 + 0.06 * (sx1 - sx0), y0 + 0.15 * h, sx1 - 0.06 * (sx1 - sx0), y1 - 0.15 * h), 0.1 * h, col)
        for k in range(3):
            lx = sx0 + (0.2 + 0.22 * k) * (sx1 - sx0)
            pen.rect((lx, y0 + 0.35 * h, lx + 0.12 * (sx1 - sx0), y1 - 0.35 * h), (250, 250, 240))


def _p_wedding_arch(pen, b, rng):
    x0, y0, x1, y1, w, h = _dims(b)
    t = 0.09 * w
    white = (248, 246, 240)
    pen.rect((x0, y0 + 0.3 * h, x0 + t, y1), white)
    pen.rect((x1 - t, y0 + 0.3 * h, x1, y1), white)
    pts_o = [(x0 + w / 2 + (w / 2) * math.cos(a), y0 + 0.3 * h - 0.3 * h * math.sin(a)) for a in np.linspace(0, math.pi, 20)]
    pts_i = [(x0 + w / 2 + (w / 2 - t) * math.cos(a), y0 + 0.3 * h - (0.3 * h - t) * math.sin(a)) for a in np.linspace(math.pi, 0, 20)]
    pen.polygon(pts_o + pts_i, white)
    for (px, py) in pts_o[::2] + [(x0 + t / 2, y0 + (0.35 + 0.1 * k) * h) for k in range(6)]:
        r = 0.045 * w
        pen.ellipse((px - r, py - r, px + r, py + r), [(250, 190, 210), (250, 250, 250), (240, 120, 150)][int(rng.integers(3))])


def _p_generic(pen, b, rng, name: str = ""):
    """Fallback for props without a dedicated drawing: a bright boxed object in a colour of its name."""
    x0, y0, x1, y1, w, h = _dims(b)
    g = np.random.default_rng(_stable(name))
    col = _rgb(g.uniform(60, 240, 3))
    pen.rounded((x0, y0 + 0.2 * h, x1, y1), 0.1 * min(w, h), col)
    pen.ellipse((x0 + 0.3 * w, y0, x1 - 0.3 * w, y0 + 0.4 * h), _mix(col, (255, 255, 255), 0.5))


@dataclass(frozen=True)
class Prop:
    """How a prop is drawn and placed.

    ``layer``: "back" (scene furniture behind the people), "top" (upper part of the frame, behind
    the people), "ground" (floor band behind the people), "front" (objects in front of the people,
    below their faces), "worn" (on a person's head), "held" (in a person's hand).
    ``size_cm``: (width, height) in the scene, converted with the shot's pixels per centimetre.
    """

    fn: PropFn
    layer: str
    size_cm: tuple[float, float]
    tabletop: bool = False  # stands on a table in front of the people
    span: bool = False  # a surface across the whole frame (tables): tabletop objects stand on it


PROPS: dict[str, Prop] = {
    "cake": Prop(_p_cake, "front", (34, 30), True),
    "candles": Prop(_p_candles, "front", (18, 20), True),
    "balloons": Prop(_p_balloons, "top", (110, 160)),
    "gifts": Prop(_p_gifts, "front", (46, 34)),
    "wedding arch": Prop(_p_wedding_arch, "back", (260, 270)),
    "flowers": Prop(_p_flowers, "front", (34, 46), True),
    "rings": Prop(_p_rings, "front", (14, 12), True),
    "roses": Prop(_p_roses, "front", (32, 46), True),
    "glasses": Prop(_p_glasses, "front", (22, 20), True),
    "cap and gown": Prop(_p_cap_and_gown, "worn", (30, 20)),
    "diploma": Prop(_p_diploma, "front", (34, 8), True),
    "podium": Prop(_p_podium, "back", (70, 115)),
    "dining table": Prop(_p_dining_table, "front", (220, 75), span=True),
    "plates": Prop(_p_plates, "front", (60, 10), True),
    "suitcase": Prop(_p_suitcase, "front", (45, 72)),
    "sun hat": Prop(_p_sun_hat, "worn", (46, 20)),
    "picnic basket": Prop(_p_picnic_basket, "front", (50, 38)),
    "checkered blanket": Prop(_p_checkered_blanket, "ground", (260, 60)),
    "backpack": Prop(_p_backpack, "front", (36, 48)),
    "trekking poles": Prop(_p_trekking_poles, "held", (30, 120)),
    "scoreboard": Prop(_p_scoreboard, "top", (320, 120)),
    "ball": Prop(_p_ball, "front", (24, 24)),
    "goalpost": Prop(_p_goalpost, "back", (500, 240)),
    "stage lights": Prop(_p_stage_lights, "top", (500, 200)),
    "microphone": Prop(_p_microphone, "back", (34, 160)),
    "guitar": Prop(_p_guitar, "back", (38, 100)),
    "string lights": Prop(_p_string_lights, "top", (500, 60)),
    "lamps": Prop(_p_lamps, "back", (50, 165)),
    "colour powder": Prop(_p_colour_powder, "top", (300, 120)),
    "idol": Prop(_p_idol, "back", (80, 150)),
    "banner": Prop(_p_banner, "top", (400, 40)),
    "whiteboard": Prop(_p_whiteboard, "back", (200, 120)),
    "laptop": Prop(_p_laptop, "front", (34, 24), True),
    "projector screen": Prop(_p_projector_screen, "back", (300, 190)),
    "trophy": Prop(_p_trophy, "front", (26, 44), True),
    "medal": Prop(_p_medal, "front", (12, 22), True),
    "keys": Prop(_p_keys, "front", (12, 10), True),
    "fireworks": Prop(_p_fireworks, "top", (500, 200)),
    "confetti": Prop(_p_confetti, "top", (400, 160)),
    "christmas tree": Prop(_p_christmas_tree, "back", (130, 210)),
    "santa hat": Prop(_p_santa_hat, "worn", (30, 28)),
    "pumpkin": Prop(_p_pumpkin, "front", (40, 34)),
    "costume": Prop(_p_costume, "worn", (36, 36)),
    "parade float": Prop(_p_parade_float, "back", (500, 300)),
    "drums": Prop(_p_drums, "front", (60, 55)),
    "painting": Prop(_p_painting, "back", (110, 80)),
    "sculpture": Prop(_p_sculpture, "back", (60, 170)),
    "beach umbrella": Prop(_p_beach_umbrella, "back", (200, 230)),
    "beach ball": Prop(_p_beach_ball, "front", (40, 40)),
    "waves": Prop(_p_waves, "ground", (600, 50)),
    "car": Prop(_p_car, "back", (420, 145)),
    "map": Prop(_p_map, "front", (60, 44), True),
    "monument": Prop(_p_monument, "back", (200, 420)),
    "selfie stick": Prop(_p_selfie_stick, "held", (60, 90)),
    "coffee cups": Prop(_p_coffee_cups, "front", (26, 12), True),
    "pastries": Prop(_p_pastries, "front", (30, 10), True),
    "sofa": Prop(_p_sofa, "back", (210, 90)),
    "park bench": Prop(_p_park_bench, "back", (170, 85)),
    "trees": Prop(_p_trees, "back", (300, 480)),
    "street lamps": Prop(_p_street_lamps, "back", (40, 420)),
    "shop signs": Prop(_p_shop_signs, "top", (360, 60)),
}

#: Back props that stand centred behind the people (others go to the sides).
CENTRE_PROPS = frozenset({"wedding arch", "projector screen", "whiteboard", "idol", "sofa", "goalpost",
                          "parade float", "monument", "painting"})

#: Objects usable as the hero of a detail close-up, in order of preference (S1.1.7: cake, ring, trophy).
CLOSE_UP_LAYERS = ("front", "worn", "held", "back", "top", "ground")


def prop_spec(name: str) -> Prop:
    """The drawing of a prop; unknown names get the generic fallback."""
    found = PROPS.get(name)
    if found is not None:
        return found
    return Prop(lambda pen, b, rng, _n=name: _p_generic(pen, b, rng, _n), "front", (40, 40))


# --------------------------------------------------------------------------------------------------
# people (S1.1.1 attributes, S1.1.4 identity)

BUILD_WIDTH = {"slender": 0.86, "medium": 1.0, "stocky": 1.24}


def face_cm(age: int) -> float:
    """Face box height in centimetres by age (children have smaller faces)."""
    if age < 4:
        return 15.5
    if age < 9:
        return 17.5
    if age < 14:
        return 19.0
    return FACE_CM


@dataclass
class _Figure:
    """Where one person of the shot stands (frame pixels)."""

    index: int  # position in shot.people
    person: PersonSpec
    cx: float  # face centre
    cy: float
    face_h: float  # pasted face box height, px
    flip: bool
    bright: float
    scale_jitter: float


@dataclass
class _Drawn:
    """What drawing a figure produced (for worn/held props and regions)."""

    face_box: Box
    hands: tuple[tuple[float, float], tuple[float, float]]
    head_top: float


@dataclass(frozen=True)
class _Plan:
    face_frac: float  # face box height / sqrt(W·H) for one person (intimate) or everyone
    face_y: float  # face centre of a 170 cm adult, fraction of H (medium/intimate)
    compress: float  # how much height differences move faces vertically (1 = true scale)
    feet_y: float | None = None  # wide shots: where feet stand, fraction of H


PLANS: dict[str, _Plan] = {
    "wide establishing": _Plan(0.085, 0.0, 1.0, feet_y=0.93),
    "medium group": _Plan(0.125, 0.34, 0.45),
    "intimate portrait": _Plan(0.27, 0.42, 0.2),
    "detail close-up": _Plan(0.2, 0.4, 0.3),
}
INTIMATE_FACE_FRAC = {1: 0.27, 2: 0.21}  # more people: 0.17


def _pants_colour(c: RGB) -> RGB:
    return _mix(c, (38, 42, 58), 0.72)


def _draw_figure(pen: _Pen, fig: _Figure, skin: RGB) -> tuple[float, float, float, float, float]:
    """Body (without head) of a figure; returns (chin_y, shoulder_y, hip_y, half shoulder, ppcm)."""
    p = fig.person
    ppcm = fig.face_h / face_cm(p.age)
    k = BUILD_WIDTH.get(p.build, 1.0)
    hc = float(p.height_cm)
    cx, chin = fig.cx, fig.cy + 0.5 * fig.face_h
    shoulder = chin + 0.035 * hc * ppcm
    hip = shoulder + 0.30 * hc * ppcm
    feet = fig.cy + (hc - 11.0) * ppcm
    sw = 0.125 * hc * ppcm * k
    hw = 0.095 * hc * ppcm * k
    cloth = _rgb(p.clothing_rgb)
    pants = _pants_colour(cloth)
    leg = 0.075 * hc * ppcm * k
    for side in (-1, 1):
        pen.polygon([(cx + side * 0.02 * hw, hip - 2), (cx + side * hw, hip - 2),
                     (cx + side * (0.55 * hw + 0.5 * leg), feet), (cx + side * (0.55 * hw - 0.5 * leg), feet)], pants)
        pen.ellipse((cx + side * 0.55 * hw - 0.6 * leg, feet - 0.25 * leg, cx + side * 0.55 * hw + 0.6 * leg, feet + 0.25 * leg),
                    (30, 28, 28))
    neck_w = 0.2 * fig.face_h
    pen.rect((cx - neck_w, chin - 0.25 * fig.face_h, cx + neck_w, shoulder + 0.1 * (hip - shoulder)), skin)
    pen.polygon([(cx - 0.85 * sw, shoulder), (cx + 0.85 * sw, shoulder), (cx + sw, shoulder + 0.18 * (hip - shoulder)),
                 (cx + hw, hip), (cx - hw, hip), (cx - sw, shoulder + 0.18 * (hip - shoulder))], cloth)
    r = 0.2 * sw
    for side in (-1, 1):
        pen.ellipse((cx + side * 0.85 * sw - r, shoulder, cx + side * 0.85 * sw + r, shoulder + 2 * r), cloth)
    pen.polygon([(cx - neck_w, shoulder - 1), (cx + neck_w, shoulder - 1), (cx, shoulder + 0.12 * (hip - shoulder))], skin)
    pen.polygon([(cx - hw * 0.9, hip - 0.25 * (hip - shoulder)), (cx - hw * 0.55, hip - 0.25 * (hip - shoulder)),
                 (cx - hw * 0.55, hip), (cx - hw, hip)], _shade(cloth, 0.85))
    return chin, shoulder, hip, sw, ppcm


def _draw_arms(pen: _Pen, fig: _Figure, skin: RGB, shoulder: float, hip: float, sw: float, ppcm: float
               ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Arms hanging down at the sides; returns the two hand positions."""
    p = fig.person
    k = BUILD_WIDTH.get(p.build, 1.0)
    hc = float(p.height_cm)
    arm_w = 0.05 * hc * ppcm * k
    cloth = _shade(_rgb(p.clothing_rgb), 0.93)
    hands = []
    for side in (-1, 1):
        sx, sy = fig.cx + side * 0.92 * sw, shoulder + 0.6 * arm_w
        hx, hy = fig.cx + side * (sw + 0.35 * arm_w), hip + 0.06 * hc * ppcm
        ex, ey = (sx + hx) / 2 + side * 0.25 * arm_w, (sy + hy) / 2
        pen.line([(sx, sy), (ex, ey), (hx, hy)], cloth, arm_w)
        r = 0.55 * arm_w
        pen.ellipse((hx - r, hy - r, hx + r, hy + 1.3 * r), skin)
        hands.append((hx, hy))
    return hands[0], hands[1]


def _front_box(spec: Prop, W: int, H: int, ppcm: float, floor: float, x: float, face_bottom: float,
               surface: float | None) -> Box:
    """Box of an object in front of the people: real size, but kept below every face and in frame."""
    R = math.sqrt(W * H)
    wc, hc = spec.size_cm
    top_limit = face_bottom + 0.02 * H  # objects never rise above the lowest chin
    if spec.span:
        y0 = min(max(floor - hc * ppcm, top_limit, 0.45 * H), 0.86 * H)
        return (-0.05 * W, y0, 1.05 * W, max(1.02 * H, y0 + 0.12 * H))
    w, h = wc * ppcm, hc * ppcm
    if max(w, h) < 0.09 * R:
        k = 0.09 * R / max(w, h)
        w, h = w * k, h * k
    k = min(1.0, 0.4 * W / w, 0.34 * H / h)
    w, h = w * k, h * k
    base = (floor - 75.0 * ppcm) if spec.tabletop else floor
    if spec.tabletop and surface is not None:
        base = surface
    base = max(min(base, 0.99 * H), top_limit + h)
    room = 1.04 * H - top_limit
    if h > room:
        k = max(room, 0.06 * R) / h
        w, h = w * k, h * k
        base = min(top_limit + h, 1.04 * H)
    return (x - w / 2, base - h, x + w / 2, base)


def _draw_hand(pen: _Pen, start: tuple[float, float], end: tuple[float, float], width: float,
               cloth: RGB, skin: RGB) -> None:
    """An arm reaching from ``start`` (outside the frame) to a hand at ``end`` (detail close-ups)."""
    dx, dy = end[0] - start[0], end[1] - start[1]
    n = max(math.hypot(dx, dy), 1e-6)
    ux, uy = dx / n, dy / n
    px, py = -uy, ux
    wrist = (end[0] - ux * 0.7 * width, end[1] - uy * 0.7 * width)
    pen.polygon([(start[0] + px * 0.65 * width, start[1] + py * 0.65 * width),
                 (start[0] - px * 0.65 * width, start[1] - py * 0.65 * width),
                 (wrist[0] - px * 0.5 * width, wrist[1] - py * 0.5 * width),
                 (wrist[0] + px * 0.5 * width, wrist[1] + py * 0.5 * width)], cloth)
    pen.line([wrist, (wrist[0] + ux * 0.25 * width, wrist[1] + uy * 0.25 * width)], _shade(cloth, 0.8), 1.05 * width)
    pen.ellipse((end[0] - 0.55 * width, end[1] - 0.5 * width, end[0] + 0.55 * width, end[1] + 0.5 * width), skin)
    for f in (-0.3, -0.1, 0.1, 0.3):
        fx = end[0] + ux * 0.5 * width + px * f * width
        fy = end[1] + uy * 0.5 * width + py * f * width
        pen.ellipse((fx - 0.13 * width, fy - 0.13 * width, fx + 0.13 * width, fy + 0.13 * width), skin)
    tx, ty = end[0] + px * 0.55 * width, end[1] + py * 0.55 * width
    pen.ellipse((tx - 0.16 * width, ty - 0.16 * width, tx + 0.16 * width, ty + 0.16 * width), skin)


# --------------------------------------------------------------------------------------------------
# the renderer


class ProceduralRenderer(Renderer):
    """CPU renderer: procedural scenes + real face photos from the face bank (see the module doc)."""

    name = "procedural"
    version = "1"

    def __init__(self, face_bank: FaceBank) -> None:
        self.bank = face_bank
        self._backdrops: OrderedDict[tuple, Image.Image] = OrderedDict()
        self._heads: dict[int, tuple[Image.Image, Image.Image, Image.Image]] = {}

    def describe(self) -> str:
        return (f"renderer: procedural (CPU; faces from packaged photos {', '.join(self.bank.sources)}: "
                f"{len(self.bank)} identities)")

    # ---- caches (per instance) -------------------------------------------------------------------

    def _backdrop(self, kind: str, tag: int, lighting: str, width: int, height: int, blurred: bool) -> Image.Image:
        key = (kind, tag, lighting, width, height, blurred)
        img = self._backdrops.get(key)
        if img is None:
            if blurred:
                img = self._backdrop(kind, tag, lighting, width, height, False).filter(
                    ImageFilter.GaussianBlur(radius=0.012 * (width + height)))
            else:
                img = paint_backdrop(kind, tag, lighting, width, height)
            self._backdrops[key] = img
            while len(self._backdrops) > BACKDROP_CACHE:
                self._backdrops.popitem(last=False)
        else:
            self._backdrops.move_to_end(key)
        return img

    def _head(self, key: int) -> tuple[Image.Image, Image.Image, Image.Image]:
        """(crop RGB, soft alpha L, hard alpha L) PIL images of a bank face."""
        head = self._heads.get(key)
        if head is None:
            alpha = Image.fromarray(np.ascontiguousarray(self.bank.alpha(key)))
            head = (Image.fromarray(np.ascontiguousarray(self.bank.crop(key))), alpha,
                    alpha.point(lambda v: 255 if v >= 128 else 0))
            self._heads[key] = head
        return head

    # ---- heads -----------------------------------------------------------------------------------

    def _paste_head(self, img: Image.Image, labels: Image.Image | None, key: int, cx: float, cy: float,
                    face_h: float, label: int, flip: bool, bright: float) -> Box:
        """Paste face ``key`` so its face box is centred at (cx, cy) with height face_h; returns the box."""
        crop, soft, hard = self._head(key)
        x0, y0, x1, y1 = self.bank.face_box(key)
        if flip:
            crop, soft, hard = ImageOps.mirror(crop), ImageOps.mirror(soft), ImageOps.mirror(hard)
            x0, x1 = crop.width - x1, crop.width - x0
        scale = face_h / (y1 - y0)
        side = max(4, int(round(crop.width * scale)))
        scale = side / crop.width
        ox = int(round(cx - (x0 + x1) / 2 * scale))
        oy = int(round(cy - (y0 + y1) / 2 * scale))
        head = crop.resize((side, side), Image.BILINEAR)
        if abs(bright - 1.0) > 1e-3:
            lut = [int(min(255, v * bright)) for v in range(256)] * 3
            head = head.point(lut)
        img.paste(head, (ox, oy), soft.resize((side, side), Image.BILINEAR))
        if labels is not None:
            labels.paste(label, (ox, oy, ox + side, oy + side), hard.resize((side, side), Image.NEAREST))
        return (ox + x0 * scale, oy + y0 * scale, ox + x1 * scale, oy + y1 * scale)

    # ---- layout ----------------------------------------------------------------------------------

    def _layout(self, shot: ShotSpec, rng: np.random.Generator, fg_shift: float) -> tuple[list[_Figure], float, float]:
        """Place the people: returns (figures in drawing order, px per cm of a 170 cm adult, floor y)."""
        W, H = shot.width, shot.height
        R = math.sqrt(W * H)
        plan = PLANS.get(shot.shot_plan, PLANS["medium group"])
        n = len(shot.people)
        frac = plan.face_frac
        if shot.shot_plan == "intimate portrait":
            frac = INTIMATE_FACE_FRAC.get(n, 0.17)
        f = frac * R
        f_min = MIN_FACE_FRACTION * R
        usable = 0.9 * W
        front = [i for i, p in enumerate(shot.people) if p.relation != "unknown"]
        back = [i for i, p in enumerate(shot.people) if p.relation == "unknown"]
        if front and usable / len(front) < 1.45 * f:
            f = max(f_min, usable / len(front) / 1.45)
        cap = max(1, int(usable // (1.45 * f)))
        if len(front) > cap:
            back = front[cap:] + back
            front = front[:cap]
        f_back = 0.85 * f
        cap_b = max(1, int(usable // (1.45 * f_back)))
        if len(back) > cap_b:
            shrink = cap_b / len(back)
            f, f_back = f * max(shrink, 0.75), f_back * max(shrink, 0.75)
        if not front and back:
            front, back = back, []
        ppcm = f / FACE_CM
        if plan.feet_y is not None:
            floor = plan.feet_y * H
            ref_y = floor - (170.0 - 11.0) * ppcm
        else:
            ref_y = plan.face_y * H
            floor = ref_y + (170.0 - 11.0) * ppcm
        figs: list[_Figure] = []
        front_y = self._place_row(shot, rng, front, f, ref_y, plan.compress, ppcm, 0.0, fg_shift, figs)
        if back:
            top = min(front_y) if front_y else ref_y
            back_ref = top - 1.25 * f
            back_figs: list[_Figure] = []
            self._place_row(shot, rng, back, f_back, back_ref, plan.compress, ppcm * 0.85, 0.5, fg_shift, back_figs)
            figs = back_figs + figs
        return figs, ppcm, floor

    def _place_row(self, shot, rng, members, f, ref_y, compress, ppcm, offset, fg_shift, out) -> list[float]:
        """Spread ``members`` across the width at face height ``f``; returns their face y."""
        W, H = shot.width, shot.height
        n = len(members)
        if n == 0:
            return []
        slot = min(0.9 * W / n, 2.6 * f)
        order = rng.permutation(n)
        ys = []
        for pos, j in enumerate(order):
            i = members[j]
            p = shot.people[i]
            fj = f * face_cm(p.age) / FACE_CM * rng.uniform(0.95, 1.05)
            x = W / 2 + (pos - (n - 1) / 2 + offset) * slot + rng.uniform(-0.08, 0.08) * slot - fg_shift
            y = ref_y - (float(p.height_cm) - 170.0) * ppcm * compress
            y = min(max(y, 0.75 * fj + 2), H - 0.6 * fj)
            out.append(_Figure(index=i, person=p, cx=x, cy=y, face_h=fj, flip=bool(rng.random() < 0.3),
                               bright=float(rng.uniform(0.9, 1.1)), scale_jitter=1.0))
            ys.append(y)
        return ys

    # ---- drawing ---------------------------------------------------------------------------------

    def _draw_people(self, img, labels, pen: _Pen, figs: list[_Figure]) -> dict[int, _Drawn]:
        drawn: dict[int, _Drawn] = {}
        for fig in figs:
            label = LABEL_PERSON0 + fig.index
            pen.label = label
            skin = self.bank.skin_rgb(fig.person.face_key)
            chin, shoulder, hip, sw, ppcm = _draw_figure(pen, fig, skin)
            hands = _draw_arms(pen, fig, skin, shoulder, hip, sw, ppcm)
            box = self._paste_head(img, labels, fig.person.face_key, fig.cx, fig.cy, fig.face_h, label, fig.flip, fig.bright)
            drawn[fig.index] = _Drawn(face_box=box, hands=hands, head_top=fig.cy - 0.8 * fig.face_h)
        return drawn

    def _prop_box(self, spec: Prop, shot: ShotSpec, rng, ppcm: float, floor: float, slot_x: float,
                  face_bottom: float, surface: float | None = None) -> Box:
        """Where a (non-worn) prop goes, in frame pixels."""
        W, H = shot.width, shot.height
        wc, hc = spec.size_cm
        if spec.layer == "top":
            w = min(0.9 * W, max(0.35 * W, wc * ppcm))
            h = min(0.45 * H, max(0.12 * H, hc * ppcm), w * hc / wc * 1.6)
            y0 = rng.uniform(0.01, 0.05) * H
            return (slot_x - w / 2, y0, slot_x + w / 2, y0 + h)
        if spec.layer == "ground":
            h = max(0.1 * H, hc * ppcm)
            y1 = min(floor + 0.5 * h, H + 0.3 * h)
            y1 = max(y1, 0.85 * H)
            return (-0.05 * W, y1 - h, 1.05 * W, y1)
        if spec.layer == "front":
            return _front_box(spec, W, H, ppcm, floor, slot_x, face_bottom, surface)
        s = min(ppcm, 0.88 * H / hc, 0.55 * W / wc)
        w, h = wc * s, hc * s
        minimum = 0.09 * math.sqrt(W * H)
        if max(w, h) < minimum:
            k = minimum / max(w, h)
            w, h = w * k, h * k
        base = min(floor, 0.98 * H)
        return (slot_x - w / 2, base - h, slot_x + w / 2, base)

    def _draw_props(self, pen: _Pen, shot: ShotSpec, rng, ppcm, floor, figs, drawn, layers, slots) -> None:
        """Draw the props of ``layers`` at their slots; tabletop objects stand on a drawn table."""
        pen.label = LABEL_EVENT
        face_bottom = max((d.face_box[3] for d in drawn.values()), default=0.0)
        surface = None
        for name, spec, x in slots:
            if spec.layer not in layers:
                continue
            if spec.layer == "worn":
                self._draw_worn(pen, name, spec, shot, rng, figs, drawn, x, face_bottom, ppcm, floor)
            elif spec.layer == "held":
                self._draw_held(pen, name, spec, shot, rng, figs, drawn, x, ppcm, floor, face_bottom)
            else:
                box = self._prop_box(spec, shot, rng, ppcm, floor, x, face_bottom, surface)
                spec.fn(pen, box, rng)
                if spec.span:
                    surface = box[1] + 0.12 * (box[3] - box[1])

    def _draw_worn(self, pen, name, spec, shot, rng, figs, drawn, x, face_bottom, ppcm, floor) -> None:
        wearers = [f for f in figs if f.person.relation != "unknown"] or figs
        if not wearers:
            spec.fn(pen, self._prop_box(Prop(spec.fn, "front", spec.size_cm), shot, rng, ppcm, floor, x, face_bottom), rng)
            return
        fig = wearers[int(rng.integers(len(wearers)))]
        box = drawn[fig.index].face_box
        fw = box[2] - box[0]
        cx, top = (box[0] + box[2]) / 2, box[1] - 0.02 * fw
        if name == "cap and gown":
            _mortarboard(pen, cx, top - 0.22 * fw, 1.5 * fw)
        elif name == "santa hat":
            _santa_hat(pen, cx, top, 1.3 * fw)
        elif name == "sun hat":
            _sun_hat(pen, cx, top, 2.0 * fw)
        elif name == "costume":
            _witch_hat(pen, cx, top, 1.6 * fw)
        else:
            spec.fn(pen, (cx - 0.6 * fw, top - 0.8 * fw, cx + 0.6 * fw, top), rng)

    def _draw_held(self, pen, name, spec, shot, rng, figs, drawn, x, ppcm, floor, face_bottom) -> None:
        holders = [f for f in figs if f.person.relation != "unknown"] or figs
        if not holders:
            spec.fn(pen, self._prop_box(Prop(spec.fn, "back", spec.size_cm), shot, rng, ppcm, floor, x, face_bottom), rng)
            return
        fig = holders[int(rng.integers(len(holders)))]
        d = drawn[fig.index]
        hx, hy = d.hands[1]
        fw = d.face_box[2] - d.face_box[0]
        if name == "selfie stick":
            spec.fn(pen, (hx, d.head_top - 0.6 * fw, hx + 1.3 * fw, hy), rng)
        else:
            w = 0.8 * fw
            spec.fn(pen, (hx - w / 2, hy - 0.1 * fw, hx + w / 2, min(floor, shot.height * 1.2)), rng)

    def _prop_slots(self, shot: ShotSpec, rng, names: tuple[str, ...]) -> list[tuple[str, Prop, float]]:
        """x centre of every prop: back props alternate sides, front objects spread across the bottom."""
        W = shot.width
        out = []
        sides = [0.16, 0.84] if rng.random() < 0.5 else [0.84, 0.16]
        n_front = sum(1 for nm in names if prop_spec(nm).layer == "front")
        k_back = k_front = 0
        centre_used = False
        for name in names:
            spec = prop_spec(name)
            if spec.layer == "back":
                if name in CENTRE_PROPS and not centre_used:
                    x, centre_used = 0.5 * W, True
                else:
                    x, k_back = sides[k_back % 2] * W, k_back + 1
            elif spec.layer == "front":
                x = (0.5 + (k_front - (n_front - 1) / 2) * min(0.3, 0.8 / max(n_front, 1))) * W
                x += rng.uniform(-0.03, 0.03) * W
                k_front += 1
            else:
                x = 0.5 * W + rng.uniform(-0.1, 0.1) * W
            out.append((name, spec, x))
        return out

    # ---- finishing (lighting, exposure, blur) ----------------------------------------------------

    @staticmethod
    def _finish(img: Image.Image, lighting: str, exposure_ev: float, blur_sigma: float) -> Image.Image:
        """Lighting tint × exposure gain/gamma in one LUT, then Gaussian blur (S1.1.6 heuristics)."""
        tint = LIGHT_TINT.get(lighting, (1.0, 1.0, 1.0))
        gain = 2.0 ** float(exposure_ev)
        gamma = 1.0 / (1.0 + 0.08 * float(exposure_ev))
        v = np.arange(256, dtype=np.float64) / 255.0
        lut: list[int] = []
        for t in tint:
            lut += list(np.clip(255.0 * np.clip(v * t * gain, 0, 1) ** gamma + 0.5, 0, 255).astype(np.int64))
        img = img.point(lut)
        if blur_sigma > 0:
            img = img.filter(ImageFilter.GaussianBlur(radius=float(blur_sigma)))
        return img

    # ---- regions ---------------------------------------------------------------------------------

    @staticmethod
    def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows) == 0:
            return (0, 0, 0, 0)
        return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)

    def _regions(self, lab: np.ndarray, shot: ShotSpec, drawn: dict[int, _Drawn]) -> list[Region]:
        H, W = lab.shape
        regions = []
        for i, p in enumerate(shot.people):
            mask = lab == LABEL_PERSON0 + i
            face = None
            d = drawn.get(i)
            if d is not None:
                fb = (max(0, int(math.floor(d.face_box[0]))), max(0, int(math.floor(d.face_box[1]))),
                      min(W, int(math.ceil(d.face_box[2]))), min(H, int(math.ceil(d.face_box[3]))))
                full = max(1.0, (d.face_box[2] - d.face_box[0]) * (d.face_box[3] - d.face_box[1]))
                if fb[2] > fb[0] and fb[3] > fb[1]:
                    seen = float(mask[fb[1]:fb[3], fb[0]:fb[2]].sum())
                    if seen >= FACE_VISIBLE * full:
                        face = fb
            regions.append(Region(tag_id=p.tag_id, kind="P", box=self._mask_box(mask), mask=mask, face_box=face))
        ev = lab == LABEL_EVENT
        regions.append(Region(tag_id=shot.event_tag, kind="E", box=self._mask_box(ev), mask=ev))
        loc = lab == LABEL_BACKGROUND
        regions.append(Region(tag_id=shot.location_tag, kind="L", box=self._mask_box(loc), mask=loc))
        return regions

    # ---- public API ------------------------------------------------------------------------------

    def render(self, shot: ShotSpec) -> Rendered:
        """Draw one still or video frame (see the module doc for what is drawn where)."""
        if len(shot.people) > 255 - LABEL_PERSON0:
            raise ValueError("the procedural renderer draws at most 253 people per shot")
        rng = np.random.default_rng(shot.seed)
        W, H = shot.width, shot.height
        pan = min(max(float(shot.pan), 0.0), 1.0)
        close_up = shot.shot_plan == "detail close-up"
        bg_extra = int(math.ceil(PAN_BACKGROUND * W))
        backdrop = self._backdrop(shot.location_kind, shot.location_tag, shot.lighting, W + bg_extra, H, close_up)
        bx = int(round(pan * PAN_BACKGROUND * W))
        img = backdrop.crop((bx, 0, bx + W, H))
        labels = Image.new("L", (W, H), LABEL_BACKGROUND)
        pen = _Pen(img, labels)
        fg_shift = pan * PAN_FOREGROUND * W
        event = EVENT_BY_NAME.get(shot.event_type)
        props = event.props if event is not None else (shot.event_type,)
        if close_up:
            drawn = self._draw_close_up(pen, shot, rng, props, fg_shift)
        else:
            drawn = self._draw_scene(img, labels, pen, shot, rng, props, fg_shift)
        out = self._finish(img, shot.lighting, shot.exposure_ev, shot.blur_sigma)
        regions = self._regions(np.asarray(labels), shot, drawn)
        return Rendered(image=np.array(out), regions=regions)

    def _draw_scene(self, img, labels, pen, shot, rng, props, fg_shift) -> dict[int, _Drawn]:
        figs, ppcm, floor = self._layout(shot, rng, fg_shift)
        slots = [(n, s, x - fg_shift) for n, s, x in self._prop_slots(shot, rng, props)]
        face_bottom_guess = max((f.cy + 0.55 * f.face_h for f in figs), default=0.0)
        fake = {f.index: _Drawn((f.cx - 0.4 * f.face_h, f.cy - 0.5 * f.face_h, f.cx + 0.4 * f.face_h, face_bottom_guess),
                                ((f.cx, f.cy), (f.cx, f.cy)), f.cy - f.face_h) for f in figs}
        self._draw_props(pen, shot, rng, ppcm, floor, figs, fake, ("top", "ground", "back"), slots)
        drawn = self._draw_people(img, labels, pen, figs)
        self._draw_props(pen, shot, rng, ppcm, floor, figs, drawn, ("worn", "held", "front"), slots)
        return drawn

    def _draw_close_up(self, pen: _Pen, shot: ShotSpec, rng, props, fg_shift) -> dict[int, _Drawn]:
        """Detail close-up (S1.1.7): one big hero prop on a surface, people only as hands reaching in."""
        W, H = shot.width, shot.height
        R = math.sqrt(W * H)
        hero = next((nm for layer in CLOSE_UP_LAYERS for nm in props if prop_spec(nm).layer == layer), props[0])
        pen.label = LABEL_BACKGROUND
        pen.rect((-10, 0.72 * H, W + 10, H + 10), (120, 90, 64))
        pen.rect((-10, 0.72 * H, W + 10, 0.74 * H), (150, 116, 84))
        spec = prop_spec(hero)
        wc, hc = spec.size_cm
        s = min(0.62 * W / wc, 0.62 * H / hc)
        w, h = wc * s, hc * s
        cx = 0.5 * W + rng.uniform(-0.06, 0.06) * W - fg_shift
        base = 0.86 * H
        pen.label = LABEL_EVENT
        spec.fn(pen, (cx - w / 2, base - h, cx + w / 2, base), rng)
        for i, p in enumerate(shot.people):
            pen.label = LABEL_PERSON0 + i
            side = -1 if i % 2 == 0 else 1
            hx = cx + side * (0.5 * w + 0.04 * R) + rng.uniform(-0.03, 0.03) * W
            hy = base - rng.uniform(0.1, 0.4) * h
            arm_w = 0.075 * R
            start = (hx + side * 0.3 * W, H + 0.15 * H)
            _draw_hand(pen, start, (hx, hy), arm_w, _rgb(p.clothing_rgb), self.bank.skin_rgb(p.face_key))
        return {}

    def render_anchor(self, person: PersonSpec, k: int, seed: int, size: int) -> np.ndarray:
        """The k-th enrolment portrait of a person: plain backdrop, frontal face, head and shoulders.

        (size, size, 3) uint8 RGB. The three anchors (k = 0, 1, 2) differ slightly in backdrop,
        framing and brightness (S1.1.4: 1–3 reference portraits per person).
        """
        rng = np.random.default_rng([abs(int(seed)), int(k), int(person.face_key), 0xA7C4])
        backdrops = (((200, 206, 214), (150, 158, 170)), ((214, 204, 190), (170, 156, 140)), ((186, 204, 200), (130, 150, 150)))
        top, bottom = backdrops[k % 3]
        img = Image.fromarray(np.ascontiguousarray(_vgradient(size, size, _jitter(rng, top, 0.04),
                                                              _jitter(rng, bottom, 0.04))).astype(np.uint8))
        pen = _Pen(img, None)
        f = size * 0.36 * (1.0 + 0.04 * (k % 3 - 1)) * rng.uniform(0.98, 1.02)
        fig = _Figure(index=0, person=person, cx=size * (0.5 + rng.uniform(-0.03, 0.03)), cy=size * 0.42, face_h=f,
                      flip=False, bright=1.0 + 0.04 * (k % 3 - 1), scale_jitter=1.0)
        skin = self.bank.skin_rgb(person.face_key)
        _, shoulder, hip, sw, ppcm = _draw_figure(pen, fig, skin)
        _draw_arms(pen, fig, skin, shoulder, hip, sw, ppcm)
        self._paste_head(img, None, person.face_key, fig.cx, fig.cy, f, 0, False, fig.bright)
        return np.array(img)
