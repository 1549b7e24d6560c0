"""Identity conditioning from the enrolment anchors (S1.1.4 InstantID settings, S1.1.6 re-renders).

InstantID (S1.1.4) conditions SDXL on an ArcFace embedding (λ_id = 0.8) and a facial-keypoint
ControlNet (λ_pose = 0.2), with 1–3 reference portraits per person, a *tiled identity grid* when
several people appear, and per-person crops. For SD3 the identity adapter diffusers supports is the
SD3 IP-Adapter (:mod:`.models`), which reads one reference image through SigLIP. This module builds
that image:

* :func:`face_crop` — a square crop around the anchor's face (the face box grown by ``margin``);
  QC re-renders use tighter crops (S1.1.4 "tighter face crops");
* :func:`identity_grid` — the crops of every depicted person tiled in role order on a near-square
  grid (S1.1.4 "tiled identity grid"); one person → its crop alone;
* the adapter scale is λ_id (``base.identity_weight``: 0.8, +0.1 per QC re-render, at most 1.0).
"""

from __future__ import annotations

import math

import numpy as np

#: Face-box growth of the reference crop per QC level: 0.6 (face + hair + chin), then tighter.
CROP_MARGINS = (0.6, 0.35, 0.2)
GRID_CELL = 384  # pixels per grid cell (SigLIP so400m reads 384²)


def crop_margin(qc_level: int) -> float:
    return CROP_MARGINS[min(max(qc_level, 0), len(CROP_MARGINS) - 1)]


def face_crop(image: np.ndarray, box: tuple[float, float, float, float] | None, margin: float, size: int = GRID_CELL) -> np.ndarray:
    """(size, size, 3) uint8: a square crop centred on ``box`` (x0, y0, x1, y1), grown by ``margin`` per side.

    Without a box (no face found in the anchor) the central square of the image is used.
    """
    from PIL import Image

    h, w = image.shape[:2]
    if box is None:
        side = min(h, w)
        x0, y0 = (w - side) / 2, (h - side) / 2
    else:
        bx0, by0, bx1, by1 = box
        side = max(bx1 - bx0, by1 - by0) * (1 + 2 * margin)
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        x0, y0 = cx - side / 2, cy - side / 2
    crop = Image.fromarray(image).crop((int(round(x0)), int(round(y0)), int(round(x0 + side)), int(round(y0 + side))))
    return np.asarray(crop.resize((size, size), Image.Resampling.LANCZOS))


def identity_grid(crops: list[np.ndarray], cell: int = GRID_CELL) -> np.ndarray | None:
    """Tile per-person crops (each (cell, cell, 3)) row-major on a ⌈√n⌉-column grid; None for no crops."""
    if not crops:
        return None
    if len(crops) == 1:
        return crops[0]
    cols = math.ceil(math.sqrt(len(crops)))
    rows = math.ceil(len(crops) / cols)
    grid = np.full((rows * cell, cols * cell, 3), 127, np.uint8)
    for i, c in enumerate(crops):
        r, k = divmod(i, cols)
        grid[r * cell:(r + 1) * cell, k * cell:(k + 1) * cell] = c
    return grid
