"""People of the procedural renderer: figures, pasted face photos, hands (S1.1.1 attributes, S1.1.4 identity).

* **people** (S1.1.4 identity, S1.1.1 physical attributes): figures whose body size follows age,
  height and build, clothes in ``PersonSpec.clothing_rgb``, and whose HEADS ARE REAL FACE PHOTOS from
  the :class:`~memoire_cli.faces.bank.FaceBank` (``face_key``), so ArcFace QC (S1.1.6) is meaningful.
  A small per-shot face augmentation (scale, brightness, mirror) keeps the identity.
* **hands** (S1.1.7 *detail close-up*): people only as arms reaching into the frame, no faces.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from memoire_cli.faces.bank import FaceBank
from memoire_cli.synth.render.base import PersonSpec
from memoire_cli.synth.render.procedural.pen import LABEL_PERSON0, RGB, Box, Pen, mix, shade, to_rgb

FACE_CM = 21.0  # height of an adult face box (brow to chin, with forehead), centimetres


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
class Figure:
    """Where one person of the shot stands (frame pixels)."""

    index: int  # position in shot.people
    person: PersonSpec
    cx: float  # face centre
    cy: float
    face_h: float  # pasted face box height, px
    flip: bool  # mirror the face photo (identity-preserving augmentation)
    bright: float  # brightness gain of the face photo


@dataclass
class DrawnFigure:
    """What drawing a figure produced (for worn/held props and regions)."""

    face_box: Box
    hands: tuple[tuple[float, float], tuple[float, float]]
    head_top: float


def _pants_colour(c: RGB) -> RGB:
    return mix(c, (38, 42, 58), 0.72)


def draw_figure(pen: Pen, fig: Figure, skin: RGB) -> tuple[float, float, float, float, float]:
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
    cloth = to_rgb(p.clothing_rgb)
    pants = _pants_colour(cloth)
    leg = 0.075 * hc * ppcm * k
    for side in (-1, 1):
        pen.polygon([(cx + side * 0.02 * hw, hip - 2), (cx + side * hw, hip - 2),
                     (cx + side * (0.55 * hw + 0.5 * leg), feet), (cx + side * (0.55 * hw - 0.5 * leg), feet)], pants)
        pen.ellipse((cx + side * 0.55 * hw - 0.6 * leg, feet - 0.25 * leg,
                     cx + side * 0.55 * hw + 0.6 * leg, feet + 0.25 * leg),
                    (30, 28, 28))
    neck_w = 0.2 * fig.face_h
    pen.rect((cx - neck_w, chin - 0.25 * fig.face_h, cx + neck_w, shoulder + 0.1 * (hip - shoulder)), skin)
    pen.polygon([(cx - 0.85 * sw, shoulder), (cx + 0.85 * sw, shoulder), (cx + sw, shoulder + 0.18 * (hip - shoulder)),
                 (cx + hw, hip), (cx - hw, hip), (cx - sw, shoulder + 0.18 * (hip - shoulder))], cloth)
    r = 0.2 * sw
    for side in (-1, 1):
        pen.ellipse((cx + side * 0.85 * sw - r, shoulder, cx + side * 0.85 * sw + r, shoulder + 2 * r), cloth)
    pen.polygon([(cx - neck_w, shoulder - 1), (cx + neck_w, shoulder - 1), (cx, shoulder + 0.12 * (hip - shoulder))],
                skin)
    pen.polygon([(cx - hw * 0.9, hip - 0.25 * (hip - shoulder)), (cx - hw * 0.55, hip - 0.25 * (hip - shoulder)),
                 (cx - hw * 0.55, hip), (cx - hw, hip)], shade(cloth, 0.85))
    return chin, shoulder, hip, sw, ppcm


def draw_arms(pen: Pen, fig: Figure, skin: RGB, shoulder: float, hip: float, sw: float, ppcm: float
               ) -> tuple[tuple[float, float], tuple[float, float]]:
    """Arms hanging down at the sides; returns the two hand positions."""
    p = fig.person
    k = BUILD_WIDTH.get(p.build, 1.0)
    hc = float(p.height_cm)
    arm_w = 0.05 * hc * ppcm * k
    cloth = shade(to_rgb(p.clothing_rgb), 0.93)
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



def draw_hand(pen: Pen, start: tuple[float, float], end: tuple[float, float], width: float,
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
    pen.line([wrist, (wrist[0] + ux * 0.25 * width, wrist[1] + uy * 0.25 * width)], shade(cloth, 0.8), 1.05 * width)
    pen.ellipse((end[0] - 0.55 * width, end[1] - 0.5 * width, end[0] + 0.55 * width, end[1] + 0.5 * width), skin)
    for f in (-0.3, -0.1, 0.1, 0.3):
        fx = end[0] + ux * 0.5 * width + px * f * width
        fy = end[1] + uy * 0.5 * width + py * f * width
        pen.ellipse((fx - 0.13 * width, fy - 0.13 * width, fx + 0.13 * width, fy + 0.13 * width), skin)
    tx, ty = end[0] + px * 0.55 * width, end[1] + py * 0.55 * width
    pen.ellipse((tx - 0.16 * width, ty - 0.16 * width, tx + 0.16 * width, ty + 0.16 * width), skin)


class FaceHeads:
    """The face photos of a face bank, ready to paste as heads (PIL images cached per face key)."""

    def __init__(self, bank: FaceBank) -> None:
        self.bank = bank
        self._heads: dict[int, tuple[Image.Image, Image.Image, Image.Image]] = {}

    def _head(self, key: int) -> tuple[Image.Image, Image.Image, Image.Image]:
        """(crop RGB, soft alpha L, hard alpha L) PIL images of a bank face."""
        head = self._heads.get(key)
        if head is None:
            alpha = Image.fromarray(np.ascontiguousarray(self.bank.alpha(key)))
            head = (Image.fromarray(np.ascontiguousarray(self.bank.crop(key))), alpha,
                    alpha.point(lambda v: 255 if v >= 128 else 0))
            self._heads[key] = head
        return head

    def paste(self, img: Image.Image, labels: Image.Image | None, key: int, cx: float, cy: float,
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
        head = crop.resize((side, side), Image.Resampling.BILINEAR)
        if abs(bright - 1.0) > 1e-3:
            lut = [int(min(255, v * bright)) for v in range(256)] * 3
            head = head.point(lut)
        img.paste(head, (ox, oy), soft.resize((side, side), Image.Resampling.BILINEAR))
        if labels is not None:
            labels.paste(label, (ox, oy, ox + side, oy + side), hard.resize((side, side), Image.Resampling.NEAREST))
        return (ox + x0 * scale, oy + y0 * scale, ox + x1 * scale, oy + y1 * scale)


def draw_people(img: Image.Image, labels: Image.Image, pen: Pen, figs: list[Figure],
                heads: FaceHeads) -> dict[int, DrawnFigure]:
    """Draw the figures in order (body, arms, pasted face photo); returns what was drawn per person index."""
    drawn: dict[int, DrawnFigure] = {}
    for fig in figs:
        label = LABEL_PERSON0 + fig.index
        pen.label = label
        skin = heads.bank.skin_rgb(fig.person.face_key)
        chin, shoulder, hip, sw, ppcm = draw_figure(pen, fig, skin)
        hands = draw_arms(pen, fig, skin, shoulder, hip, sw, ppcm)
        box = heads.paste(img, labels, fig.person.face_key, fig.cx, fig.cy, fig.face_h, label, fig.flip,
                          fig.bright)
        drawn[fig.index] = DrawnFigure(face_box=box, hands=hands, head_top=fig.cy - 0.8 * fig.face_h)
    return drawn
