"""Pose conditioning for SD3 (S1.1.4 λ_pose = 0.2): OpenPose skeletons where the shot's people stand.

InstantID's second branch (IdentityNet) is a ControlNet on facial keypoints, weighted λ_pose = 0.2 so
that pose may vary. There is no facial-keypoint ControlNet for SD3; the SD3 ControlNet that
diffusers loads for pose (``SD3ControlNetModel``, e.g. ``InstantX/SD3-Controlnet-Pose``) reads
OpenPose body skeletons. This module draws them: people are placed by the procedural renderer's
layout of the same shot (:func:`memoire_cli.synth.render.procedural.layout.layout`: rows by shot
plan, kin in front, strangers behind, sizes by age and height), and each figure becomes the
18 COCO keypoints in OpenPose's colours, with body proportions from its height. The control image
is passed at scale λ_pose: composition and who-stands-where follow the plan, but weakly.

Shapes: :func:`pose_image` returns (H, W, 3) uint8 RGB, black background.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.synth.render.base import ShotSpec

#: Keypoint offsets from the face centre, in units of the person's height: (dx, dy), dx to the person's right.
#: COCO-18 order: nose, neck, r-shoulder, r-elbow, r-wrist, l-shoulder, l-elbow, l-wrist, r-hip, r-knee,
#: r-ankle, l-hip, l-knee, l-ankle, r-eye, l-eye, r-ear, l-ear.
KEYPOINTS = np.array([
    (0.0, 0.0), (0.0, 0.09), (-0.12, 0.11), (-0.14, 0.27), (-0.14, 0.41), (0.12, 0.11), (0.14, 0.27), (0.14, 0.41),
    (-0.06, 0.44), (-0.065, 0.67), (-0.065, 0.9), (0.06, 0.44), (0.065, 0.67), (0.065, 0.9),
    (-0.02, -0.02), (0.02, -0.02), (-0.045, -0.01), (0.045, -0.01),
])
#: OpenPose limbs (1-based keypoint pairs, as in the OpenPose/ControlNet annotator) and colours.
LIMBS = ((2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10), (10, 11), (2, 12), (12, 13), (13, 14),
         (2, 1), (1, 15), (15, 17), (1, 16), (16, 18))
COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
           (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
           (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))


def skeletons(shot: ShotSpec, width: int, height: int) -> list[np.ndarray]:
    """Per laid-out person, (18, 2) keypoints in pixels of a width × height image (NaN: not in frame)."""
    from memoire_cli.synth.render.procedural.figures import face_cm
    from memoire_cli.synth.render.procedural.layout import layout
    from memoire_cli.synth.render.procedural.renderer import PAN_FOREGROUND

    if shot.shot_plan == "detail close-up" or not shot.people:
        return []
    scaled = ShotSpec(**{**shot.__dict__, "width": width, "height": height, "references": ()})
    figs, _, _ = layout(scaled, np.random.default_rng(shot.seed), shot.pan * PAN_FOREGROUND * width)
    out = []
    for fig in figs:
        tall = fig.face_h / face_cm(fig.person.age) * float(fig.person.height_cm)  # the person's height in pixels
        sign = -1.0 if fig.flip else 1.0
        pts = np.stack([fig.cx + sign * KEYPOINTS[:, 0] * tall, fig.cy + KEYPOINTS[:, 1] * tall], axis=1)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < width) & (pts[:, 1] >= 0) & (pts[:, 1] < height)
        pts[~inside] = np.nan
        out.append(pts)
    return out


def pose_image(shot: ShotSpec, width: int, height: int) -> np.ndarray | None:
    """The OpenPose control image of a shot, or None when no keypoint is in frame (then no pose control)."""
    from PIL import Image, ImageDraw

    people = skeletons(shot, width, height)
    if not people or all(np.isnan(p).all() for p in people):
        return None
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    stick = max(2, round(min(width, height) / 128))
    for pts in people:
        for k, (a, b) in enumerate(LIMBS):
            pa, pb = pts[a - 1], pts[b - 1]
            if not (np.isnan(pa).any() or np.isnan(pb).any()):
                draw.line([tuple(pa), tuple(pb)], fill=tuple(int(c * 0.6) for c in COLOURS[k]), width=2 * stick)
        for k, p in enumerate(pts):
            if not np.isnan(p).any():
                draw.ellipse([p[0] - stick, p[1] - stick, p[0] + stick, p[1] + stick], fill=COLOURS[k])
    return np.asarray(img)
