"""The drawing pen of the procedural renderer: colour helpers, gradients, and shapes drawn twice.

Ground truth (hidden, for ``memoire eval``): a label map is drawn alongside every shape (PIL, same
calls), so masks cost one comparison each. :class:`Pen` draws each shape in colour on the image and
as its current ``label`` on the label map (mode "L"): :data:`LABEL_BACKGROUND` for the location,
:data:`LABEL_EVENT` for props, ``LABEL_PERSON0 + i`` for person i of the shot.
"""

from __future__ import annotations

import zlib

import numpy as np
from PIL import Image, ImageDraw

Box = tuple[float, float, float, float]
RGB = tuple[int, int, int]

LABEL_BACKGROUND = 0
LABEL_EVENT = 1
LABEL_PERSON0 = 2  # person i of the shot has label LABEL_PERSON0 + i


def stable_hash(text: str) -> int:
    """A process-independent hash of a string (Python's hash() is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def to_rgb(c) -> RGB:
    return (min(255, max(0, int(c[0]))), min(255, max(0, int(c[1]))), min(255, max(0, int(c[2]))))


def shade(c, k: float) -> RGB:
    return to_rgb((c[0] * k, c[1] * k, c[2] * k))


def mix(a, b, t: float) -> RGB:
    return to_rgb(tuple(a[i] * (1 - t) + b[i] * t for i in range(3)))


def jitter(rng: np.random.Generator, c, amount: float = 0.08) -> RGB:
    return to_rgb(np.asarray(c, dtype=float) * rng.uniform(1 - amount, 1 + amount, 3))


def vgradient(width: int, height: int, top, bottom) -> np.ndarray:
    """(height, width, 3) float32 vertical gradient from ``top`` to ``bottom``."""
    t = np.linspace(0.0, 1.0, max(height, 1), dtype=np.float32)[:, None]
    col = np.asarray(top, np.float32)[None, :] * (1 - t) + np.asarray(bottom, np.float32)[None, :] * t
    return np.broadcast_to(col[:, None, :], (height, width, 3))


def box_dims(b: Box) -> tuple[float, float, float, float, float, float]:
    """(x0, y0, x1, y1, width, height) of a box."""
    x0, y0, x1, y1 = b
    return x0, y0, x1, y1, x1 - x0, y1 - y0


class Pen:
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
