"""Layout of a shot in the procedural renderer: where the people stand, per shot plan (S1.1.7).

* **shot plan** (S1.1.7): *intimate portrait* = 1–2 large faces; *medium group* = people waist-up;
  *wide establishing* = full figures with faces of ≈ 40 px at 512²; *detail close-up* = one big prop,
  people only as hands reaching in (no faces; drawn by the renderer, not laid out here).
  Members of the user's social graph stand in the front row; strangers (``relation == "unknown"``)
  and whoever does not fit stand in a smaller back row. Faces never get smaller than
  :data:`MIN_FACE_FRACTION`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from memoire_cli.synth.render.base import ShotSpec
from memoire_cli.synth.render.procedural.figures import FACE_CM, Figure, face_cm

MIN_FACE_FRACTION = 0.066  # smallest face box height, in units of sqrt(W·H) (≈ 34 px at 512²)


@dataclass(frozen=True)
class _Plan:
    """Scale and framing of the people in one shot plan."""

    face_frac: float  # face box height / sqrt(W·H) for one person (intimate) or everyone
    face_y: float  # face centre of a 170 cm adult, fraction of H (medium/intimate)
    compress: float  # how much height differences move faces vertically (1 = true scale)
    feet_y: float | None = None  # wide shots: where feet stand, fraction of H


PLANS: dict[str, _Plan] = {
    "wide establishing": _Plan(0.085, 0.0, 1.0, feet_y=0.93),
    "medium group": _Plan(0.125, 0.34, 0.45),
    "intimate portrait": _Plan(0.27, 0.42, 0.2),
}
INTIMATE_FACE_FRAC = {1: 0.27, 2: 0.21}  # more people: 0.17


def layout(shot: ShotSpec, rng: np.random.Generator, fg_shift: float) -> tuple[list[Figure], float, float]:
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
    figs: list[Figure] = []
    front_y = place_row(shot, rng, front, f, ref_y, plan.compress, ppcm, 0.0, fg_shift, figs)
    if back:
        top = min(front_y) if front_y else ref_y
        back_ref = top - 1.25 * f
        back_figs: list[Figure] = []
        place_row(shot, rng, back, f_back, back_ref, plan.compress, ppcm * 0.85, 0.5, fg_shift, back_figs)
        figs = back_figs + figs
    return figs, ppcm, floor


def place_row(shot: ShotSpec, rng: np.random.Generator, members: list[int], f: float, ref_y: float,
              compress: float, ppcm: float, offset: float, fg_shift: float, out: list[Figure]) -> list[float]:
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
        out.append(Figure(index=i, person=p, cx=x, cy=y, face_h=fj, flip=bool(rng.random() < 0.3),
                          bright=float(rng.uniform(0.9, 1.1))))
        ys.append(y)
    return ys
