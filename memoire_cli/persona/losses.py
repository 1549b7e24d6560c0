"""The three losses of PERSONA-GAT training and their sum (S1.2.6, eq. 14)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def context_loss(z: Tensor, targets: Tensor, positives: Tensor, negatives: Tensor) -> Tensor:
    r"""NCE context prediction, summed over targets (S1.2.6):

    .. math::
        \mathcal{L}_{ctx}(t) = -\log\sigma(\mathbf{z}_t^\top\mathbf{z}_u)
        - \sum_{n \sim P_{neg}} \log\sigma(-\mathbf{z}_t^\top\mathbf{z}_n)

    computed as softplus(−z_t·z_u) + Σ softplus(z_t·z_n), which is exact and cannot overflow.
    A negative that is the target itself is masked out.

    Args:
        z: ``(N, d)`` embeddings.
        targets: ``(T,)`` target nodes t.
        positives: ``(T,)`` one neighbour u of each target.
        negatives: ``(T, N_neg)`` noise samples n.

    Returns:
        Σ_t 𝓛_ctx(t), a scalar (0 when there are no targets).
    """
    if targets.numel() == 0:
        return z.sum() * 0.0
    zt = z[targets]                                             # (T, d)
    pos = (zt * z[positives]).sum(-1)                           # (T,)
    neg = torch.einsum("td,tkd->tk", zt, z[negatives])          # (T, N_neg)
    mask = (negatives != targets.unsqueeze(1)).to(neg.dtype)
    return F.softplus(-pos).sum() + (F.softplus(neg) * mask).sum()


def ordinal_loss(s: Tensor, hi: Tensor, lo: Tensor, margin: float = 1.0) -> Tensor:
    r"""Weak ordinal hinge over mined pairs with IPS⁰_i > IPS⁰_j (S1.2.6):
    :math:`\sum_{(i,j)} \max(0, m - (s_i - s_j))`, m = 1. Scalar (0 without pairs)."""
    if hi.numel() == 0:
        return s.sum() * 0.0
    return F.relu(margin - (s[hi] - s[lo])).sum()


def smoothing_loss(s: Tensor, s_ema: Tensor) -> Tensor:
    r"""EMA smoothing (S1.2.6): :math:`\sum_t \|\bar{s}^{(k)}_t - s^{(k)}_t\|^2`.

    ``s_ema`` is the target :math:`\bar{s}^{(k)} = \beta\bar{s}^{(k-1)} + (1-\beta)s^{(k)}`, computed
    by the caller from the *detached* scores (an EMA target carries no gradient), so the gradient
    pulls s towards the running average and equals 2β(s − s̄^(k−1)).
    """
    return ((s_ema - s) ** 2).sum()


def total_loss(ctx: Tensor, ord_: Tensor, smooth: Tensor, lambda_ord: float, lambda_sm: float) -> Tensor:
    """(14): 𝓛 = Σ_t 𝓛_ctx(t) + λ_ord Σ_(i,j) 𝓛_ord(i, j) + λ_sm 𝓛_smooth."""
    return ctx + lambda_ord * ord_ + lambda_sm * smooth


def kl_divergence(p: Tensor, q: Tensor) -> float:
    """KL(p ‖ q) = Σ p log(p / q) between two distributions over the same tags (early stop, S1.2.6)."""
    p = p.double()
    q = q.double()
    return float(torch.sum(p * (torch.log(p.clamp_min(1e-300)) - torch.log(q.clamp_min(1e-300)))))
