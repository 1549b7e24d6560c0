"""IPS^S — the session prior (S1.2.8, eq. 15): IPS⁰'s feature template on one session's statistics.

Given a user's K graph tags (``graph_nodes.node`` order: their types and people's relations) and a
session S of N images (which tags each image carries, optionally capture times and usage),
:func:`session_prior` computes IPS^S_t with *the same feature template as IPS⁰* (S1.2.3–S1.2.4) on
statistics restricted to S, using the graph stage's own functions and constants
(:mod:`memoire_cli.graph`): frequency f^S = #{I ∈ S : t ∈ I}/N; recency r^S from the tag's latest
image in S (τ_r); view rate v^S and favourite ratio q^S of its session images; g^S from the
session's co-occurrence graph (normalised co-occurrence (1) within S, the social boost (2) of the
pair's relations, the mix (4) from the session's p_PP^S, weights (3)); every scalar z-scored across
*all* the user's tags (absent tags are part of V, with f^S = r^S = v^S = q^S = g^S = 0); regime
weights (6) from the session's B^S, D^S = p_PP^S and L^S; the same η_v, η_q and bias b.

numpy (and scipy.sparse) only; no workspace, no torch. The blend with the global persona (16) and
ρ (17) are in :mod:`memoire_cli.session.blend`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np

if TYPE_CHECKING:  # the graph stage's constants; imported at run time inside the functions
    from memoire_cli.graph.config import GraphConfig


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
    # numpy's stubs lack datetime64(datetime64, unit), which converts at run time
    now_us = int(np.datetime64(cast(Any, now), "us").astype(np.int64)) if now is not None else (int(times_us[dated].max()) if dated.any() else None)
    mt = sp.csr_matrix(member.T.astype(np.int32))  # Mᵀ (K, N)
    counts = np.diff(mt.indptr)
    person = types == "P"

    def usage(x: np.ndarray | None) -> np.ndarray:
        return np.full(n, np.nan) if x is None else np.asarray(x, dtype=np.float64).reshape(n)

    v, q = ft.usage_rates(mt, usage(views), usage(favourite))
    src, dst, c_uv = co.pair_counts(mt) if n else (np.zeros(0, np.int64),) * 3
    cooc = co.cooccurrence(c_uv, counts[src], counts[dst])
    no_relation: Any = None  # numpy's stubs do not take None as where()'s third argument
    rel = relation_index(np.where(person, relations, no_relation))
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
    ips = prior.ips0(z, ft.onehot(types, np.where(person, relations, no_relation)), weights, cfg)
    return SessionPrior(ips=ips, present=counts > 0, n_images=n, raw=raw, z=z, weights=weights, p_pp=p_pp, lambda_s=lambda_s)
