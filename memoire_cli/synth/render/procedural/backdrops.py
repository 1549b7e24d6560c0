"""Backdrops of the procedural renderer: one scene per location kind, and the lighting (S1.1.7).

* **location** (S1.1.7): a backdrop per location kind (sky/ground or wall/floor gradients and
  furniture shapes in a palette per kind; landmarks as a big distinctive silhouette, see
  :mod:`~memoire_cli.synth.render.procedural.landmarks`: the landmark named by the shot's
  ``location_name``). The same ``location_tag`` always gets the same variant (palette jitter,
  furniture placement). Backdrops are painted at :data:`BACKDROP_REFERENCE_HEIGHT` and resized, so a
  location looks the same at every output size; the renderer caches them per (kind, tag, landmark,
  lighting, size) inside the instance (bounded).
* **lighting** (S1.1.7 daylight / golden hour / tungsten indoor): sky colours of the backdrop
  (:data:`SKY`) and a per-channel tint (:data:`LIGHT_TINT`) that the renderer applies with one
  lookup table, together with the exposure error.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from memoire_cli.synth.render.procedural.landmarks import paint_landmark
from memoire_cli.synth.render.procedural.pen import RGB, jitter, stable_hash, vgradient

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
    d.rectangle((fx + 4, 0.18 * h + 4, fx + 0.08 * w - 4, 0.3 * h - 4), fill=jitter(rng, (120, 150, 170), 0.3))
    sy = 0.44 * h
    sx = rng.uniform(0.05, 0.7) * w
    d.rectangle((sx, sy, sx + 0.2 * w, sy + 6), fill=(110, 80, 50))
    x = sx + 4
    while x < sx + 0.19 * w:
        bw = rng.uniform(4, 9)
        d.rectangle((x, sy - rng.uniform(14, 24), x + bw, sy), fill=jitter(rng, (150, 80, 60), 0.4))
        x += bw + 1
    d.rectangle((0, hy - 5, w, hy + 3), fill=(236, 230, 220))
    d.ellipse((0.2 * w, hy + 0.08 * h, 0.8 * w, hy + 0.3 * h), fill=jitter(rng, (150, 60, 60), 0.25))


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
        d.rectangle((x, 0, x + 44, hy), fill=jitter(rng, (150, 100, 66), 0.06))
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
        d.ellipse((x - s, hy - s * 2.6, x + s, hy - s * 0.7), fill=jitter(rng, colour, 0.15))


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
    for _ in range(3):
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
    d.rectangle((px + 5, 0.3 * h + 5, px + 0.12 * w - 5, 0.42 * h - 5), fill=jitter(rng, (90, 120, 80), 0.4))


def _bg_cafe(d, w, h, hy, rng, light):
    bh = 0.035 * h
    for r in range(int(hy // bh) + 1):
        off = (r % 2) * 0.04 * w
        y = r * bh
        for c in range(-1, int(w / (0.08 * w)) + 1):
            x = c * 0.08 * w + off
            d.rectangle((x + 1, y + 1, x + 0.08 * w - 1, y + bh - 1), fill=jitter(rng, (170, 92, 64), 0.08))
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
        d.rectangle((wx - 22, 0.16 * h, wx + 22, 0.42 * h), fill=jitter(rng, (80, 120, 190), 0.3))
        d.pieslice((wx - 22, 0.16 * h - 22, wx + 22, 0.16 * h + 22), 180, 360, fill=jitter(rng, (190, 70, 60), 0.3))
    d.polygon([(0.42 * w, hy), (0.58 * w, hy), (0.75 * w, h), (0.25 * w, h)], fill=(150, 36, 40))


def _bg_stadium(d, w, h, hy, rng, light):
    tiers = 5
    for t in range(tiers):
        y0 = 0.08 * h + t * (hy - 0.08 * h) / tiers
        y1 = y0 + (hy - 0.08 * h) / tiers - 2
        d.rectangle((0, y0, w, y1), fill=jitter(rng, (70, 80, 110), 0.12))
        for _ in range(int(w // 5)):
            x = rng.uniform(0, w)
            y = rng.uniform(y0 + 2, y1 - 4)
            c = jitter(rng, [(200, 60, 60), (240, 240, 240), (60, 90, 200), (240, 200, 60), (200, 160, 130)]
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
        d.rectangle((x, y, x + fw, y + fh), fill=jitter(rng, (110, 130, 150), 0.4))
        d.ellipse((x + fw * 0.3, y + fh * 0.3, x + fw * 0.6, y + fh * 0.6), fill=jitter(rng, (200, 160, 90), 0.3))
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
        d.ellipse((px - 34, hy - 0.3 * h, px + 34, hy - 0.08 * h), fill=jitter(rng, (60, 120, 60), 0.15))
    dx = rng.uniform(0.2, 0.6) * w
    d.rectangle((dx, hy - 0.16 * h, dx + 0.3 * w, hy), fill=(120, 80, 50))
    d.rectangle((dx - 6, hy - 0.17 * h, dx + 0.3 * w + 6, hy - 0.15 * h), fill=(220, 210, 190))


def _bg_street(d, w, h, hy, rng, light):
    night = light == "tungsten indoor"
    x = -rng.uniform(0, 40)
    while x < w:
        bw = rng.uniform(0.12, 0.22) * w
        bh = rng.uniform(0.3, 0.55) * h
        col = jitter(rng, (170, 150, 130), 0.2)
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


PAINTERS: dict[str, Painter] = {
    "home": _bg_home, "office": _bg_office, "school": _bg_school, "university": _bg_university,
    "park": _bg_park, "garden": _bg_garden, "beach": _bg_beach, "mountain": _bg_mountain,
    "highway": _bg_highway, "restaurant": _bg_restaurant, "cafe": _bg_cafe, "banquet hall": _bg_banquet,
    "place of worship": _bg_worship, "stadium": _bg_stadium, "concert hall": _bg_concert,
    "conference hall": _bg_conference, "museum": _bg_museum, "hotel": _bg_hotel, "city street": _bg_street,
}


def lighting_changes_backdrop(kind: str) -> bool:
    """Outdoor skies (and the home window) follow the lighting; other indoor backdrops only get the tint."""
    return kind == "home" or not BACKDROPS.get(kind, _DEFAULT_BACKDROP).indoor


def defocus(img: Image.Image) -> Image.Image:
    """A strong background blur, cheaply: Gaussian blur at quarter size, then back up."""
    w, h = img.size
    small = img.resize((max(1, w // 4), max(1, h // 4)), Image.Resampling.BILINEAR)
    small = small.filter(ImageFilter.GaussianBlur(radius=0.003 * (w + h)))
    return small.resize((w, h), Image.Resampling.BILINEAR)


#: Backdrops are painted at this height (their shape constants are in these pixels), then resized.
BACKDROP_REFERENCE_HEIGHT = 512


def paint_backdrop(kind: str, location_tag: int, location_name: str, lighting: str, width: int,
                   height: int) -> Image.Image:
    """The backdrop of a location (RGB image, width × height), deterministic in its arguments.

    Painted at :data:`BACKDROP_REFERENCE_HEIGHT` (width scaled alike) and resized, so a location
    looks the same at every output size; a little pixel noise is added at the output size.
    ``location_name`` matters only for ``landmark``: it names the silhouette drawn (see
    :func:`~memoire_cli.synth.render.procedural.landmarks.landmark_index`).
    """
    spec = BACKDROPS.get(kind, _DEFAULT_BACKDROP)
    rng = np.random.default_rng([location_tag & 0xFFFFFFFF, stable_hash(kind)])
    ph = BACKDROP_REFERENCE_HEIGHT
    pw = max(1, int(round(width * ph / height)))
    hy = int(round(spec.horizon * ph * rng.uniform(0.96, 1.04)))
    if spec.indoor:
        top, bottom = (jitter(rng, c, 0.1) for c in spec.upper)
    else:
        top, bottom = SKY.get(lighting, SKY["daylight"])
    lower = [jitter(rng, c, 0.08) for c in spec.lower]
    arr = np.empty((ph, pw, 3), np.float32)
    arr[:hy] = vgradient(pw, hy, top, bottom)
    arr[hy:] = vgradient(pw, ph - hy, lower[0], lower[1])
    img = Image.fromarray(arr.astype(np.uint8))
    d = ImageDraw.Draw(img)
    if kind == "landmark":
        paint_landmark(d, pw, ph, hy, rng, lighting, location_name=location_name, location_tag=location_tag)
    else:
        PAINTERS.get(kind, _bg_home if spec.indoor else _bg_park)(d, pw, ph, hy, rng, lighting)
    if (pw, ph) != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    noise = rng.integers(-4, 5, size=(height, width, 1), dtype=np.int16)
    return Image.fromarray(np.clip(np.asarray(img, np.int16) + noise, 0, 255).astype(np.uint8))

