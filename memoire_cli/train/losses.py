"""Training objectives of the impact predictor (S1.4.2 "Objectives", Table 6). torch tensors throughout.

* ``logistic`` (default): L_rank = log(1 + exp(−(s⁺ − s⁻))) — softplus, numerically stable.
* ``hinge`` (ablation B4): L_hinge = max(0, m − (s⁺ − s⁻)), m = 1.
* ``l2-kendall`` (Table 6's alternative): L2 regression of s(I) to a normalised target plus a Kendall-τ
  surrogate. The target: the image's win rate over its training pairs (in [0, 1]; the labels are the
  only supervision train may read, the PIS ground truth being eval's alone); the surrogate:
  (1 − tanh(s⁺ − s⁻)) / 2 per pair, a smooth version of the discordant-pair indicator whose mean is
  (1 − τ) / 2.
* Alignment: L_align = 1 − corr(Ŝ(I), A(I)), Ŝ = Grad-CAM over the penultimate feature map
  (:func:`gradcam`), corr = Pearson over the map's cells, A(I) average-pooled to that grid.

Total: L = L_rank + λ L_align (λ = ``align_weight``).
"""

from __future__ import annotations

from typing import Any

LOSSES = ("logistic", "hinge", "l2-kendall")
HINGE_MARGIN = 1.0


def ranking_loss(kind: str, s_pos: Any, s_neg: Any, t_pos: Any = None, t_neg: Any = None) -> Any:
    """Mean ranking loss over a batch of pairs: s_pos, s_neg (B,); t_* (B,) targets for ``l2-kendall``."""
    import torch
    import torch.nn.functional as F

    diff = s_pos - s_neg
    if kind == "logistic":
        return F.softplus(-diff).mean()
    if kind == "hinge":
        return torch.clamp(HINGE_MARGIN - diff, min=0).mean()
    if kind == "l2-kendall":
        l2 = 0.5 * (((s_pos - t_pos) ** 2).mean() + ((s_neg - t_neg) ** 2).mean())
        kendall = (0.5 * (1.0 - torch.tanh(diff))).mean()
        return l2 + kendall
    raise ValueError(f"unknown loss {kind!r} (choose from {', '.join(LOSSES)})")


def gradcam(scores: Any, features: Any, create_graph: bool) -> Any:
    """Grad-CAM (Selvaraju et al.) of the scalar scores over the penultimate map.

    scores (B,), features (B, C, h, w) → Ŝ (B, h, w) = ReLU(Σ_c w_c F_c), w_c = mean_{h,w} ∂s/∂F_c.
    ``create_graph`` keeps it differentiable (a second-order backward) so L_align can train.
    """
    import torch

    (grads,) = torch.autograd.grad(scores.sum(), features, create_graph=create_graph)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    return torch.relu((weights * features).sum(dim=1))


def alignment_loss(cam: Any, attention: Any) -> Any:
    """Mean over the batch of 1 − Pearson corr(Ŝ, A↓): cam (B, h, w), attention (B, 1, S, S) in [0, 1].

    A map with no variance (all zero Grad-CAM, a constant A) has corr 0 (loss 1) rather than NaN.
    """
    import torch.nn.functional as F

    a = F.adaptive_avg_pool2d(attention, cam.shape[-2:]).flatten(1)
    c = cam.flatten(1)
    a = a - a.mean(dim=1, keepdim=True)
    c = c - c.mean(dim=1, keepdim=True)
    corr = (a * c).sum(dim=1) / ((a.norm(dim=1) * c.norm(dim=1)) + 1e-8)
    return (1.0 - corr).mean()
