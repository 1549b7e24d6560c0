"""Contact-sheet tiles that keep what matters in view: a square crop around the faces, else around the
attention map's mass, never a blind centre crop; captions with the file name, stars and reasons.

:func:`crop_box` is the geometry (pure, property-tested): the largest square of the image placed to
contain a focus box whenever the box fits in it; a box that does not fit (a group wider than a tall
photo) gets a larger, non-square crop that still contains it, and the tile letterboxes it. So a
face box inside the image is always inside its tile.

:func:`overlay_panel` draws an attention map over its photo (a JET heat map blended at 50%, as Fig. 6):
``memoire pat --overlay`` writes the whole panel, rank's contact-sheet tiles use its middle.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels (x1, y1 exclusive)

#: Room kept around a face box for the rest of the head, as a fraction of the box's height.
HEAD_MARGIN = 0.35
#: The attention box spans these quantiles of A's mass along each axis.
MASS_QUANTILES = (0.2, 0.8)


def _window(lo: int, hi: int, size: int, extent: int) -> int:
    """Start of a window of ``size`` (≤ ``extent``) within [0, extent) containing [lo, hi) when hi − lo ≤ size."""
    start = (lo + hi - size) // 2
    return min(max(start, 0), extent - size)


def crop_box(width: int, height: int, box: Box | None = None) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) integer crop of a ``width`` × ``height`` image, within it, around ``box``.

    The largest square (side min(width, height)) centred on the box and moved inside the image; when
    the box (clipped to the image) is wider or taller than that square, the crop grows to contain it
    on that axis. Without a box: the centred square.
    """
    side = min(width, height)
    if box is None:
        box = (width / 2, height / 2, width / 2, height / 2)
    x0, y0, x1, y1 = box
    lo_x, hi_x = min(max(math.floor(x0), 0), width), min(max(math.ceil(x1), 0), width)
    lo_y, hi_y = min(max(math.floor(y0), 0), height), min(max(math.ceil(y1), 0), height)
    hi_x, hi_y = max(hi_x, lo_x), max(hi_y, lo_y)
    cw, ch = max(side, hi_x - lo_x), max(side, hi_y - lo_y)
    left, top = _window(lo_x, hi_x, cw, width), _window(lo_y, hi_y, ch, height)
    return left, top, left + cw, top + ch


def fits(width: int, height: int, box: Box) -> bool:
    """Whether ``box`` fits in the largest square of the image."""
    side = min(width, height)
    return box[2] - box[0] <= side and box[3] - box[1] <= side


def union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def head_box(faces: list[Box], width: int, height: int) -> Box:
    """The union of the face boxes with room for the heads (:data:`HEAD_MARGIN`), clipped to the image."""
    x0, y0, x1, y1 = union(faces)
    m = HEAD_MARGIN * max(b[3] - b[1] for b in faces)
    return max(0.0, x0 - m), max(0.0, y0 - m), min(float(width), x1 + m), min(float(height), y1 + m / 2)


def mass_box(attention: np.ndarray) -> Box | None:
    """The box spanning :data:`MASS_QUANTILES` of the (H, W) map's mass along each axis; None when it is empty."""
    a = np.asarray(attention, np.float64)
    total = a.sum()
    if not np.isfinite(total) or total <= 0:
        return None
    lo, hi = MASS_QUANTILES
    out = []
    for marginal in (a.sum(axis=0), a.sum(axis=1)):
        cum = np.cumsum(marginal) / total
        out.append((float(np.searchsorted(cum, lo)), float(np.searchsorted(cum, hi) + 1)))
    (x0, x1), (y0, y1) = out
    return x0, y0, x1, y1


def focus_crop(width: int, height: int, faces: list[Box], attention: np.ndarray | None = None) -> tuple[int, int, int, int]:
    """The crop of one image: around its faces (with their heads when that fits, else the faces), else
    around the attention's mass (its quantile box, or its median point when the box is too large), else centred."""
    faces = [f for f in faces if f[2] > f[0] and f[3] > f[1]]
    if faces:
        heads = head_box(faces, width, height)
        return crop_box(width, height, heads if fits(width, height, heads) else union(faces))
    box = mass_box(attention) if attention is not None else None
    if box is not None and not fits(width, height, box):
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        box = (cx, cy, cx, cy)
    return crop_box(width, height, box)


