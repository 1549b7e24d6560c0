"""Prop drawings of celebrations, ceremonies and holidays (S1.1.2 ``props``), for the procedural renderer.

Birthdays, weddings and anniversaries, graduations and award ceremonies, family dinners,
housewarmings, festivals, religious ceremonies, New Year, Christmas, Halloween and parades: each prop
a recognisable simple shape drawn with a :class:`~memoire_cli.synth.render.procedural.pen.Pen`
into a box (cake with candles, balloons, christmas tree, cap on a graduate, trophy, …). The hats
(:func:`mortarboard`, :func:`santa_hat`, :func:`witch_hat`) are also drawn on a person's head when
the prop is worn. The catalogue (layer and real size of each prop) is
:data:`~memoire_cli.synth.render.procedural.props.PROPS`.
"""

from __future__ import annotations

import math

import numpy as np

from memoire_cli.synth.render.procedural.pen import box_dims, mix


def draw_cake(pen, b, rng, candles: bool = True):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.ellipse((x0 - 0.08 * w, y1 - 0.16 * h, x1 + 0.08 * w, y1 + 0.06 * h), (240, 240, 244))
    pen.rect((x0, y0 + 0.45 * h, x1, y1 - 0.06 * h), (246, 226, 236))
    pen.ellipse((x0, y1 - 0.16 * h, x1, y1), (246, 226, 236))
    pen.ellipse((x0, y0 + 0.35 * h, x1, y0 + 0.55 * h), (255, 246, 250))
    pen.rect((x0, y0 + 0.6 * h, x1, y0 + 0.66 * h), (210, 90, 140))
    if candles:
        _candles(pen, (x0 + 0.15 * w, y0, x1 - 0.15 * w, y0 + 0.45 * h), rng)


