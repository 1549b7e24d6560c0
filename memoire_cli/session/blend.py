"""α* — the session-adapted persona (S1.2.8–S1.2.9): ρ (17) and the log-space blend (16) with IPS^S (15).

Given a user's global persona α (``persona.alpha``, ``(K,)`` in ``graph_nodes.node`` order) and a
session S of N images:

1. :func:`session_rho` — ρ = clip(ρ₀ + α_c c_S + α_n (1 − e^{−N/S₀}), 0, 1) (17), with c_S the share
   of the user's tags present in S (:func:`session_strength`; ρ₀ = 0.25, α_c = 0.5, α_n = 0.25, S₀ = 30).
2. :func:`blend` — log α*_t = (1 − ρ) log α_t + ρ IPS^S_t, renormalised (16); IPS^S from
   :func:`memoire_cli.session.prior.session_prior` (15).

:func:`adapt_session` does both with the prior; :func:`session_alpha` is what ``rank`` and
``pat --session`` call: α*, ρ and c_S from a :class:`SessionEvidence` (plain arrays) and a ρ that is
either given (S2.4 A4 No-Session, B2 sweep) or ``None`` for (17); ``uniform=True`` is A1 No-Persona.

What (17) gives (a note on the worked example of S1.2.8): for the 12-image family session with 4
distinct tags, α_n (1 − e^{−12/30}) = 0.082 and α_c c_S = 2/|V|, so ρ = 0.332 + 2/|V|. The spec's
"ρ ≈ 0.5" is what a user with |V| = 12 tags gets (ρ = 0.499, the test's setting); a synthetic user
with ≈ 30 tags gets 0.40 and a 500-tag graph 0.34. A session can only reach ρ = 1 through c_S:
N → ∞ adds at most α_n = 0.25.

Degenerate sessions: with no images (N = 0) the global persona is returned unchanged (ρ = 0, not
the ρ₀ of (17): there is no session evidence to blend in). A tag absent from S keeps a share of
its global weight, (1 − ρ) log α_t + ρ IPS^S_t with a low IPS^S_t, so it decays smoothly and never
drops to zero (S1.2.9).

numpy only; no workspace, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from memoire_cli.session.prior import SessionPrior, session_prior

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
class SessionAdaptation:
    """The session-adapted persona α* (16) with its prior, ρ (17), c_S and N."""

    alpha: np.ndarray
    prior: SessionPrior
    rho: float
    c_s: float
    n_images: int


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


@dataclass(frozen=True)
class SessionEvidence:
    """What α* of one user's session is computed from (S1.2.8): N session images over K graph nodes.

    Attributes:
        alpha: ``(K,)`` global persona α_t (``persona.alpha`` ordered by ``persona.node``).
        membership: ``(N, K)`` bool, image i of the session carries node k's tag.
        node_types: ``(K,)`` ``P``/``L``/``E``. node_relations: ``(K,)`` people's relations (else ``None``).
        n_images: N (the session's images; α* is the global α when 0).
        graph_params: the ``memoire graph`` run's parameters (``runs.params``; ``{}`` → its defaults):
            the constants of IPS^S (15). Unknown keys are ignored.
        taken_at: ``(N,)`` datetime64 capture times (NaT: unknown). views: ``(N,)`` normalised views
            (NaN: unknown). favourite: ``(N,)`` 1/0 (NaN: unknown).
    """

    alpha: np.ndarray
    membership: np.ndarray
    node_types: np.ndarray
    node_relations: np.ndarray
    n_images: int
    graph_params: Mapping[str, Any] = field(default_factory=dict)
    taken_at: np.ndarray | None = None
    views: np.ndarray | None = None
    favourite: np.ndarray | None = None


def session_alpha(evidence: SessionEvidence, rho: float | None = None, *,
                  uniform: bool = False) -> tuple[np.ndarray, float, float]:
    """α* over the graph nodes ``(K,)``, ρ and c_S of a session (S1.2.8 (15)–(17)).

    ``rho``: ``None`` → ρ of (17); a number in [0, 1] → that ρ in the blend (16) (0: A4 No-Session).
    ``uniform``: A1 No-Persona, α* = 1/K on every node and no blend (ρ = c_S = 0).
    """
    from memoire_cli.graph.config import GraphConfig

    if rho is not None and not 0.0 <= rho <= 1.0:
        raise ValueError(f"ρ must be in [0, 1], got {rho}")
    ev = evidence
    k = len(ev.alpha)
    if uniform:
        return np.full(k, 1.0 / k) if k else np.zeros(0), 0.0, 0.0
    fields = set(GraphConfig.__dataclass_fields__)
    gcfg = GraphConfig(**{key: v for key, v in ev.graph_params.items() if key in fields})
    if not ev.n_images or not k:
        return ev.alpha.copy(), 0.0, 0.0
    if rho is None:
        ad = adapt_session(ev.alpha, ev.membership, ev.node_types, ev.node_relations, graph_cfg=gcfg,
                           taken_at=ev.taken_at, views=ev.views, favourite=ev.favourite)
        return ad.alpha, ad.rho, ad.c_s
    prior = session_prior(ev.membership, ev.node_types, ev.node_relations, graph_cfg=gcfg, taken_at=ev.taken_at,
                          views=ev.views, favourite=ev.favourite)
    return blend(ev.alpha, prior.ips, rho), float(rho), session_strength(prior.present)