def overlay_panel(image: np.ndarray, attention_u8: np.ndarray) -> np.ndarray:
    """(H, 3W, 3) uint8: photo | photo with the heat map | A(I) in grey. Inputs (H, W, 3) and (H, W) uint8."""
    import cv2

    heat = cv2.applyColorMap(attention_u8, cv2.COLORMAP_JET)[:, :, ::-1]  # BGR → RGB, (H, W, 3)
    weight = (attention_u8.astype(np.float32) / 255.0)[:, :, None] * 0.5
    blended = (image.astype(np.float32) * (1 - weight) + heat.astype(np.float32) * weight).round().astype(np.uint8)
    grey = np.repeat(attention_u8[:, :, None], 3, axis=2)
    return np.concatenate([image, blended, grey], axis=1)


def tile(image: np.ndarray, crop: tuple[int, int, int, int], side: int, background: int = 255) -> np.ndarray:
    """(side, side, 3) uint8: the crop of the (H, W, 3) image scaled to fit, letterboxed when not square."""
    import cv2

    x0, y0, x1, y1 = crop
    part = np.ascontiguousarray(image[y0:y1, x0:x1])
    h, w = part.shape[:2]
    scale = side / max(h, w, 1)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(part, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.full((side, side, 3), background, np.uint8)
    top, left = (side - nh) // 2, (side - nw) // 2
    out[top:top + nh, left:left + nw] = small
    return out


def face_boxes(ws: Any, user_id: str, sizes: dict[str, tuple[int, int]]) -> dict[str, list[Box]]:
    """image id → face boxes in the stored pixels: every face pat detected (``pat_faces``) and, for
    ingested stills, the face regions of the photo's metadata (``ingest_files.metadata``, upright,
    normalised). ``sizes``: image id → (width, height) of the images wanted."""
    out: dict[str, list[Box]] = {i: [] for i in sizes}
    for image_id, x0, y0, x1, y1 in ws.query("SELECT image_id, x0, y0, x1, y1 FROM pat_faces WHERE user_id = ?", [user_id]):
        if image_id in out:
            out[image_id].append((x0, y0, x1, y1))
    rows = ws.query("SELECT image_ids, json_extract(metadata, '$.regions') FROM ingest_files WHERE user_id = ? AND status = 'ingested' "
                    "AND media = 'still'", [user_id])
    for ids, regions in rows:
        first = json.loads(ids or "[]")
        image_id = first[0] if first else None
        if image_id not in out or not regions:
            continue
        w, h = sizes[image_id]
        for region in json.loads(regions):
            _, rx0, ry0, rx1, ry1 = region
            out[image_id].append((rx0 * w, ry0 * h, rx1 * w, ry1 * h))
    return out


def stars(rating: float | None, impact: float | None) -> str:
    """★★★★☆: the owner's rating when there is one (−1: "rejected"), else the impact (0–100) as stars out of 5."""
    if rating is not None and rating < 0:
        return "rejected"
    if rating is not None and rating >= 1:
        n = int(round(min(rating, 5)))
    elif impact is not None and math.isfinite(impact):
        n = int(round(min(max(impact, 0.0), 100.0) / 20))
    else:
        return ""
    return "★" * n + "☆" * (5 - n)


def font(size: int = 11) -> Any:
    """DejaVu Sans at ``size`` px (shipped with matplotlib; it has ★), else Pillow's default font."""
    import importlib.util
    from pathlib import Path

    from PIL import ImageFont

    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    return ImageFont.load_default(size)


def fit_text(draw: Any, text: str, width: int, face: Any) -> str:
    """``text`` shortened with "…" in the middle (a file name keeps its end) to fit ``width`` pixels."""
    if draw.textlength(text, font=face) <= width:
        return text
    keep = len(text)
    while keep > 1:
        keep -= 1
        head, tail = (keep + 1) // 2, keep // 2
        short = text[:head] + "…" + (text[-tail:] if tail else "")
        if draw.textlength(short, font=face) <= width:
            return short
    return "…"


def draw_caption(draw: Any, xy: tuple[int, int], lines: list[str], width: int, face: Any, line_h: int) -> None:
    """Caption lines under a tile, each shortened to ``width`` pixels."""
    x, y = xy
    for k, line in enumerate(lines):
        draw.text((x, y + k * line_h), fit_text(draw, line, width, face), fill="black", font=face)
