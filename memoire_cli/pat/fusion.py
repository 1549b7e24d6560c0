"""Personalised fusion and post-processing of PAT (S1.3.5–S1.3.6, Table 1, Table 5).

    S(I) = Σ_p α_p M_p^pers + Σ_l α_l M_l^loc + Σ_e α_e M_e^ev
    A(I) = (close₃ₓ₃(S) ⊛ G_σ=1 − min) / (max − min + ε)

No cross-mask suppression: overlapping masks add (S1.3.6); a missing modality contributes nothing.
Everything is float32 and order-fixed, so the same masks and α give a bit-identical A(I) (S1.3.7).
"""

from __future__ import annotations

import numpy as np

from memoire_cli.pat.config import BLUR_SIGMA, CLOSE_SIZE, EPSILON  # Table 1


def gaussian_blob(box: tuple[float, float, float, float], height: int, width: int, std_frac: float = 0.35) -> np.ndarray:
    """The person-mask fallback of S1.3.2(3): a Gaussian centred on the face box, std = 0.35 of its
    width and height, renormalised to [0, 1]. Returns (height, width) float32."""
    x0, y0, x1, y1 = box
    sx = max(std_frac * (x1 - x0), 1e-3)
    sy = max(std_frac * (y1 - y0), 1e-3)
    xs = (np.arange(width, dtype=np.float64) + 0.5 - (x0 + x1) / 2) / sx  # (W,)
    ys = (np.arange(height, dtype=np.float64) + 0.5 - (y0 + y1) / 2) / sy  # (H,)
    blob = np.exp(-0.5 * ys[:, None] ** 2) * np.exp(-0.5 * xs[None, :] ** 2)  # (H, W)
    top = blob.max()
    return (blob / top if top > 0 else blob).astype(np.float32)


def fuse(masks: list[np.ndarray], alphas: list[float], height: int, width: int) -> np.ndarray:
    """S(I) = Σ α_t M_t over the tags present (S1.3.5): (H, W) float32; zeros when no mask.

    Masks are clamped to [0, 1] first (Table 5, numerical stability) and summed in the given order.
    """
    if len(masks) != len(alphas):
        raise ValueError(f"{len(masks)} masks but {len(alphas)} weights")
    field = np.zeros((height, width), dtype=np.float32)
    for mask, alpha in zip(masks, alphas):
        if mask.shape != (height, width):
            raise ValueError(f"mask of shape {mask.shape}, expected {(height, width)}")
        field += np.float32(alpha) * np.clip(mask.astype(np.float32), 0.0, 1.0)
    return field


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


def attention_map(masks: list[np.ndarray], alphas: list[float], height: int, width: int) -> np.ndarray:
    """A(I) from the per-tag masks and the persona's α (S1.3.5): (H, W) float32 in [0, 1]."""
    return postprocess(fuse(masks, alphas, height, width))


def quantise(attention: np.ndarray) -> np.ndarray:
    """uint8 storage of a normalised map (Table 5: quantise after normalisation)."""
    return np.round(np.clip(attention, 0.0, 1.0) * 255.0).astype(np.uint8)


def refuse(masks_u8: np.ndarray, alphas: list[float], sigma: float = BLUR_SIGMA) -> np.ndarray:
    """A(I) from stored uint8 masks (k, H, W) and new weights (a session's α*, an ablation's): no model runs.

    Equals :func:`attention_map` of the dequantised masks (M = m / 255, already in [0, 1]); the sum
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
