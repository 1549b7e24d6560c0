"""Personalised fusion of PAT (S1.3.5–S1.3.6, Table 1, Table 5) and the person-mask fallback (S1.3.2).

    S(I) = Σ_p α_p M_p^pers + Σ_l α_l M_l^loc + Σ_e α_e M_e^ev
    A(I) = (close₃ₓ₃(S) ⊛ G_σ=1 − min) / (max − min + ε)

No cross-mask suppression: overlapping masks add (S1.3.6); a missing modality contributes nothing.
Everything is float32 and order-fixed, so the same masks and α give a bit-identical A(I) (S1.3.7).
The post-processing (close, blur, min–max) and the uint8 storage are shared with re-fusion from stored
masks (``rank``, ``pat --session``): :mod:`memoire_cli.session.refusion`; ``quantise`` is re-exported
here for pat's stage.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.session.refusion import postprocess, quantise

__all__ = ["attention_map", "fuse", "gaussian_blob", "quantise"]


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


def attention_map(masks: list[np.ndarray], alphas: list[float], height: int, width: int) -> np.ndarray:
    """A(I) from the per-tag masks and the persona's α (S1.3.5): (H, W) float32 in [0, 1]."""
    return postprocess(fuse(masks, alphas, height, width))
