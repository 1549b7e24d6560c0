"""Session adaptation of the global persona (S1.2.8–S1.2.9): session prior (15), log-space blend (16), ρ (17).

A library for ``pat`` and ``rank``: numpy only, no workspace, no torch. Given a user's global
persona α (``persona.alpha``, in ``graph_nodes.node`` order) and a session S of N images (which of
the user's tags each image carries, optionally capture times and usage):

1. :func:`session_prior` — IPS^S_t (15): *the same feature template as IPS⁰* (S1.2.3–S1.2.4) on
   statistics restricted to S, computed with the graph stage's own functions and constants
   (:mod:`memoire_cli.graph`): frequency f^S = #{I ∈ S : t ∈ I}/N; recency r^S from the tag's latest
   image in S (τ_r); view rate v^S and favourite ratio q^S of its session images; g^S from the
   session's co-occurrence graph (normalised co-occurrence (1) within S, the social boost (2) of
   the pair's relations, the mix (4) from the session's p_PP^S, weights (3)); every scalar z-scored
   across *all* the user's tags (absent tags are part of V, with f^S = r^S = v^S = q^S = g^S = 0);
   regime weights (6) from the session's B^S, D^S = p_PP^S and L^S; the same η_v, η_q and bias b.
2. :func:`session_rho` — ρ = clip(ρ₀ + α_c c_S + α_n (1 − e^{−N/S₀}), 0, 1) (17), with c_S the share
   of the user's tags present in S (ρ₀ = 0.25, α_c = 0.5, α_n = 0.25, S₀ = 30).
3. :func:`blend` — log α*_t = (1 − ρ) log α_t + ρ IPS^S_t, renormalised (16).

:func:`adapt_session` does all three.

What (17) gives (a note on the worked example of S1.2.8): for the 12-image family session with 4
distinct tags, α_n (1 − e^{−12/30}) = 0.082 and α_c c_S = 2/|V|, so ρ = 0.332 + 2/|V|. The spec's
"ρ ≈ 0.5" is what a user with |V| = 12 tags gets (ρ = 0.499, the test's setting); a synthetic user
with ≈ 30 tags gets 0.40 and a 500-tag graph 0.34. A session can only reach ρ = 1 through c_S:
N → ∞ adds at most α_n = 0.25.

Degenerate sessions: with no images (N = 0) the global persona is returned unchanged (ρ = 0, not
the ρ₀ of (17): there is no session evidence to blend in). A tag absent from S keeps a share of
its global weight, (1 − ρ) log α_t + ρ IPS^S_t with a low IPS^S_t, so it decays smoothly and never
drops to zero (S1.2.9).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the graph stage's constants; imported at run time inside the functions
    from memoire_cli.graph.config import GraphConfig


@dataclass(frozen=True)
class SessionConfig:
    """The constants of (17) (defaults: the spec's)."""

    rho0: float = 0.25
    alpha_c: float = 0.5
    alpha_n: float = 0.25
    s0: float = 30.0

    def __post_init__(self) -> None:
        if not self.s0 > 0 or not all(math.isfinite(v) for v in (self.rho0, self.alpha_c, self.alpha_n, self.s0)):
            raise ValueError("session constants must be finite and S0 > 0")


@dataclass(frozen=True)
class SessionPrior:
    """IPS^S (15) and what went into it (arrays are ``(K,)``, over the user's tags).

    Attributes:
        ips: IPS^S_t.
        present: whether tag t appears in S.
        n_images: N = |S|.
        raw: the session features ``f, r, v, q, g``; ``z``: their z-scores across the user's tags.
        weights: (λ_r^S, λ_rel^S, λ_f^S) of (6). p_pp, lambda_s: the session graph's mix (4).
    """

    ips: np.ndarray
    present: np.ndarray
    n_images: int
    raw: dict[str, np.ndarray] = field(default_factory=dict)
    z: dict[str, np.ndarray] = field(default_factory=dict)
    weights: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
    p_pp: float = 0.0
    lambda_s: float = 0.0


@dataclass(frozen=True)
class SessionAdaptation:
    """The session-adapted persona α* (16) with its prior, ρ (17), c_S and N."""

    alpha: np.ndarray
    prior: SessionPrior
    rho: float
    c_s: float
    n_images: int


def _to_us(times: np.ndarray | None, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(N,) capture times (datetime64, NaT = unknown) → µs int64 and whether each is known."""
    if times is None:
        return np.zeros(n, np.int64), np.zeros(n, bool)
    t = np.asarray(times).astype("datetime64[us]")
    dated = ~np.isnat(t)
    return np.where(dated, t.astype(np.int64), 0), dated


def session_prior(membership: np.ndarray, types: np.ndarray, relations: np.ndarray, *,
                  graph_cfg: GraphConfig | None = None, taken_at: np.ndarray | None = None,
                  now: np.datetime64 | None = None, views: np.ndarray | None = None,
                  favourite: np.ndarray | None = None) -> SessionPrior:
    """IPS^S (15) of a session over the user's K tags.

    Args:
        membership: ``(N, K)`` bool, image i of the session carries tag t (columns = the user's
            graph nodes, the order of ``persona.node``).
        types: ``(K,)`` ``P``/``L``/``E``. relations: ``(K,)`` ρ_t for people (else ``None``).
        graph_cfg: the graph stage's constants (τ_r, τ_b, τ_ℓ, α, β, γ, η_v, η_q, b, ω, μ, κ); pass
            the ones ``memoire graph`` ran with (``runs.params``). Default: its defaults.
        taken_at: ``(N,)`` datetime64 capture times (NaT: unknown). Without them r^S = B^S = L^S = 0.
        now: the time recency is measured from (default: the session's latest capture).
        views: ``(N,)`` normalised views (NaN: unknown). favourite: ``(N,)`` 1/0 (NaN: unknown).
    """
    import scipy.sparse as sp

    from memoire_cli.graph import cooccurrence as co
    from memoire_cli.graph import features as ft
    from memoire_cli.graph import prior
    from memoire_cli.graph.config import GraphConfig
    from memoire_cli.graph.social import relation_index, social_boost

    cfg = graph_cfg or GraphConfig()
    member = np.asarray(membership, dtype=bool)
    if member.ndim != 2:
        raise ValueError(f"membership must be (N images, K tags), got shape {member.shape}")
    n, k = member.shape
    types = np.asarray(types, dtype=object)
    relations = np.asarray(relations, dtype=object)
    if types.shape != (k,) or relations.shape != (k,):
        raise ValueError(f"types and relations must have one entry per tag ({k})")
    times_us, dated = _to_us(taken_at, n)
    now_us = int(np.datetime64(now, "us").astype(np.int64)) if now is not None else (int(times_us[dated].max()) if dated.any() else None)
    mt = sp.csr_matrix(member.T.astype(np.int32))  # Mᵀ (K, N)
    counts = np.diff(mt.indptr)
    person = types == "P"

    def usage(x: np.ndarray | None) -> np.ndarray:
        return np.full(n, np.nan) if x is None else np.asarray(x, dtype=np.float64).reshape(n)

    v, q = ft.usage_rates(mt, usage(views), usage(favourite))
    src, dst, c_uv = co.pair_counts(mt) if n else (np.zeros(0, np.int64),) * 3
    cooc = co.cooccurrence(c_uv, counts[src], counts[dst])
    rel = relation_index(np.where(person, relations, None))
    pp = person[src] & person[dst]
    social = social_boost(rel[src], rel[dst], pp, cfg.omegas)
    p_pp = float(np.count_nonzero(pp)) / len(src) if len(src) else 0.0
    lambda_s, lambda_c = co.weight_mix(p_pp, cfg.mu, cfg.kappa)
    w = co.edge_weights(cooc, social, lambda_c, lambda_s)
    raw = {
        "f": ft.frequency(counts, n),
        "r": ft.recency(ft.last_seen(mt, times_us, dated), now_us, cfg.tau_r),
        "v": v,
        "q": q,
        "g": co.graph_relation(src, dst, w, k),
    }
    z = {name: ft.zscore(x) for name, x in raw.items()}
    burst, longevity = prior.regime(times_us, dated, now_us, cfg.tau_b, cfg.tau_l)
    weights = prior.regime_weights(burst, p_pp, longevity, cfg)
    ips = prior.ips0(z, ft.onehot(types, np.where(person, relations, None)), weights, cfg)
    return SessionPrior(ips=ips, present=counts > 0, n_images=n, raw=raw, z=z, weights=weights, p_pp=p_pp, lambda_s=lambda_s)


def session_strength(present: np.ndarray) -> float:
    """c_S (17): the share of the user's tags that appear in the session."""
    present = np.asarray(present, dtype=bool)
    return float(present.mean()) if present.size else 0.0


def session_rho(c_s: float, n_images: int, cfg: SessionConfig | None = None) -> float:
    """ρ = clip(ρ₀ + α_c c_S + α_n (1 − e^{−N/S₀}), 0, 1) (17)."""
    cfg = cfg or SessionConfig()
    rho = cfg.rho0 + cfg.alpha_c * c_s + cfg.alpha_n * (1.0 - math.exp(-n_images / cfg.s0))
    return float(min(1.0, max(0.0, rho)))


def blend(alpha: np.ndarray, ips: np.ndarray, rho: float) -> np.ndarray:
    """α* (16): softmax((1 − ρ) log α + ρ IPS^S), computed stably; ``(K,)``, sums to 1."""
    alpha = np.asarray(alpha, dtype=np.float64)
    ips = np.asarray(ips, dtype=np.float64)
    if alpha.shape != ips.shape:
        raise ValueError(f"alpha {alpha.shape} and IPS^S {ips.shape} must cover the same tags")
    if not np.all(np.isfinite(alpha)) or np.any(alpha < 0) or not np.all(np.isfinite(ips)):
        raise ValueError("alpha must be finite and non-negative, IPS^S finite")
    logit = (1.0 - rho) * np.log(np.maximum(alpha, np.finfo(np.float64).tiny)) + rho * ips
    e = np.exp(logit - logit.max())
    return e / e.sum()


def adapt_session(alpha: np.ndarray, membership: np.ndarray, types: np.ndarray, relations: np.ndarray, *,
                  cfg: SessionConfig | None = None, graph_cfg: GraphConfig | None = None,
                  taken_at: np.ndarray | None = None, now: np.datetime64 | None = None,
                  views: np.ndarray | None = None, favourite: np.ndarray | None = None) -> SessionAdaptation:
    """Session-adapted persona α* (S1.2.8): IPS^S (15), ρ (17), blend (16).

    Args:
        alpha: ``(K,)`` global persona α_t (``persona.alpha`` ordered by ``persona.node``).
        membership, types, relations, graph_cfg, taken_at, now, views, favourite: as :func:`session_prior`.
        cfg: the constants of (17).
    """
    alpha = np.asarray(alpha, dtype=np.float64)
    prior = session_prior(membership, types, relations, graph_cfg=graph_cfg, taken_at=taken_at, now=now,
                          views=views, favourite=favourite)
    if prior.n_images == 0:
        return SessionAdaptation(alpha=blend(alpha, prior.ips, 0.0), prior=prior, rho=0.0, c_s=0.0, n_images=0)
    c_s = session_strength(prior.present)
    rho = session_rho(c_s, prior.n_images, cfg)
    return SessionAdaptation(alpha=blend(alpha, prior.ips, rho), prior=prior, rho=rho, c_s=c_s, n_images=prior.n_images)
