"""Placement of event props in a shot of the procedural renderer (S1.1.2 props, S1.1.7 composition).

Props are placed by layer (see :class:`~memoire_cli.synth.render.procedural.props.Prop`): "back"
props stand behind the people (centred for :data:`~memoire_cli.synth.render.procedural.props.CENTRE_PROPS`,
else at alternating sides), "top" props hang in the upper part of the frame, "ground" props lie on the
floor band, "front" objects stand in front of the people but below every face (tabletop objects on a
drawn table), "worn" props go on a person's head and "held" props in a person's hand. Sizes follow
the shot's pixels per centimetre.
"""

from __future__ import annotations

import math

import numpy as np

from memoire_cli.synth.render.base import ShotSpec
from memoire_cli.synth.render.procedural.figures import DrawnFigure, Figure
from memoire_cli.synth.render.procedural.pen import LABEL_EVENT, Box, Pen
from memoire_cli.synth.render.procedural.props import CENTRE_PROPS, Prop, prop_spec
from memoire_cli.synth.render.procedural.props_activities import sun_hat
from memoire_cli.synth.render.procedural.props_celebrations import mortarboard, santa_hat, witch_hat


def front_box(spec: Prop, W: int, H: int, ppcm: float, floor: float, x: float, face_bottom: float,
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


def prop_box(spec: Prop, shot: ShotSpec, rng: np.random.Generator, ppcm: float, floor: float, slot_x: float,
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
        return front_box(spec, W, H, ppcm, floor, slot_x, face_bottom, surface)
    s = min(ppcm, 0.88 * H / hc, 0.55 * W / wc)
    w, h = wc * s, hc * s
    minimum = 0.09 * math.sqrt(W * H)
    if max(w, h) < minimum:
        k = minimum / max(w, h)
        w, h = w * k, h * k
    base = min(floor, 0.98 * H)
    return (slot_x - w / 2, base - h, slot_x + w / 2, base)


def draw_props(pen: Pen, shot: ShotSpec, rng: np.random.Generator, ppcm: float, floor: float, figs: list[Figure],
               drawn: dict[int, DrawnFigure], layers: tuple[str, ...], slots: list[tuple[str, Prop, float]]) -> None:
    """Draw the props of ``layers`` at their slots; tabletop objects stand on a drawn table."""
    pen.label = LABEL_EVENT
    face_bottom = max((d.face_box[3] for d in drawn.values()), default=0.0)
    surface = None
    for name, spec, x in slots:
        if spec.layer not in layers:
            continue
        if spec.layer == "worn":
            draw_worn(pen, name, spec, shot, rng, figs, drawn, x, face_bottom, ppcm, floor)
        elif spec.layer == "held":
            draw_held(pen, name, spec, shot, rng, figs, drawn, x, ppcm, floor, face_bottom)
        else:
            box = prop_box(spec, shot, rng, ppcm, floor, x, face_bottom, surface)
            spec.fn(pen, box, rng)
            if spec.span:
                surface = box[1] + 0.12 * (box[3] - box[1])


def draw_worn(pen, name, spec, shot, rng, figs, drawn, x, face_bottom, ppcm, floor) -> None:
    """A worn prop (hat) on the head of one of the people; hats have drawings fitted to the face box."""
    wearers = [f for f in figs if f.person.relation != "unknown"] or figs
    if not wearers:
        box = prop_box(Prop(spec.fn, "front", spec.size_cm), shot, rng, ppcm, floor, x, face_bottom)
        spec.fn(pen, box, rng)
        return
    fig = wearers[int(rng.integers(len(wearers)))]
    box = drawn[fig.index].face_box
    fw = box[2] - box[0]
    cx, top = (box[0] + box[2]) / 2, box[1] - 0.02 * fw
    if name == "cap and gown":
        mortarboard(pen, cx, top - 0.22 * fw, 1.5 * fw)
    elif name == "santa hat":
        santa_hat(pen, cx, top, 1.3 * fw)
    elif name == "sun hat":
        sun_hat(pen, cx, top, 2.0 * fw)
    elif name == "costume":
        witch_hat(pen, cx, top, 1.6 * fw)
    else:
        spec.fn(pen, (cx - 0.6 * fw, top - 0.8 * fw, cx + 0.6 * fw, top), rng)


def draw_held(pen, name, spec, shot, rng, figs, drawn, x, ppcm, floor, face_bottom) -> None:
    """A held prop (selfie stick, trekking poles) in the right hand of one of the people."""
    holders = [f for f in figs if f.person.relation != "unknown"] or figs
    if not holders:
        box = prop_box(Prop(spec.fn, "back", spec.size_cm), shot, rng, ppcm, floor, x, face_bottom)
        spec.fn(pen, box, rng)
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


def prop_slots(shot: ShotSpec, rng: np.random.Generator, names: tuple[str, ...]) -> list[tuple[str, Prop, float]]:
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