def _candles(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    n = int(rng.integers(3, 6))
    cw = max(2.0, w / (n * 3))
    for i in range(n):
        cx = x0 + (i + 0.5) * w / n
        pen.rect((cx - cw / 2, y0 + 0.35 * h, cx + cw / 2, y1), [(90, 160, 230), (240, 200, 60), (230, 90, 120)][i % 3])
        pen.ellipse((cx - cw * 0.7, y0, cx + cw * 0.7, y0 + 0.35 * h), (255, 190, 60))


def draw_candles(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.ellipse((x0, y1 - 0.12 * h, x1, y1), (200, 190, 170))
    _candles(pen, (x0 + 0.1 * w, y0, x1 - 0.1 * w, y1 - 0.06 * h), rng)


def draw_balloons(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    n = int(rng.integers(4, 7))
    r = min(w / 4.0, h / 4.5)
    tie = (x0 + w / 2, y1)
    for _ in range(n):
        cx, cy = rng.uniform(x0 + r, x1 - r), rng.uniform(y0 + r * 1.2, y0 + h * 0.55)
        col = [(230, 40, 60), (40, 120, 230), (250, 200, 40), (60, 190, 90), (220, 90, 200)][int(rng.integers(5))]
        pen.line((cx, cy + r * 1.1, tie[0], tie[1]), (90, 90, 90), max(1.0, r * 0.05))
        pen.ellipse((cx - r * 0.85, cy - r, cx + r * 0.85, cy + r * 1.1), col)
        pen.ellipse((cx - r * 0.45, cy - r * 0.6, cx - r * 0.15, cy - r * 0.2), mix(col, (255, 255, 255), 0.6))


def draw_gifts(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for _i, (fx, fw, fh) in enumerate(((0.0, 0.55, 0.75), (0.45, 0.55, 1.0))):
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
    x0, y0, x1, y1, w, h = box_dims(b)
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
        pen.ellipse((fx - r * 0.35, fy - r * 0.35, fx + r * 0.35, fy + r * 0.35), mix(col, (250, 220, 80), 0.6))


def draw_flowers(pen, b, rng):
    _flowers(pen, b, rng, [(240, 240, 240), (250, 180, 200), (250, 210, 60), (200, 120, 220)])


def draw_roses(pen, b, rng):
    _flowers(pen, b, rng, [(200, 20, 40), (170, 10, 30), (220, 40, 60)])


def draw_rings(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rounded((x0, y0 + 0.45 * h, x1, y1), 0.1 * w, (120, 20, 40))
    pen.rounded((x0, y0 + 0.1 * h, x1, y0 + 0.45 * h), 0.1 * w, (150, 30, 54))
    for cx in (x0 + 0.36 * w, x0 + 0.64 * w):
        r = 0.2 * w
        pen.ellipse((cx - r, y0 + 0.3 * h - r, cx + r, y0 + 0.3 * h + r), (235, 200, 90))
        pen.ellipse((cx - r * 0.7, y0 + 0.3 * h - r * 0.7, cx + r * 0.7, y0 + 0.3 * h + r * 0.7), (150, 30, 54))
        pen.ellipse((cx - r * 0.35, y0 + 0.3 * h - r * 1.5, cx + r * 0.35, y0 + 0.3 * h - r * 0.8), (230, 240, 255))


def draw_glasses(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for i in range(2):
        gx0, gx1 = x0 + i * 0.5 * w + 0.05 * w, x0 + (i + 1) * 0.5 * w - 0.05 * w
        cx, gw = (gx0 + gx1) / 2, gx1 - gx0
        pen.chord((gx0, y0, gx1, y0 + 0.65 * h), 0, 180, (150, 20, 40) if i == 0 else (240, 220, 140))
        pen.chord((gx0, y0 - 0.12 * h, gx1, y0 + 0.5 * h), 180, 360, (225, 235, 240))
        pen.rect((cx - gw * 0.05, y0 + 0.6 * h, cx + gw * 0.05, y1 - 0.06 * h), (225, 235, 240))
        pen.ellipse((gx0 + 0.1 * gw, y1 - 0.1 * h, gx1 - 0.1 * gw, y1), (225, 235, 240))


def draw_cap_and_gown(pen, b, rng):
    """Standalone graduation cap (mortarboard) with tassel; on a person: :func:`mortarboard`."""
    x0, y0, x1, y1, w, h = box_dims(b)
    mortarboard(pen, x0 + w / 2, y0 + 0.45 * h, w)


def mortarboard(pen, cx, cy, w):
    """A mortarboard ``w`` wide centred at (cx, cy), tassel to the right (also worn: ``prop_placement``)."""
    pen.polygon([(cx - w / 2, cy), (cx, cy - w * 0.18), (cx + w / 2, cy), (cx, cy + w * 0.18)], (24, 24, 30))
    pen.rect((cx - w * 0.28, cy, cx + w * 0.28, cy + w * 0.22), (30, 30, 36))
    pen.line((cx, cy, cx + w * 0.42, cy + w * 0.08, cx + w * 0.42, cy + w * 0.35), (240, 190, 40), max(2.0, w * 0.04))


def draw_diploma(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rounded((x0, y0 + 0.2 * h, x1, y1 - 0.2 * h), 0.3 * h, (246, 238, 214))
    pen.rect((x0 + 0.45 * w, y0 + 0.1 * h, x0 + 0.55 * w, y1 - 0.1 * h), (170, 20, 40))


def draw_podium(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.polygon([(x0 + 0.1 * w, y0 + 0.15 * h), (x1 - 0.1 * w, y0 + 0.15 * h), (x1, y1), (x0, y1)], (110, 70, 40))
    pen.rect((x0, y0, x1, y0 + 0.15 * h), (140, 92, 56))
    pen.ellipse((x0 + 0.35 * w, y0 + 0.35 * h, x0 + 0.65 * w, y0 + 0.55 * h), (220, 190, 90))
    pen.line((x0 + 0.5 * w, y0, x0 + 0.6 * w, y0 - 0.25 * h), (30, 30, 30), max(2.0, w * 0.03))


def draw_dining_table(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0, x1, y0 + 0.25 * h), (245, 243, 236))
    pen.polygon([(x0, y0 + 0.25 * h), (x1, y0 + 0.25 * h), (x1 - 0.02 * w, y1), (x0 + 0.02 * w, y1)], (236, 232, 224))
    for i in range(int(max(2, w // max(h, 1)))):
        cx = x0 + (i + 0.5) * w / max(2, int(w // max(h, 1)))
        pen.ellipse((cx - 0.3 * h, y0 + 0.02 * h, cx + 0.3 * h, y0 + 0.2 * h), (255, 255, 255))
        pen.ellipse((cx - 0.15 * h, y0 + 0.06 * h, cx + 0.15 * h, y0 + 0.16 * h), (200, 120, 60))


def draw_plates(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for i in range(3):
        cx = x0 + (i + 0.5) * w / 3
        pen.ellipse((cx - w / 7, y0, cx + w / 7, y1), (250, 250, 250))
        pen.ellipse((cx - w / 12, y0 + 0.25 * h, cx + w / 12, y1 - 0.25 * h),
                    [(200, 110, 50), (90, 160, 60), (220, 200, 120)][i])



def draw_string_lights(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for row in range(2):
        yb = y0 + (0.3 + 0.45 * row) * h
        pts = [(x, yb + 0.2 * h * math.sin(math.pi * (x - x0) / w * 3)) for x in np.linspace(x0, x1, 40)]
        pen.line(pts, (50, 50, 40), max(1.0, 0.01 * h))
        for k, (x, y) in enumerate(pts[1::3]):
            r = max(2.0, 0.05 * h)
            col = [(255, 220, 120), (255, 120, 120), (140, 200, 255), (180, 255, 160)][k % 4]
            pen.ellipse((x - r, y, x + r, y + 2.2 * r), col)


def draw_lamps(pen, b, rng):
    """Floor lamp with a glowing shade (Housewarming, Casual Home Scene) / oil lamps (festivals)."""
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    pen.ellipse((cx - 0.35 * w, y1 - 0.05 * h, cx + 0.35 * w, y1), (50, 46, 40))
    pen.rect((cx - 0.03 * w, y0 + 0.25 * h, cx + 0.03 * w, y1 - 0.02 * h), (70, 64, 56))
    pen.polygon([(cx - 0.25 * w, y0), (cx + 0.25 * w, y0),
                 (cx + 0.5 * w, y0 + 0.28 * h), (cx - 0.5 * w, y0 + 0.28 * h)],
                (255, 226, 150))


def draw_colour_powder(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for _ in range(9):
        cx, cy = rng.uniform(x0, x1), rng.uniform(y0, y1)
        r = rng.uniform(0.08, 0.16) * min(w, h)
        col = [(240, 40, 140), (250, 200, 0), (40, 200, 90), (60, 120, 250), (250, 120, 20)][int(rng.integers(5))]
        pen.ellipse((cx - r * 1.3, cy - r, cx + r * 1.3, cy + r), col)


def draw_idol(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    gold = (220, 170, 50)
    pen.rect((x0, y1 - 0.15 * h, x1, y1), (150, 40, 40))
    pen.ellipse((x0 + 0.1 * w, y0 + 0.35 * h, x1 - 0.1 * w, y1 - 0.1 * h), gold)
    pen.ellipse((cx - 0.18 * w, y0 + 0.12 * h, cx + 0.18 * w, y0 + 0.42 * h), gold)
    pen.polygon([(cx - 0.14 * w, y0 + 0.16 * h), (cx, y0), (cx + 0.14 * w, y0 + 0.16 * h)], gold)
    pen.chord((x0 - 0.05 * w, y0 - 0.05 * h, x1 + 0.05 * w, y0 + 0.6 * h), 180, 360, (250, 140, 40))
    pen.ellipse((cx - 0.16 * w, y0 + 0.12 * h, cx + 0.16 * w, y0 + 0.4 * h), gold)


def draw_banner(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.line((x0, y0, x1, y0), (80, 80, 80), max(1.0, 0.04 * h))
    n = 9
    for i in range(n):
        fx0 = x0 + i * w / n
        col = [(230, 60, 70), (60, 140, 230), (250, 200, 50), (80, 190, 100)][i % 4]
        pen.polygon([(fx0 + 0.05 * w / n, y0), (fx0 + 0.95 * w / n, y0), (fx0 + 0.5 * w / n, y1)], col)



def draw_trophy(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    gold, dark = (230, 180, 40), (180, 130, 20)
    cx = x0 + w / 2
    pen.rect((x0 + 0.15 * w, y1 - 0.14 * h, x1 - 0.15 * w, y1), (60, 40, 30))
    pen.rect((cx - 0.07 * w, y0 + 0.5 * h, cx + 0.07 * w, y1 - 0.14 * h), dark)
    pen.ellipse((x0, y0 + 0.08 * h, x0 + 0.4 * w, y0 + 0.38 * h), dark)
    pen.ellipse((x1 - 0.4 * w, y0 + 0.08 * h, x1, y0 + 0.38 * h), dark)
    pen.chord((x0 + 0.12 * w, y0 - 0.2 * h, x1 - 0.12 * w, y0 + 0.58 * h), 0, 180, gold)
    pen.rect((x0 + 0.12 * w, y0, x1 - 0.12 * w, y0 + 0.19 * h), gold)
    pen.rect((x0 + 0.4 * w, y0 + 0.05 * h, x0 + 0.48 * w, y0 + 0.4 * h), (255, 230, 140))


def draw_medal(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    pen.polygon([(x0 + 0.1 * w, y0), (cx - 0.05 * w, y0), (cx + 0.1 * w, y0 + 0.55 * h), (cx - 0.1 * w, y0 + 0.55 * h)],
                (40, 90, 200))
    pen.polygon([(x1 - 0.1 * w, y0), (cx + 0.05 * w, y0), (cx - 0.1 * w, y0 + 0.55 * h), (cx + 0.1 * w, y0 + 0.55 * h)],
                (200, 40, 50))
    r = min(w * 0.4, h * 0.25)
    pen.ellipse((cx - r, y1 - 2 * r, cx + r, y1), (230, 180, 40))
    pen.ellipse((cx - r * 0.6, y1 - 1.6 * r, cx + r * 0.6, y1 - 0.4 * r), (250, 210, 90))


def draw_keys(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.ellipse((x0, y0, x0 + 0.4 * w, y0 + 0.5 * h), (200, 200, 206))
    pen.ellipse((x0 + 0.1 * w, y0 + 0.12 * h, x0 + 0.3 * w, y0 + 0.38 * h), (120, 120, 120))
    for k, ang in enumerate((20, 50)):
        a = math.radians(ang)
        sx, sy = x0 + 0.3 * w, y0 + 0.35 * h
        ex, ey = sx + 0.7 * w * math.cos(a), sy + 0.7 * w * math.sin(a)
        col = [(220, 190, 80), (190, 190, 196)][k]
        pen.line((sx, sy, ex, ey), col, max(2.0, 0.08 * h))
        pen.ellipse((sx - 0.16 * w, sy - 0.16 * w, sx + 0.06 * w, sy + 0.06 * w), col)


def draw_fireworks(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for _ in range(3):
        cx, cy = rng.uniform(x0 + 0.15 * w, x1 - 0.15 * w), rng.uniform(y0 + 0.25 * h, y1 - 0.25 * h)
        r = rng.uniform(0.12, 0.22) * min(w, h * 2)
        col = [(255, 90, 90), (255, 230, 90), (120, 200, 255), (200, 120, 255)][int(rng.integers(4))]
        for a in np.linspace(0, 2 * math.pi, 14)[:-1]:
            pen.line((cx + 0.2 * r * math.cos(a), cy + 0.2 * r * math.sin(a),
                      cx + r * math.cos(a), cy + r * math.sin(a)),
                     col, max(1.0, r * 0.05))
        pen.ellipse((cx - r * 0.1, cy - r * 0.1, cx + r * 0.1, cy + r * 0.1), (255, 255, 230))


def draw_confetti(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    s = max(2.0, 0.012 * (w + h))
    for _ in range(40):
        x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        col = [(250, 60, 90), (60, 160, 250), (250, 220, 60), (80, 220, 120), (220, 90, 250)][int(rng.integers(5))]
        pen.rect((x, y, x + s, y + s * 0.6), col)


def draw_christmas_tree(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    pen.rect((cx - 0.07 * w, y1 - 0.12 * h, cx + 0.07 * w, y1), (100, 60, 30))
    for _k, (t0, t1, half) in enumerate(((0.08, 0.42, 0.28), (0.28, 0.66, 0.4), (0.5, 0.9, 0.5))):
        pen.polygon([(cx, y0 + t0 * h), (cx + half * w, y0 + t1 * h), (cx - half * w, y0 + t1 * h)], (30, 110, 50))
    for _ in range(12):
        t = rng.uniform(0.25, 0.85)
        half = 0.5 * w * t
        x = cx + rng.uniform(-half, half) * 0.8
        y = y0 + t * h
        r = max(2.0, 0.035 * w)
        pen.ellipse((x - r, y - r, x + r, y + r), [(230, 40, 40), (250, 210, 50), (60, 120, 240)][int(rng.integers(3))])
    r = 0.08 * w
    pen.polygon([(cx + r * math.cos(a) * (1 if i % 2 == 0 else 0.45),
                  y0 + 0.06 * h + r * math.sin(a) * (1 if i % 2 == 0 else 0.45))
                 for i, a in enumerate(np.linspace(-math.pi / 2, 1.5 * math.pi, 11)[:-1])], (255, 220, 40))


def draw_santa_hat(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    santa_hat(pen, x0 + w / 2, y0 + 0.8 * h, w)


def santa_hat(pen, cx, base_y, w):
    """A santa hat ``w`` wide whose brim sits at ``base_y`` (also worn: ``prop_placement``)."""
    pen.polygon([(cx - w * 0.45, base_y), (cx + w * 0.1, base_y - w * 0.75), (cx + w * 0.45, base_y)], (210, 20, 30))
    pen.rounded((cx - w * 0.5, base_y - w * 0.12, cx + w * 0.5, base_y + w * 0.06), w * 0.08, (250, 250, 250))
    pen.ellipse((cx + w * 0.02, base_y - w * 0.84, cx + w * 0.2, base_y - w * 0.66), (250, 250, 250))


def draw_pumpkin(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    for fx in (0.0, 0.22, 0.12):
        pen.ellipse((x0 + fx * w, y0 + 0.18 * h, x0 + (fx + 0.78) * w, y1), (236, 120, 20))
    pen.rect((cx - 0.05 * w, y0, cx + 0.05 * w, y0 + 0.22 * h), (70, 110, 40))
    pen.polygon([(cx - 0.25 * w, y0 + 0.45 * h), (cx - 0.12 * w, y0 + 0.45 * h), (cx - 0.18 * w, y0 + 0.35 * h)],
                (60, 30, 10))
    pen.polygon([(cx + 0.12 * w, y0 + 0.45 * h), (cx + 0.25 * w, y0 + 0.45 * h), (cx + 0.18 * w, y0 + 0.35 * h)],
                (60, 30, 10))
    pen.chord((cx - 0.25 * w, y0 + 0.5 * h, cx + 0.25 * w, y0 + 0.8 * h), 0, 180, (60, 30, 10))


def draw_costume(pen, b, rng):
    """Standalone witch hat; on a person: :func:`witch_hat`."""
    x0, y0, x1, y1, w, h = box_dims(b)
    witch_hat(pen, x0 + w / 2, y0 + 0.85 * h, w)


def witch_hat(pen, cx, base_y, w):
    """A witch hat ``w`` wide whose brim sits at ``base_y`` (also worn: ``prop_placement``)."""
    pen.ellipse((cx - w / 2, base_y - w * 0.08, cx + w / 2, base_y + w * 0.08), (40, 20, 60))
    pen.polygon([(cx - w * 0.25, base_y), (cx + w * 0.12, base_y - w * 0.85), (cx + w * 0.25, base_y)], (60, 30, 90))
    pen.rect((cx - w * 0.24, base_y - w * 0.12, cx + w * 0.24, base_y - w * 0.04), (240, 130, 20))


def draw_parade_float(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0 + 0.55 * h, x1, y1 - 0.08 * h), (230, 60, 140))
    pen.rect((x0, y0 + 0.55 * h, x1, y0 + 0.62 * h), (250, 210, 60))
    for fx in (0.1, 0.8):
        pen.ellipse((x0 + fx * w, y1 - 0.16 * h, x0 + (fx + 0.1) * w, y1), (30, 30, 30))
    pen.ellipse((x0 + 0.3 * w, y0, x0 + 0.7 * w, y0 + 0.6 * h), (250, 150, 40))
    for _ in range(10):
        x, y = rng.uniform(x0, x1), rng.uniform(y0 + 0.3 * h, y0 + 0.6 * h)
        r = 0.04 * w
        pen.ellipse((x - r, y - r, x + r, y + r),
                    [(250, 250, 250), (80, 200, 250), (250, 90, 90)][int(rng.integers(3))])


def draw_drums(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
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



def draw_wedding_arch(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    t = 0.09 * w
    white = (248, 246, 240)
    pen.rect((x0, y0 + 0.3 * h, x0 + t, y1), white)
    pen.rect((x1 - t, y0 + 0.3 * h, x1, y1), white)
    pts_o = [(x0 + w / 2 + (w / 2) * math.cos(a), y0 + 0.3 * h - 0.3 * h * math.sin(a))
             for a in np.linspace(0, math.pi, 20)]
    pts_i = [(x0 + w / 2 + (w / 2 - t) * math.cos(a), y0 + 0.3 * h - (0.3 * h - t) * math.sin(a))
             for a in np.linspace(math.pi, 0, 20)]
    pen.polygon(pts_o + pts_i, white)
    for (px, py) in pts_o[::2] + [(x0 + t / 2, y0 + (0.35 + 0.1 * k) * h) for k in range(6)]:
        r = 0.045 * w
        pen.ellipse((px - r, py - r, px + r, py + r),
                    [(250, 190, 210), (250, 250, 250), (240, 120, 150)][int(rng.integers(3))])


