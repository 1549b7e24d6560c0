"""Shortest-side resize and centre crop to a square (the spec's 224×224 "resize + center-crop", S2.3)."""

from __future__ import annotations

import numpy as np


def square(image: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 → (size, size, 3) uint8: shortest side to ``size`` (area when shrinking, cubic
    when enlarging), then the centre crop."""
    import cv2

    h, w = image.shape[:2]
    if h < 1 or w < 1:
        raise ValueError(f"empty image of shape {image.shape}")
    scale = size / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(np.ascontiguousarray(image), (nw, nh), interpolation=interp)
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(resized[y0:y0 + size, x0:x0 + size])


def squares(images: list[np.ndarray], size: int) -> np.ndarray:
    """Images of any sizes → (N, size, size, 3) uint8."""
    out = np.zeros((len(images), size, size, 3), np.uint8)
    for i, image in enumerate(images):
        out[i] = square(image, size)
    return out
