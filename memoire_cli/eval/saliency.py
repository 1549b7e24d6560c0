"""Saliency agreement with PAT: Table 13's "Saliency ↔ PAT r" (S2.4 B4, S1.4.2).

Per image, the Pearson r between the impact predictor's Grad-CAM saliency Ŝ(I)
(:meth:`memoire_cli.train.predictor.Predictor.saliency`, at the model's input size S) and the A*(I)
the ranker fed the model for that image (the session-blended PAT map, S1.2.8 + S1.3.5, after the
S1.4.1 preprocessing: (S, S) in [0, 1]); a user's value is the mean over the session's images.

* An image whose A*(I) is constant (no mask, or masks covering everything alike) has no defined r
  and is skipped; a user with no such image gets NaN.
* An image whose Ŝ(I) is constant (Grad-CAM all zero: every channel's weighted sum ≤ 0) counts as
  r = 0 — the model shows no spatial preference, as the alignment loss reads it (``alignment_loss``
  sets corr = 0 there) — rather than being dropped, which would flatter a model that often has none.

:class:`FedInputs` wraps a predictor so that eval gets the Grad-CAM of exactly the (RGB, A*(I)) that
:func:`memoire_cli.rank.rank_user` scored, from the scoring pass itself
(:meth:`~memoire_cli.train.predictor.Predictor.score_and_saliency`): no second re-fusion and no
second forward — B4 adds one head backward per model and user.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: A map whose max − min is below this is constant.
FLAT = 1e-6


def map_correlations(saliency: np.ndarray, attention: np.ndarray) -> np.ndarray:
    """Per image Pearson r over the S×S cells: saliency, attention (N, S, S) → (N,) float64.

    NaN where the attention map is constant; 0 where only the saliency map is.
    """
    sal = np.asarray(saliency, np.float64)
    att = np.asarray(attention, np.float64)
    if sal.shape != att.shape or sal.ndim != 3:
        raise ValueError(f"saliency {sal.shape} and attention {att.shape} must be the same (N, S, S)")
    n = len(sal)
    a = att.reshape(n, -1)
    s = sal.reshape(n, -1)
    a_flat = np.ptp(a, axis=1) < FLAT if n else np.zeros(0, bool)
    s_flat = np.ptp(s, axis=1) < FLAT if n else np.zeros(0, bool)
    a = a - a.mean(axis=1, keepdims=True)
    s = s - s.mean(axis=1, keepdims=True)
    denom = np.linalg.norm(a, axis=1) * np.linalg.norm(s, axis=1)
    r = np.divide((a * s).sum(axis=1), denom, out=np.zeros(n), where=denom > 0)
    r = np.clip(r, -1.0, 1.0)
    r[s_flat] = 0.0
    r[a_flat] = np.nan
    return r


def mean_r(saliency: np.ndarray, attention: np.ndarray) -> float:
    """One user's Saliency ↔ PAT r from the maps (N, S, S): the mean of :func:`map_correlations` over the
    images with a usable A*(I); NaN when there is none (or N = 0)."""
    if not len(attention):
        return float("nan")
    r = map_correlations(saliency, attention)
    finite = r[np.isfinite(r)]
    return float(finite.mean()) if len(finite) else float("nan")


def saliency_pat_r(predictor: Any, rgb: np.ndarray, attention: np.ndarray, batch_size: int = 32) -> float:
    """One user's Saliency ↔ PAT r: :func:`mean_r` of the predictor's Grad-CAM on (rgb (N,S,S,3) uint8,
    attention (N,S,S) float32) and that attention. The ONNX runtime raises MemoireError (Grad-CAM
    needs gradients)."""
    attention = np.asarray(attention, np.float32)
    if not len(attention):
        return float("nan")
    return mean_r(predictor.saliency(rgb, attention, batch_size=batch_size), attention)


class FedInputs:
    """A predictor stand-in that records what it is asked to score (and passes everything else through).

    After ``rank_user(ctx, FedInputs(p), options)``, ``rgb`` (N,S,S,3) and ``attention`` (N,S,S) are the
    inputs of the last ``score`` call — the session's images and their A*(I) in context order. With
    ``saliency=True`` (torch runtime) the scores come from :meth:`Predictor.score_and_saliency` — the
    same values as ``score`` — and ``saliency`` (N,S,S) holds the Grad-CAM maps of that same forward
    pass. A ranking timed through it therefore includes the head's backward and the upsampling
    (``benchmarks/bench_eval.py`` measures that share).
    """

    def __init__(self, predictor: Any, saliency: bool = False):
        self.predictor = predictor
        self.want_saliency = saliency
        self.rgb: np.ndarray | None = None
        self.attention: np.ndarray | None = None
        self.saliency: np.ndarray | None = None

    def score(self, rgb: np.ndarray, attention: np.ndarray, *args: Any, **kwargs: Any) -> np.ndarray:
        self.rgb, self.attention = rgb, attention
        if self.want_saliency:
            scores, self.saliency = self.predictor.score_and_saliency(rgb, attention, *args, **kwargs)
            return scores
        return self.predictor.score(rgb, attention, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.predictor, name)
