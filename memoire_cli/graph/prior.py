"""Data-adaptive prior: regime statistics, softmax weights (6) and IPS⁰ (7) (S1.2.4).

* B (burstiness) = share of the dated images taken within the last τ_b days before ``now``;
* D (social density) = p_PP, the share of person–person edges of the pruned graph;
* L (longevity) = share of the dated images taken more than τ_ℓ days before ``now``.

Images without a capture time are left out of B and L; without ``now`` or any dated image,
B = L = 0. Then [λ_r, λ_rel, λ_f] = softmax([β B, γ D, α L]) (6) and

    IPS⁰_t = λ_f f̃_t + λ_r r̃_t + λ_rel g̃_t + η_v ṽ_t + η_q q̃_t + bᵀu_t        (7)

with z-scored features (˜) and b the mild bias toward self and close kin of
:mod:`memoire_cli.graph.config` (b is 0 on the type one-hot and on other relations).
"""

from __future__ import annotations

import math

import numpy as np

from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.features import US_PER_DAY
from memoire_cli.graph.social import BIAS_KIN
from memoire_cli.vocabulary import RELATIONS


def regime(times_us: np.ndarray, dated: np.ndarray, now_us: int | None, tau_b_days: float, tau_l_days: float) -> tuple[float, float]:
    """(B, L) from the (N,) capture times (µs) of the gallery and whether each is known."""
    t = times_us[dated]
    if now_us is None or len(t) == 0:
        return 0.0, 0.0
    age_days = (now_us - t) / US_PER_DAY  # (N',) may be negative for images after now
    burst = float(np.count_nonzero(age_days <= tau_b_days)) / len(t)
    longevity = float(np.count_nonzero(age_days > tau_l_days)) / len(t)
    return burst, longevity


def regime_weights(burst: float, density: float, longevity: float, cfg: GraphConfig) -> tuple[float, float, float]:
    """(λ_r, λ_rel, λ_f) = softmax([β B, γ D, α L]) (6)."""
    logits = (cfg.beta * burst, cfg.gamma * density, cfg.alpha * longevity)
    top = max(logits)
    e = [math.exp(x - top) for x in logits]
    s = sum(e)
    return e[0] / s, e[1] / s, e[2] / s


def bias_vector(cfg: GraphConfig) -> np.ndarray:
    """b (7): (3 + 12,) weights on u_t = one-hot type ⧺ one-hot ρ_t."""
    b = np.zeros(3 + len(RELATIONS))
    for i, rel in enumerate(RELATIONS):
        if rel == "self":
            b[3 + i] = cfg.bias_self
        elif rel in BIAS_KIN:
            b[3 + i] = cfg.bias_kin
    return b


def ips0(z: dict[str, np.ndarray], u: np.ndarray, weights: tuple[float, float, float], cfg: GraphConfig) -> np.ndarray:
    """IPS⁰_t (7), (K,): z holds the (K,) z-scores f, r, v, q, g; u the (K, 15) one-hots."""
    lambda_r, lambda_rel, lambda_f = weights
    return (lambda_f * z["f"] + lambda_r * z["r"] + lambda_rel * z["g"]
            + cfg.eta_v * z["v"] + cfg.eta_q * z["q"] + u @ bias_vector(cfg))
