"""Landmark silhouettes of the procedural renderer (S1.1.7 visual anchors of ``landmark`` locations).

A ``landmark`` location is drawn as a big distinctive silhouette (arch, fort walls, colosseum,
lattice tower, dome and minarets, suspension bridge, sail shells, harbour gate) over the landmark
backdrop's sky and paved ground. The silhouette is the landmark NAMED by the shot's
``location_name`` (one of :data:`~memoire_cli.synth.ontology.LANDMARKS`, matched without regard to
case or surrounding spaces); only when the name is not a known landmark does the tag choose it,
``LANDMARKS[location_tag % 8]``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import ImageDraw

from memoire_cli.synth.ontology import LANDMARKS
from memoire_cli.synth.render.procedural.pen import shade

#: A silhouette painter: (draw, width, height, horizon y, rng), in backdrop reference pixels.
LandmarkPainter = Callable[[ImageDraw.ImageDraw, int, int, float, np.random.Generator], None]


def _lm_arc(d, w, h, hy, rng):  # Arc de Triomphe
    c, s = (214, 200, 170), 0.62 * h
    x0 = 0.5 * w - 0.45 * s
    d.rectangle((x0, hy - s, x0 + 0.9 * s, hy), fill=c)
    d.rectangle((x0 - 8, hy - s, x0 + 0.9 * s + 8, hy - 0.9 * s), fill=shade(c, 0.9))
    ax0, ax1 = x0 + 0.28 * s, x0 + 0.62 * s
    d.rectangle((ax0, hy - 0.45 * s, ax1, hy), fill=(110, 130, 160))
    d.pieslice((ax0, hy - 0.62 * s, ax1, hy - 0.28 * s), 180, 360, fill=(110, 130, 160))
    for fx in (x0 + 0.06 * s, x0 + 0.7 * s):
        d.rectangle((fx, hy - 0.75 * s, fx + 0.14 * s, hy - 0.55 * s), fill=shade(c, 0.82))


def _lm_fort(d, w, h, hy, rng):  # Red Fort
    c = (178, 70, 52)
    top = hy - 0.32 * h
    d.rectangle((0, top, w, hy), fill=c)
    for x in np.arange(0, w, 22):
        d.rectangle((x, top - 12, x + 12, top), fill=c)
    gx = 0.5 * w
    d.rectangle((gx - 0.12 * w, top - 0.16 * h, gx + 0.12 * w, hy), fill=shade(c, 1.05))
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
    for _i, (x, s) in enumerate(((0.2, 0.26), (0.34, 0.34), (0.5, 0.3), (0.63, 0.24), (0.74, 0.2))):
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
        d.ellipse((tx - 20, hy - 0.58 * h, tx + 20, hy - 0.48 * h), fill=shade(c, 1.05))
    d.rectangle((cx - 0.26 * w, hy - 0.44 * h, cx + 0.26 * w, hy - 0.42 * h), fill=shade(c, 0.8))
    d.rectangle((0, hy - 0.02 * h, w, hy + 0.03 * h), fill=(60, 110, 140))


#: The silhouette of each landmark, by its name in ontology.LANDMARKS (same order).
LANDMARK_PAINTERS: dict[str, LandmarkPainter] = {
    "Arc de Triomphe": _lm_arc, "Red Fort": _lm_fort, "Colosseum": _lm_colosseum, "Eiffel Tower": _lm_eiffel,
    "Taj Mahal": _lm_taj, "Golden Gate Bridge": _lm_bridge, "Sydney Opera House": _lm_opera,
    "Gateway of India": _lm_gateway,
}
assert list(LANDMARK_PAINTERS) == [name for name, _ in LANDMARKS]

_INDEX_BY_NAME = {name.strip().casefold(): i for i, (name, _) in enumerate(LANDMARKS)}


def landmark_index(location_name: str, location_tag: int) -> int:
    """Index into LANDMARKS of the landmark a ``landmark`` location shows (S1.1.7).

    The landmark named by ``location_name`` (case and surrounding spaces ignored); when the name is
    not a known landmark, ``location_tag % len(LANDMARKS)``.
    """
    found = _INDEX_BY_NAME.get(location_name.strip().casefold())
    return found if found is not None else location_tag % len(LANDMARKS)


def landmark_name(location_name: str, location_tag: int) -> str:
    """The landmark drawn for a ``landmark`` location: its name in LANDMARKS (see :func:`landmark_index`)."""
    return LANDMARKS[landmark_index(location_name, location_tag)][0]


def paint_landmark(d, w, h, hy, rng, light, *, location_name: str, location_tag: int) -> None:
    """Backdrop painter of the ``landmark`` kind: the named landmark's silhouette, then paving lines."""
    LANDMARK_PAINTERS[landmark_name(location_name, location_tag)](d, w, h, hy, rng)
    for i in range(int(w // 50) + 1):
        d.line((i * 50, hy, i * 50 - 60, h), fill=(176, 166, 150), width=2)
