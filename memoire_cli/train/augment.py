"""Training augmentations (S1.4.2 "Augmentations"), on batches of torch tensors, seeded.

Random resized crop (scale [0.8, 1.0], aspect [3/4, 4/3]), horizontal flip (p = 0.5), colour jitter
(brightness, contrast, saturation, each a factor in [0.8, 1.2]) and Gaussian blur (σ uniform in
[0, 1]; σ < 0.1 means none). Reading of the spec: it says A(I) "is not augmented (beyond resize)"
and also that the maps stay aligned with the image; a crop or flip of the RGB alone would misalign
them, so the *geometric* transforms (crop, flip) are applied identically to A(I) — it is never
recomputed or perturbed in value — and the *photometric* ones (jitter, blur) to RGB only.

Shapes: rgb (B, 3, S, S) float in [0, 1] (before ImageNet normalisation); attention (B, 1, S, S).
"""

from __future__ import annotations

from typing import Any

SCALE = (0.8, 1.0)
RATIO = (3 / 4, 4 / 3)
JITTER = 0.2
MAX_SIGMA = 1.0


def _u(gen: Any, n: int, lo: float, hi: float) -> Any:
    import torch

    return lo + (hi - lo) * torch.rand(n, generator=gen)


def augment(rgb: Any, attention: Any, gen: Any) -> tuple[Any, Any]:
    """Augment a batch; every random draw comes from ``gen`` (a CPU torch.Generator) for determinism."""
    import math

    import torch
    import torch.nn.functional as F

    b, _, s, _ = rgb.shape
    device = rgb.device
    # random resized crop + flip as one affine sampling grid, shared by RGB and A(I)
    area = _u(gen, b, *SCALE)
    log_ratio = _u(gen, b, math.log(RATIO[0]), math.log(RATIO[1]))
    ratio = torch.exp(log_ratio)
    w = torch.clamp(torch.sqrt(area * ratio), max=1.0)
    h = torch.clamp(torch.sqrt(area / ratio), max=1.0)
    cx = (_u(gen, b, 0.0, 1.0) * (1 - w) + w / 2) * 2 - 1
    cy = (_u(gen, b, 0.0, 1.0) * (1 - h) + h / 2) * 2 - 1
    flip = torch.where(torch.rand(b, generator=gen) < 0.5, -1.0, 1.0)
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = w * flip
    theta[:, 0, 2] = cx
    theta[:, 1, 1] = h
    theta[:, 1, 2] = cy
    grid = F.affine_grid(theta.to(device), [b, 1, s, s], align_corners=False)
    rgb = F.grid_sample(rgb, grid, mode="bilinear", padding_mode="border", align_corners=False)
    attention = F.grid_sample(attention, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # colour jitter (RGB only)
    bright = _u(gen, b, 1 - JITTER, 1 + JITTER).to(device).view(b, 1, 1, 1)
    contrast = _u(gen, b, 1 - JITTER, 1 + JITTER).to(device).view(b, 1, 1, 1)
    sat = _u(gen, b, 1 - JITTER, 1 + JITTER).to(device).view(b, 1, 1, 1)
    rgb = rgb * bright
    grey = (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3])
    rgb = (rgb - grey.mean(dim=(2, 3), keepdim=True)) * contrast + grey.mean(dim=(2, 3), keepdim=True)
    grey = (0.299 * rgb[:, 0:1] + 0.587 * rgb[:, 1:2] + 0.114 * rgb[:, 2:3])
    rgb = (rgb - grey) * sat + grey
    # mild Gaussian blur (RGB only), a separable 5-tap kernel per image
    sigma = _u(gen, b, 0.0, MAX_SIGMA).to(device)
    x = torch.arange(-2, 3, dtype=rgb.dtype, device=device).view(1, 5)
    k = torch.exp(-(x**2) / (2 * torch.clamp(sigma, min=0.1).view(b, 1) ** 2))
    k = torch.where((sigma < 0.1).view(b, 1), (x == 0).to(rgb.dtype), k)
    k = k / k.sum(dim=1, keepdim=True)  # (B, 5)
    c = rgb.shape[1]
    weight = k.repeat_interleave(c, dim=0)  # (B·C, 5)
    flat = rgb.reshape(1, b * c, s, s)
    flat = F.conv2d(F.pad(flat, (2, 2, 0, 0), mode="replicate"), weight.view(b * c, 1, 1, 5), groups=b * c)
    flat = F.conv2d(F.pad(flat, (0, 0, 2, 2), mode="replicate"), weight.view(b * c, 1, 5, 1), groups=b * c)
    return flat.view(b, c, s, s).clamp(0.0, 1.0), attention
