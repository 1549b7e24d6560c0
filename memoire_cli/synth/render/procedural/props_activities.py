"""Prop drawings of travel, outdoors, sport, music, work, culture and everyday life (S1.1.2 ``props``).

Vacations and road trips, picnics, hikes and beach days, sports matches and concerts, office
meetings and talks, museum visits, landmarks, cafés, home scenes and city walks: each prop a
recognisable simple shape drawn with a :class:`~memoire_cli.synth.render.procedural.pen.Pen`
into a box (suitcase, stage lights, beach umbrella, car, …). :func:`sun_hat` is also drawn on a
person's head when the prop is worn. The catalogue (layer and real size of each prop) is
:data:`~memoire_cli.synth.render.procedural.props.PROPS`.
"""

from __future__ import annotations

import math

import numpy as np

from memoire_cli.synth.render.procedural.pen import box_dims, jitter, mix, shade


def draw_suitcase(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rounded((x0, y0 + 0.25 * h, x1, y1 - 0.04 * h), 0.1 * w, (40, 90, 160))
    pen.rect((x0 + 0.3 * w, y0, x0 + 0.36 * w, y0 + 0.25 * h), (60, 60, 60))
    pen.rect((x1 - 0.36 * w, y0, x1 - 0.3 * w, y0 + 0.25 * h), (60, 60, 60))
    pen.rect((x0 + 0.3 * w, y0, x1 - 0.3 * w, y0 + 0.05 * h), (60, 60, 60))
    for fx in (0.25, 0.5, 0.75):
        pen.rect((x0 + fx * w - 1, y0 + 0.3 * h, x0 + fx * w + 1, y1 - 0.08 * h), (30, 70, 130))
    pen.ellipse((x0 + 0.1 * w, y1 - 0.08 * h, x0 + 0.25 * w, y1), (20, 20, 20))
    pen.ellipse((x1 - 0.25 * w, y1 - 0.08 * h, x1 - 0.1 * w, y1), (20, 20, 20))


def draw_sun_hat(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    sun_hat(pen, x0 + w / 2, y0 + 0.7 * h, w)


def sun_hat(pen, cx, base_y, w):
    """A straw sun hat ``w`` wide whose brim sits at ``base_y`` (also worn: ``prop_placement``)."""
    pen.ellipse((cx - w / 2, base_y - w * 0.1, cx + w / 2, base_y + w * 0.1), (236, 214, 150))
    pen.chord((cx - w * 0.28, base_y - w * 0.36, cx + w * 0.28, base_y + w * 0.1), 180, 360, (240, 220, 160))
    pen.rect((cx - w * 0.28, base_y - w * 0.1, cx + w * 0.28, base_y - w * 0.03), (200, 60, 60))


def draw_picnic_basket(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.line((x0 + 0.15 * w, y0 + 0.5 * h, x0 + 0.5 * w, y0, x1 - 0.15 * w, y0 + 0.5 * h), (140, 96, 50), 0.06 * w)
    pen.polygon([(x0, y0 + 0.4 * h), (x1, y0 + 0.4 * h), (x1 - 0.08 * w, y1), (x0 + 0.08 * w, y1)], (176, 122, 62))
    for i in range(4):
        y = y0 + 0.5 * h + i * 0.12 * h
        pen.line((x0 + 0.06 * w, y, x1 - 0.06 * w, y), (130, 88, 44), max(1.0, 0.03 * h))
    pen.rect((x0, y0 + 0.4 * h, x1, y0 + 0.48 * h), (200, 40, 40))


def draw_checkered_blanket(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
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


def draw_backpack(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rounded((x0, y0 + 0.1 * h, x1, y1), 0.25 * w, (50, 110, 70))
    pen.rounded((x0 + 0.15 * w, y0 + 0.5 * h, x1 - 0.15 * w, y1 - 0.08 * h), 0.1 * w, (40, 90, 56))
    pen.line((x0 + 0.3 * w, y0 + 0.12 * h, x0 + 0.5 * w, y0, x1 - 0.3 * w, y0 + 0.12 * h), (30, 60, 40), 0.06 * w)


def draw_trekking_poles(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for fx in (0.3, 0.7):
        pen.line((x0 + fx * w, y0, x0 + fx * w + 0.1 * w, y1), (150, 150, 160), max(2.0, 0.05 * w))
        pen.rect((x0 + fx * w - 0.05 * w, y0, x0 + fx * w + 0.05 * w, y0 + 0.12 * h), (30, 30, 30))


def draw_scoreboard(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0, x1, y1), (20, 22, 26))
    pen.rect((x0 + 0.04 * w, y0 + 0.1 * h, x1 - 0.04 * w, y1 - 0.1 * h), (30, 36, 44))
    for fx in (0.1, 0.6):
        for k in range(2):
            sx = x0 + (fx + 0.14 * k) * w
            pen.rect((sx, y0 + 0.25 * h, sx + 0.1 * w, y1 - 0.25 * h), (250, 170, 40))
            pen.rect((sx + 0.025 * w, y0 + 0.35 * h, sx + 0.075 * w, y1 - 0.35 * h), (30, 36, 44))
    pen.rect((x0 + 0.45 * w, y0 + 0.4 * h, x0 + 0.55 * w, y0 + 0.5 * h), (250, 250, 250))


def draw_ball(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    s = min(w, h)
    cx, cy = x0 + w / 2, y1 - s / 2
    pen.ellipse((cx - s / 2, cy - s / 2, cx + s / 2, cy + s / 2), (250, 250, 250))
    pen.polygon([(cx + s * 0.16 * math.cos(a), cy + s * 0.16 * math.sin(a))
                 for a in np.linspace(0, 2 * math.pi, 6)[:-1]],
                (20, 20, 20))
    for a in np.linspace(0, 2 * math.pi, 6)[:-1] + 0.6:
        px, py = cx + s * 0.38 * math.cos(a), cy + s * 0.38 * math.sin(a)
        pen.ellipse((px - s * 0.08, py - s * 0.08, px + s * 0.08, py + s * 0.08), (20, 20, 20))


def draw_goalpost(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
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


def draw_stage_lights(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0, x1, y0 + 0.05 * h), (40, 40, 44))
    n = 5
    for i in range(n):
        cx = x0 + (i + 0.5) * w / n
        col = [(255, 80, 80), (90, 140, 255), (255, 230, 90), (200, 90, 255), (90, 255, 170)][i % 5]
        pen.polygon([(cx - 0.02 * w, y0 + 0.12 * h), (cx + 0.02 * w, y0 + 0.12 * h),
                     (cx + 0.09 * w, y1), (cx - 0.09 * w, y1)], mix(col, (255, 255, 255), 0.5))
        pen.rounded((cx - 0.035 * w, y0 + 0.03 * h, cx + 0.035 * w, y0 + 0.14 * h), 3, (30, 30, 34))
        pen.ellipse((cx - 0.025 * w, y0 + 0.09 * h, cx + 0.025 * w, y0 + 0.15 * h), col)


def draw_microphone(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    lw = max(2.0, 0.05 * w)
    pen.line((cx, y1, cx, y0 + 0.12 * h), (40, 40, 44), lw)
    pen.line((cx - 0.35 * w, y1, cx, y1 - 0.06 * h, cx + 0.35 * w, y1), (40, 40, 44), lw)
    pen.rounded((cx - 0.14 * w, y0, cx + 0.14 * w, y0 + 0.16 * h), 0.14 * w, (90, 90, 96))


def draw_guitar(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    body = (190, 110, 40)
    pen.rect((cx - 0.06 * w, y0, cx + 0.06 * w, y0 + 0.55 * h), (70, 40, 20))
    pen.rect((cx - 0.12 * w, y0, cx + 0.12 * w, y0 + 0.08 * h), (50, 30, 16))
    pen.ellipse((x0 + 0.12 * w, y0 + 0.42 * h, x1 - 0.12 * w, y0 + 0.7 * h), body)
    pen.ellipse((x0, y0 + 0.58 * h, x1, y1), body)
    pen.ellipse((cx - 0.16 * w, y0 + 0.6 * h, cx + 0.16 * w, y0 + 0.72 * h), (40, 24, 12))



def draw_whiteboard(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0, x1, y1), (170, 170, 176))
    pen.rect((x0 + 0.02 * w, y0 + 0.03 * h, x1 - 0.02 * w, y1 - 0.08 * h), (250, 250, 252))
    for i in range(4):
        y = y0 + (0.15 + 0.15 * i) * h
        pen.line((x0 + 0.08 * w, y, x0 + rng.uniform(0.3, 0.8) * w, y), [(30, 60, 200), (200, 40, 40)][i % 2], 2)
    pen.line((x0 + 0.65 * w, y0 + 0.7 * h, x0 + 0.75 * w, y0 + 0.4 * h, x0 + 0.85 * w, y0 + 0.55 * h), (20, 140, 60), 3)


def draw_laptop(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.polygon([(x0 + 0.12 * w, y0), (x1 - 0.12 * w, y0),
                 (x1 - 0.1 * w, y0 + 0.72 * h), (x0 + 0.1 * w, y0 + 0.72 * h)],
                (60, 62, 68))
    pen.polygon([(x0 + 0.16 * w, y0 + 0.06 * h), (x1 - 0.16 * w, y0 + 0.06 * h),
                 (x1 - 0.14 * w, y0 + 0.66 * h), (x0 + 0.14 * w, y0 + 0.66 * h)], (110, 170, 230))
    pen.polygon([(x0 + 0.1 * w, y0 + 0.72 * h), (x1 - 0.1 * w, y0 + 0.72 * h), (x1, y1), (x0, y1)], (170, 172, 178))


def draw_projector_screen(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0 - 0.02 * w, y0, x1 + 0.02 * w, y0 + 0.05 * h), (40, 40, 44))
    pen.rect((x0, y0 + 0.05 * h, x1, y1), (246, 246, 248))
    pen.rect((x0 + 0.08 * w, y0 + 0.15 * h, x1 - 0.08 * w, y0 + 0.3 * h), (40, 80, 160))
    for i, v in enumerate(rng.uniform(0.2, 0.5, 4)):
        bx = x0 + (0.15 + 0.18 * i) * w
        pen.rect((bx, y1 - 0.1 * h - v * h, bx + 0.1 * w, y1 - 0.1 * h), [(230, 120, 40), (60, 150, 90)][i % 2])



def draw_painting(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0, x1, y1), (180, 140, 50))
    pen.rect((x0 + 0.07 * w, y0 + 0.08 * h, x1 - 0.07 * w, y1 - 0.08 * h), (110, 160, 200))
    pen.polygon([(x0 + 0.07 * w, y1 - 0.08 * h), (x0 + 0.4 * w, y0 + 0.4 * h), (x0 + 0.65 * w, y1 - 0.08 * h)],
                (70, 110, 60))
    pen.polygon([(x0 + 0.45 * w, y1 - 0.08 * h), (x0 + 0.7 * w, y0 + 0.5 * h), (x1 - 0.07 * w, y1 - 0.08 * h)],
                (90, 130, 70))
    pen.ellipse((x0 + 0.7 * w, y0 + 0.15 * h, x0 + 0.82 * w, y0 + 0.3 * h), (250, 220, 90))


def draw_sculpture(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    marble = (230, 228, 222)
    pen.rect((x0, y0 + 0.6 * h, x1, y1), (90, 86, 84))
    pen.ellipse((cx - 0.14 * w, y0, cx + 0.14 * w, y0 + 0.14 * h), marble)
    pen.polygon([(cx - 0.3 * w, y0 + 0.16 * h), (cx + 0.3 * w, y0 + 0.16 * h),
                 (cx + 0.2 * w, y0 + 0.6 * h), (cx - 0.2 * w, y0 + 0.6 * h)], marble)
    pen.line((cx + 0.28 * w, y0 + 0.2 * h, cx + 0.45 * w, y0 + 0.05 * h), marble, max(2.0, 0.1 * w))


def draw_beach_umbrella(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    pen.line((cx, y0 + 0.2 * h, cx + 0.04 * w, y1), (240, 240, 240), max(2.0, 0.025 * w))
    n = 8
    for i in range(n):
        a0, a1 = 180 + i * 180 / n, 180 + (i + 1) * 180 / n
        pen.pieslice((x0, y0, x1, y0 + 0.5 * h), a0, a1, [(230, 40, 50), (250, 250, 250)][i % 2])


def draw_beach_ball(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    s = min(w, h)
    bb = (x0 + w / 2 - s / 2, y1 - s, x0 + w / 2 + s / 2, y1)
    for i, col in enumerate([(230, 40, 50), (250, 250, 250), (40, 110, 230), (250, 250, 250), (250, 210, 40),
                             (250, 250, 250)]):
        pen.pieslice(bb, i * 60, (i + 1) * 60, col)
    c = (bb[0] + s / 2, bb[1] + s / 2)
    pen.ellipse((c[0] - s * 0.1, c[1] - s * 0.1, c[0] + s * 0.1, c[1] + s * 0.1), (250, 250, 250))


def draw_waves(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.rect((x0, y0 + 0.3 * h, x1, y1), (60, 140, 190))
    for row in range(3):
        yb = y0 + (0.3 + 0.22 * row) * h
        pts = [(x, yb - 0.12 * h * abs(math.sin(math.pi * (x - x0) / w * 5 + row))) for x in np.linspace(x0, x1, 50)]
        pen.line(pts, (240, 248, 252), max(2.0, 0.05 * h))


def draw_car(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    col = jitter(rng, (200, 40, 40), 0.3)
    pen.rounded((x0, y0 + 0.4 * h, x1, y1 - 0.15 * h), 0.12 * h, col)
    pen.polygon([(x0 + 0.2 * w, y0 + 0.42 * h), (x0 + 0.32 * w, y0), (x0 + 0.68 * w, y0),
                 (x0 + 0.82 * w, y0 + 0.42 * h)], col)
    pen.polygon([(x0 + 0.26 * w, y0 + 0.4 * h), (x0 + 0.35 * w, y0 + 0.08 * h),
                 (x0 + 0.48 * w, y0 + 0.08 * h), (x0 + 0.48 * w, y0 + 0.4 * h)], (170, 210, 240))
    pen.polygon([(x0 + 0.52 * w, y0 + 0.4 * h), (x0 + 0.52 * w, y0 + 0.08 * h),
                 (x0 + 0.65 * w, y0 + 0.08 * h), (x0 + 0.76 * w, y0 + 0.4 * h)], (170, 210, 240))
    for fx in (0.22, 0.78):
        cx = x0 + fx * w
        pen.ellipse((cx - 0.11 * w, y1 - 0.34 * h, cx + 0.11 * w, y1), (24, 24, 24))
        pen.ellipse((cx - 0.05 * w, y1 - 0.24 * h, cx + 0.05 * w, y1 - 0.1 * h), (180, 180, 186))


def draw_map(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for i in range(4):
        fx0, fx1 = x0 + i * w / 4, x0 + (i + 1) * w / 4
        dy = 0.05 * h * (1 if i % 2 else -1)
        pen.polygon([(fx0, y0 + dy), (fx1, y0 - dy), (fx1, y1 - dy), (fx0, y1 + dy)],
                    [(236, 226, 190), (220, 210, 172)][i % 2])
    pen.ellipse((x0 + 0.2 * w, y0 + 0.2 * h, x0 + 0.5 * w, y0 + 0.6 * h), (150, 200, 140))
    pen.line((x0 + 0.1 * w, y1 - 0.2 * h, x0 + 0.5 * w, y0 + 0.5 * h, x1 - 0.15 * w, y0 + 0.3 * h), (210, 40, 40),
             max(2.0, 0.03 * h))


def draw_monument(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    stone = (200, 192, 176)
    pen.rect((x0, y1 - 0.1 * h, x1, y1), shade(stone, 0.8))
    pen.rect((x0 + 0.15 * w, y1 - 0.2 * h, x1 - 0.15 * w, y1 - 0.1 * h), shade(stone, 0.9))
    pen.polygon([(cx - 0.16 * w, y1 - 0.2 * h), (cx - 0.08 * w, y0 + 0.08 * h),
                 (cx + 0.08 * w, y0 + 0.08 * h), (cx + 0.16 * w, y1 - 0.2 * h)], stone)
    pen.polygon([(cx - 0.08 * w, y0 + 0.08 * h), (cx, y0), (cx + 0.08 * w, y0 + 0.08 * h)], shade(stone, 1.1))


def draw_selfie_stick(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.line((x0, y1, x1 - 0.1 * w, y0 + 0.15 * h), (30, 30, 34), max(2.0, 0.02 * h))
    pen.rounded((x1 - 0.2 * w, y0, x1, y0 + 0.3 * h), 3, (20, 20, 24))


def draw_coffee_cups(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    for i, col in enumerate(((246, 246, 246), (200, 90, 60))):
        cx0, cx1 = x0 + i * 0.5 * w + 0.06 * w, x0 + (i + 1) * 0.5 * w - 0.14 * w
        pen.ellipse((cx0 - 0.06 * w, y1 - 0.14 * h, cx1 + 0.06 * w, y1), (236, 236, 236))
        pen.rect((cx0, y0 + 0.25 * h, cx1, y1 - 0.08 * h), col)
        pen.ellipse((cx1 - 0.04 * w, y0 + 0.35 * h, cx1 + 0.12 * w, y0 + 0.7 * h), col)
        pen.ellipse((cx0, y0 + 0.15 * h, cx1, y0 + 0.35 * h), (110, 66, 36))


def draw_pastries(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    pen.ellipse((x0, y0 + 0.5 * h, x1, y1), (250, 250, 250))
    for i in range(3):
        cx = x0 + (0.25 + 0.25 * i) * w
        pen.chord((cx - 0.14 * w, y0, cx + 0.14 * w, y0 + 1.2 * h), 180, 360, (220, 160, 70))
        pen.line((cx - 0.08 * w, y0 + 0.25 * h, cx + 0.08 * w, y0 + 0.45 * h), (170, 110, 40), max(1.0, 0.02 * w))


def draw_sofa(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    col = jitter(rng, (90, 110, 150), 0.25)
    pen.rounded((x0 + 0.08 * w, y0, x1 - 0.08 * w, y0 + 0.6 * h), 0.1 * h, shade(col, 0.9))
    pen.rounded((x0, y0 + 0.3 * h, x0 + 0.12 * w, y1 - 0.1 * h), 0.06 * h, col)
    pen.rounded((x1 - 0.12 * w, y0 + 0.3 * h, x1, y1 - 0.1 * h), 0.06 * h, col)
    pen.rounded((x0 + 0.1 * w, y0 + 0.5 * h, x1 - 0.1 * w, y1 - 0.1 * h), 0.06 * h, shade(col, 1.08))
    pen.rect((x0 + 0.05 * w, y1 - 0.1 * h, x0 + 0.08 * w, y1), (60, 40, 30))
    pen.rect((x1 - 0.08 * w, y1 - 0.1 * h, x1 - 0.05 * w, y1), (60, 40, 30))


def draw_park_bench(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    wood = (150, 96, 50)
    for k in range(2):
        y = y0 + k * 0.18 * h
        pen.rect((x0, y, x1, y + 0.12 * h), wood)
    pen.rect((x0 - 0.03 * w, y0 + 0.5 * h, x1 + 0.03 * w, y0 + 0.62 * h), wood)
    for fx in (0.08, 0.88):
        pen.rect((x0 + fx * w, y0, x0 + (fx + 0.04) * w, y1), (40, 40, 44))


def draw_trees(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    pen.rect((cx - 0.08 * w, y0 + 0.45 * h, cx + 0.08 * w, y1), (100, 70, 44))
    for dx, dy, r in ((0, 0.22, 0.36), (-0.22, 0.34, 0.28), (0.22, 0.34, 0.28)):
        pen.ellipse((cx + dx * w - r * w, y0 + dy * h - r * w, cx + dx * w + r * w, y0 + dy * h + r * w),
                    jitter(rng, (50, 120, 50), 0.12))


def draw_street_lamps(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
    cx = x0 + w / 2
    pen.rect((cx - 0.06 * w, y0 + 0.05 * h, cx + 0.06 * w, y1), (40, 44, 48))
    pen.rect((cx - 0.16 * w, y1 - 0.04 * h, cx + 0.16 * w, y1), (40, 44, 48))
    pen.ellipse((cx - 0.3 * w, y0 - 0.02 * h, cx + 0.3 * w, y0 + 0.1 * h), (255, 220, 140))
    pen.rect((cx - 0.34 * w, y0 - 0.04 * h, cx + 0.34 * w, y0), (40, 44, 48))


def draw_shop_signs(pen, b, rng):
    x0, y0, x1, y1, w, h = box_dims(b)
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


