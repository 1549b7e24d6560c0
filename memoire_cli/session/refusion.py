"""Re-fusion: A*(I) from stored per-tag masks and new weights, and its post-processing (S1.3.5–S1.3.6, Table 1, Table 5).

    A*(I) = (close₃ₓ₃(Σ_t α*_t M_t) ⊛ G_σ=1 − min) / (max − min + ε)

:func:`refuse` re-fuses a session's α* (S1.2.8) — or an ablation's weights — with the uint8 masks
``pat`` stored (``pat_masks``, ``(k, H, W)``): no detector, segmenter or grounder runs.
:func:`postprocess` is the post-processing of S1.3.6 that ``pat``'s own A(I) uses too
(:func:`memoire_cli.pat.fusion.attention_map`); :func:`quantise` its uint8 storage (Table 5).
Everything is float32 and order-fixed, so the same masks and α give a bit-identical map (S1.3.7).
numpy and OpenCV only (OpenCV imported inside :func:`postprocess`).
"""

from __future__ import annotations

import numpy as np

from memoire_cli.table1 import BLUR_SIGMA, CLOSE_SIZE, EPSILON


def postprocess(field: np.ndarray, sigma: float = BLUR_SIGMA) -> np.ndarray:
    """3×3 grey close (1 iteration), Gaussian blur σ = 1 px, min–max with ε, clamp: A(I) in [0, 1] float32.

    ``sigma`` (px, > 0) replaces Table 1's σ = 1 for S2.4 B5's sensitivity rows; the default gives the
    same bytes as before the knob existed (OpenCV derives its kernel from σ alone).

    OpenCV with replicated borders (the 9-tap kernel OpenCV derives from σ = 1 equals SciPy's
    ``gaussian_filter`` truncated at 4σ to within 3e-7, and the close is identical); 17–40× faster
    than SciPy, which matters for re-fusion of stored masks.
    """
    import cv2

    if not sigma > 0:
        raise ValueError(f"blur σ must be positive, got {sigma}")
    kernel = np.ones((CLOSE_SIZE, CLOSE_SIZE), np.uint8)
    closed = cv2.morphologyEx(np.ascontiguousarray(field, dtype=np.float32), cv2.MORPH_CLOSE, kernel,
                              iterations=1, borderType=cv2.BORDER_REPLICATE)
    smooth = cv2.GaussianBlur(closed, (0, 0), float(sigma), borderType=cv2.BORDER_REPLICATE)
    lo, hi = smooth.min(), smooth.max()
    out = (smooth - lo) / (hi - lo + np.float32(EPSILON))
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def quantise(attention: np.ndarray) -> np.ndarray:
    """uint8 storage of a normalised map (Table 5: quantise after normalisation)."""
    return np.round(np.clip(attention, 0.0, 1.0) * 255.0).astype(np.uint8)


def refuse(masks_u8: np.ndarray, alphas: list[float], sigma: float = BLUR_SIGMA) -> np.ndarray:
    """A(I) from stored uint8 masks (k, H, W) and new weights (a session's α*, an ablation's): no model runs.

    Equals :func:`memoire_cli.pat.fusion.attention_map` of the dequantised masks (M = m / 255, already in [0, 1]); the sum
    is accumulated straight from uint8 in float32, in mask order. ``sigma``: the blur σ of
    :func:`postprocess` (Table 1's 1 px by default).
    """
    if len(masks_u8) != len(alphas):
        raise ValueError(f"{len(masks_u8)} masks but {len(alphas)} weights")
    _, height, width = masks_u8.shape
    field = np.zeros((height, width), dtype=np.float32)
    scratch = np.empty((height, width), dtype=np.float32)
    for mask, alpha in zip(masks_u8, alphas):
        np.multiply(mask, np.float32(alpha) / np.float32(255.0), out=scratch, dtype=np.float32)
        field += scratch
    return postprocess(field, sigma)
