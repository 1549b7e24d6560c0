"""A handcrafted image descriptor: the last-resort offline embedding (no model weights at all).

Per image, resized to 64×64 (area): a joint HSV colour histogram (8 hue × 4 saturation × 4 value
bins, 128) and, on a 2×2 grid, histograms of gradient orientation weighted by magnitude (8 unsigned
bins per cell, 32). Both parts are square-rooted (the Hellinger map, so a cosine compares
distributions), each L2-normalised, concatenated with equal weight and L2-normalised: (N, 160).
Near-duplicates (same scene, same framing) come out at cosine ≈ 1; different scenes lower.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.embed import check_images, l2_normalise

SIDE = 64
HSV_BINS = (8, 4, 4)
ORIENT_BINS = 8
GRID = 2


class DescriptorEmbedder:
    name = "colour-texture-v1"

    def embed(self, images: np.ndarray, batch_size: int = 32) -> np.ndarray:
        images = check_images(images)
        return np.stack([descriptor(im) for im in images]) if len(images) else np.zeros((0, self.dim), np.float32)

    @property
    def dim(self) -> int:
        return int(np.prod(HSV_BINS)) + ORIENT_BINS * GRID * GRID


def descriptor(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 → (160,) float32, unit norm."""
    import cv2

    small = cv2.resize(np.ascontiguousarray(image), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)  # H in [0, 180), S, V in [0, 256)
    h = np.minimum(hsv[..., 0].astype(np.int64) * HSV_BINS[0] // 180, HSV_BINS[0] - 1)
    s = hsv[..., 1].astype(np.int64) * HSV_BINS[1] // 256
    v = hsv[..., 2].astype(np.int64) * HSV_BINS[2] // 256
    colour = np.bincount((((h * HSV_BINS[1]) + s) * HSV_BINS[2] + v).ravel(), minlength=int(np.prod(HSV_BINS))).astype(np.float32)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.hypot(gx, gy)
    bins = np.minimum((np.mod(np.arctan2(gy, gx), np.pi) / np.pi * ORIENT_BINS).astype(np.int64), ORIENT_BINS - 1)
    cell = SIDE // GRID
    texture = []
    for gy_ in range(GRID):
        for gx_ in range(GRID):
            sl = (slice(gy_ * cell, (gy_ + 1) * cell), slice(gx_ * cell, (gx_ + 1) * cell))
            texture.append(np.bincount(bins[sl].ravel(), weights=mag[sl].ravel(), minlength=ORIENT_BINS))
    parts = [np.sqrt(colour)[None], np.sqrt(np.concatenate(texture).astype(np.float32))[None]]
    return l2_normalise(np.concatenate([l2_normalise(p) for p in parts], axis=1))[0]
