"""PAT pre-processing and coordinate convention (S1.3.1, Table 1 "Resizing").

The image is converted to RGB float32 (uint8 → float32, values kept in [0, 255]), resized with its
aspect ratio preserved so that the long side is at most 1024 px (never upscaled), and the per-axis
scale factors are kept so that boxes and masks found on the resized frame map back to (H × W). All
detectors and segmenters run on the resized frame; every mask is finally resampled **bilinearly** to
the original H × W (:func:`resize_back`).

Determinism: resampling uses OpenCV with a fixed interpolation: ``INTER_AREA`` to shrink the image
(area averaging, no aliasing) and ``INTER_LINEAR`` (bilinear, the spec's choice) for the masks. Both
are pure functions of their input, so the same image gives bit-identical outputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LONG_SIDE_CAP = 1024  # Table 1: long-side cap, px


@dataclass(frozen=True)
class Preprocessed:
    """The resized frame of S1.3.1 and its mapping back to the original image.

    ``image`` is (h, w, 3) float32 RGB in [0, 255]; ``height``/``width`` are the original H, W;
    ``scale_x = w / W`` and ``scale_y = h / H`` (resized per original pixel, ≤ 1).
    """

    image: np.ndarray  # (h, w, 3) float32
    height: int
    width: int
    scale_x: float
    scale_y: float

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) of the resized frame."""
        return int(self.image.shape[0]), int(self.image.shape[1])

    def as_uint8(self) -> np.ndarray:
        """The resized frame as (h, w, 3) uint8 (rounded, clipped) for detectors that take bytes."""
        return np.clip(np.rint(self.image), 0, 255).astype(np.uint8)

    def box_to_original(self, box: tuple[float, float, float, float] | np.ndarray) -> tuple[float, float, float, float]:
        """A box (x0, y0, x1, y1) on the resized frame in original pixel coordinates."""
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        return (x0 / self.scale_x, y0 / self.scale_y, x1 / self.scale_x, y1 / self.scale_y)

    def box_to_resized(self, box: tuple[float, float, float, float] | np.ndarray) -> tuple[float, float, float, float]:
        """A box (x0, y0, x1, y1) in original pixels on the resized frame."""
        x0, y0, x1, y1 = (float(v) for v in box[:4])
        return (x0 * self.scale_x, y0 * self.scale_y, x1 * self.scale_x, y1 * self.scale_y)


def resized_size(height: int, width: int, cap: int = LONG_SIDE_CAP) -> tuple[int, int]:
    """(h, w) with the long side ≤ ``cap`` and the aspect kept; never larger than (height, width)."""
    if height <= 0 or width <= 0:
        raise ValueError(f"image of size {height}×{width}")
    long_side = max(height, width)
    if long_side <= cap:
        return height, width
    s = cap / long_side
    return max(1, min(cap, int(round(height * s)))), max(1, min(cap, int(round(width * s))))


def preprocess(image_rgb: np.ndarray, cap: int = LONG_SIDE_CAP) -> Preprocessed:
    """S1.3.1: (H, W, 3) RGB (uint8 or float in [0, 255]) → :class:`Preprocessed` (float32, long side ≤ cap).

    A grey (H, W) or RGBA (H, W, 4) input is converted to RGB first.
    """
    img = np.asarray(image_rgb)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {img.shape}")
    img = img[:, :, :3].astype(np.float32)  # (H, W, 3) float32
    height, width = int(img.shape[0]), int(img.shape[1])
    h, w = resized_size(height, width, cap)
    if (h, w) != (height, width):
        import cv2

        img = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
    return Preprocessed(np.ascontiguousarray(img), height, width, w / width, h / height)


def resize_back(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resample of a (h, w) mask to (height, width), float32 clamped to [0, 1] (Table 1/5)."""
    m = np.asarray(mask, dtype=np.float32)
    if m.ndim != 2:
        raise ValueError(f"expected an (h, w) mask, got shape {m.shape}")
    if m.shape != (height, width):
        import cv2

        m = cv2.resize(m, (int(width), int(height)), interpolation=cv2.INTER_LINEAR)
    return np.clip(m, 0.0, 1.0).astype(np.float32)
