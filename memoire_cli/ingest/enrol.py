"""The enrolment face of each named person, stored as `synth`'s anchors are (S1.1.1, S1.3.2(2)).

``pat`` enrols a person from their anchor portraits (``anchors`` table + ``users/{user_id}/anchors``
array): it detects the best face of each portrait and averages the ArcFace embeddings. For a real
gallery the portrait is cut from the person's named face regions:

* **Candidates**: every named face region of the person whose box is at least
  :data:`MIN_FACE_PX` pixels wide in the stored image.
* **Choice**: the sharpest, most frontal one. Sharpness is the variance of the 4-neighbour
  Laplacian of the face box (grey, rescaled to 64×64, so faces of any size compare); frontality is
  the correlation of the box with its mirror image (a frontal face is nearly left–right symmetric).
  Candidates are ranked by each (higher is better) and the lowest rank sum wins (ties: the larger
  face, then the earlier image).
* **Portrait**: a square around the box, :data:`MARGIN` × its longer side (so the detector sees the
  whole head with context), clipped to the image, resized to ``anchor_size`` (zero-padded when the
  clip is not square).

A ``reference`` in the relations file overrides the choice: that photo's region for the person if
it has one, else the whole photo (centre square).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_FACE_PX = 12
MARGIN = 2.0
_Q = 64


def _grey64(crop: np.ndarray) -> np.ndarray:
    from PIL import Image

    grey = np.asarray(Image.fromarray(crop).convert("L").resize((_Q, _Q), Image.Resampling.BILINEAR), dtype=np.float64)
    return grey


def face_quality(pixels: np.ndarray, box: tuple[float, float, float, float]) -> tuple[float, float, int] | None:
    """(sharpness, frontality, side in pixels) of a normalised (x0, y0, x1, y1) box of (h, w, 3) pixels."""
    h, w = pixels.shape[:2]
    x0, y0, x1, y1 = int(box[0] * w), int(box[1] * h), int(np.ceil(box[2] * w)), int(np.ceil(box[3] * h))
    if x1 - x0 < MIN_FACE_PX or y1 - y0 < MIN_FACE_PX:
        return None
    g = _grey64(pixels[y0:y1, x0:x1])
    lap = g[1:-1, 1:-1] * 4 - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    sharp = float(lap.var())
    a, b = g - g.mean(), g[:, ::-1] - g.mean()
    denom = float(np.sqrt((a * a).sum() * (b * b).sum()))
    frontal = float((a * b).sum() / denom) if denom > 0 else 0.0
    return sharp, frontal, max(x1 - x0, y1 - y0)


def choose(candidates: list[tuple[float, float, int, int]]) -> int:
    """Index of the best (sharpness, frontality, side, order) candidate (module docstring)."""
    sharp = np.array([c[0] for c in candidates])
    front = np.array([c[1] for c in candidates])
    rank = (-sharp).argsort().argsort() + (-front).argsort().argsort()
    return min(range(len(candidates)), key=lambda i: (int(rank[i]), -candidates[i][2], candidates[i][3]))


def portrait(pixels: np.ndarray, box: tuple[float, float, float, float] | None, size: int) -> np.ndarray:
    """(size, size, 3) uint8 portrait around a normalised box (None: the centre square of the image)."""
    from PIL import Image

    h, w = pixels.shape[:2]
    if box is None:
        side = min(h, w)
        cx, cy = w / 2, h / 2
    else:
        cx, cy = (box[0] + box[2]) / 2 * w, (box[1] + box[3]) / 2 * h
        side = MARGIN * max((box[2] - box[0]) * w, (box[3] - box[1]) * h)
    x0, y0 = int(max(0, round(cx - side / 2))), int(max(0, round(cy - side / 2)))
    x1, y1 = int(min(w, round(cx + side / 2))), int(min(h, round(cy + side / 2)))
    crop = pixels[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    ch, cw = crop.shape[:2]
    scale = size / max(ch, cw)
    resized = np.asarray(Image.fromarray(crop).resize((max(1, round(cw * scale)), max(1, round(ch * scale))), Image.Resampling.LANCZOS))
    out = np.zeros((size, size, 3), dtype=np.uint8)
    rh, rw = resized.shape[:2]
    oy, ox = (size - rh) // 2, (size - rw) // 2
    out[oy:oy + rh, ox:ox + rw] = resized
    return out


@dataclass(frozen=True)
class FaceCandidate:
    """A named face region of a still, scored, with its portrait already cut (so pixels need not be kept)."""

    name: str
    sharpness: float
    frontality: float
    side: int
    portrait: np.ndarray  # (anchor_size, anchor_size, 3) uint8


def face_candidates(pixels: np.ndarray, regions: list[tuple], anchor_size: int) -> list[FaceCandidate]:
    """The enrolment candidates of one still: its named face regions that are large enough."""
    out = []
    for name, *box in regions:
        if not name:
            continue
        q = face_quality(pixels, tuple(box))
        if q is not None:
            out.append(FaceCandidate(name, q[0], q[1], q[2], portrait(pixels, tuple(box), anchor_size)))
    return out
