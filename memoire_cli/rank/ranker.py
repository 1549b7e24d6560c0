"""Session-adapted, diversity-aware ranking of one user's session (S1.2.8, S1.3.5, S1.4, S2.3–S2.4).

:func:`rank_user` does, for a :class:`~memoire_cli.rank.context.UserContext` and a predictor:

1. α* — the session-adapted persona (S1.2.8): IPS^S (15), ρ (17) (or ``options.rho``), the blend
   (16), by :func:`memoire_cli.session.blend.session_alpha` on the context's
   :meth:`~memoire_cli.session.context.SessionContext.evidence`. ``alpha="uniform"`` is A1 No-Persona:
   α* = 1/K on every graph node and no session blend (the spec: "PAT runs with those uniform weights").
2. A*(I) — PAT re-fused from the stored per-tag masks with α* (S1.3.5–S1.3.6,
   :func:`memoire_cli.session.refusion.refuse`), masks of the types in ``options.tag_types`` only
   (Table 9's people-/event-/location-only rows), blurred with ``options.blur_sigma`` (Table 1's σ = 1 px;
   S2.4 B5 scales it); then the S1.4.1 preprocessing.
3. s(I) — the impact predictor's raw scores on (RGB, A*(I), π(I)), π(I) the persona vector of the same
   masks and α* (:func:`persona_vectors`); impact — its calibrated 0–100 score.
4. The full order (score descending, ties by image id) — used for SRCC; and the MMR top-k
   (:mod:`memoire_cli.rank.mmr`, λ = 0.4) — used for APS@k, Redundancy@k, Coverage@k.
5. Reasons per pick: the tags whose masks carried A*(I): tag t's share is Σ_x A*(x) α*_t M_t(x)
   over Σ_x A*(x) S(x), S(I) = Σ_t α*_t M_t the fused field (S1.3.5) — each tag's part of the
   field, weighted by where the final attention is (a wide, faint place prior counts less than
   the face the map peaks on).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memoire_cli.rank.config import ALPHA_MODES, TAG_TYPES, RankOptions  # noqa: F401  (re-exported)
from memoire_cli.rank.context import UserContext
from memoire_cli.rank.mmr import SimilaritySpace, mmr_select, relevance
from memoire_cli.session.blend import session_alpha
from memoire_cli.session.refusion import BLUR_SIGMA, refuse

#: Reasons list the tags holding at least this share of an image's fused field (at most MAX_REASONS).
MIN_SHARE = 0.02
MAX_REASONS = 5


@dataclass
class Ranking:
    user_id: str
    image_ids: list[str]  # the whole session, best first by predictor score (ties by image id): for SRCC
    scores: np.ndarray  # (N,) raw s(I), same order as image_ids
    impact: np.ndarray  # (N,) 0–100
    selected: list[str]  # the diversity-aware top-k (MMR order): for APS@k, Redundancy@k, Coverage@k
    reasons: dict[str, list[dict]]  # per selected image: the tags that carried the attention, with α* and share of A(I)
    alpha_star: dict[int, float]  # tag_id → α*_t over the user's graph nodes
    rho: float
    mmr_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (k,) the selection's mmr(i), MMR order
    c_s: float = 0.0  # c_S of (17); 0 with a given ρ or uniform α
    k_requested: int = 0  # options.k (len(selected) is smaller when the session is)


def attention_maps(ctx: UserContext, alpha_of: dict[int, float], tag_types: tuple[str, ...],
                   blur_sigma: float = BLUR_SIGMA) -> tuple[np.ndarray, list[dict[int, float]]]:
    """A*(I) at the model's input size (N, S, S) float32 in [0, 1], and per image each tag's share of S(I).
    ``blur_sigma``: the σ of the re-fusion's Gaussian blur (Table 1: 1 px)."""
    from memoire_cli.train.predictor import preprocess

    out = np.zeros((len(ctx), ctx.image_size, ctx.image_size), np.float32)
    shares: list[dict[int, float]] = []
    for i, (image, m) in enumerate(zip(ctx.images, ctx.masks)):
        keep = np.isin(m.types.astype(str), list(tag_types)) if len(m.types) else np.zeros(0, bool)
        masks, tag_ids = m.masks[keep], m.tag_ids[keep]
        alphas = [float(alpha_of.get(int(t), 0.0)) for t in tag_ids]
        h, w = image.shape[:2]
        att = refuse(masks, alphas, blur_sigma) if len(masks) else np.zeros((h, w), np.float32)
        _, out[i] = preprocess(image, att, ctx.image_size)
        # tag t's part of the attention: Σ_x A*(x) α*_t M_t(x), over all tags' (A*-weighted S(I))
        mass = np.array([a * float(np.vdot(att, mask.astype(np.float32))) / 255.0 for a, mask in zip(alphas, masks)])
        total = mass.sum()
        share: dict[int, float] = {}
        for t, x in zip(tag_ids, mass):  # a tag appears once per image; add in case a producer repeats it
            share[int(t)] = share.get(int(t), 0.0) + (float(x / total) if total > 0 else 0.0)
        shares.append(share)
    return out, shares


def persona_vectors(ctx: UserContext, alpha_of: dict[int, float], tag_types: tuple[str, ...],
                    relations: bool = True) -> np.ndarray:
    """π(I) of every image (N, P) float32 from the same masks and α* as :func:`attention_maps`
    (:mod:`memoire_cli.train.persona_vector`): α̃ the percentile rank of α* among the user's graph nodes
    (0 for tags outside the graph), people's ties ω from their relations and the graph's ω (2);
    ``relations=False`` (A1 No-Persona) sets every tie to 1."""
    from memoire_cli.graph.config import GraphConfig
    from memoire_cli.train.persona_vector import PERSONA_DIM, persona_vector, relative_importance, tie_to_user

    fields = set(GraphConfig.__dataclass_fields__)
    omegas = GraphConfig(**{k: v for k, v in ctx.graph_params.items() if k in fields}).omegas
    nodes = list(alpha_of)
    rel_of = dict(zip(nodes, relative_importance(np.array([alpha_of[t] for t in nodes]))))
    out = np.zeros((len(ctx), PERSONA_DIM), np.float32)
    for i, m in enumerate(ctx.masks):
        keep = np.isin(m.types.astype(str), list(tag_types)) if len(m.types) else np.zeros(0, bool)
        tag_ids = m.tag_ids[keep]
        importance = np.array([float(rel_of.get(int(t), 0.0)) for t in tag_ids])
        ties = np.array([tie_to_user(ctx.tags.get(int(t), ("?", "", None))[2], omegas) for t in tag_ids]) if relations else None
        out[i] = persona_vector(m.types[keep], m.masks[keep], importance, ties)
    return out


def context_matrix(ctx: UserContext) -> np.ndarray:
    """(N, C) bool: each image's people, location and event-type tags and its event instance (MMR context)."""
    items: dict[tuple[str, int], int] = {}
    pairs: list[tuple[int, int]] = []
    for i, (tag_ids, event) in enumerate(zip(ctx.image_tags, ctx.event_ids)):
        keys = [("tag", t) for t in tag_ids] + ([("event", int(event))] if event >= 0 else [])
        for key in keys:
            pairs.append((i, items.setdefault(key, len(items))))
    out = np.zeros((len(ctx), len(items)), bool)
    for i, c in pairs:
        out[i, c] = True
    return out


def full_order(image_ids: list[str], scores: np.ndarray) -> np.ndarray:
    """Indices by score descending, ties by image id ascending."""
    ids = np.array(image_ids, dtype=object)
    id_rank = np.argsort(np.argsort(ids, kind="stable"), kind="stable")
    return np.lexsort((id_rank, -np.asarray(scores, np.float64)))


def reasons_for(ctx: UserContext, share: dict[int, float], alpha_of: dict[int, float]) -> list[dict]:
    """The tags that carried an image's attention, largest share first."""
    out: list[dict] = []
    for t, s in sorted(share.items(), key=lambda kv: (-kv[1], kv[0])):
        if s < MIN_SHARE or len(out) >= MAX_REASONS:
            break
        kind, name, relation = ctx.tags.get(t, ("?", str(t), None))
        out.append({"tag_id": t, "type": kind, "name": name, "relation": relation,
                    "alpha_star": round(float(alpha_of.get(t, 0.0)), 6), "share": round(float(s), 4)})
    return out


def rank_user(ctx: UserContext, predictor: Any, options: RankOptions) -> Ranking:
    """Rank one user's session (see the module docstring)."""
    if getattr(predictor, "image_size", ctx.image_size) != ctx.image_size:
        raise ValueError(f"the context was prepared at {ctx.image_size} px, the model {predictor.name!r} takes {predictor.image_size} px")
    alpha, rho, c_s = session_alpha(ctx.evidence(), options.rho, uniform=options.alpha == "uniform")
    alpha_of = {int(t): float(a) for t, a in zip(ctx.node_tags, alpha)}
    if not len(ctx):
        return Ranking(ctx.user_id, [], np.zeros(0, np.float32), np.zeros(0, np.float32), [], {}, alpha_of, rho,
                       np.zeros(0), c_s, options.k)
    attention, shares = attention_maps(ctx, alpha_of, options.tag_types, options.blur_sigma)
    persona = persona_vectors(ctx, alpha_of, options.tag_types, relations=options.alpha != "uniform")
    scores = np.asarray(predictor.score(ctx.rgb, attention, persona), np.float32).reshape(len(ctx))
    impact = np.asarray(predictor.impact(scores), np.float32).reshape(len(ctx))
    order = full_order(ctx.image_ids, scores)
    # Rejected images (rating −1 or a reject flag): last in the order, by score among themselves, and never
    # MMR candidates (the selection is shorter than k when fewer than k others remain).
    rejected = np.asarray(ctx.rejected, bool) if len(ctx.rejected) else np.zeros(len(ctx), bool)
    order = np.concatenate([order[~rejected[order]], order[rejected[order]]])
    cand = np.flatnonzero(~rejected)
    id_rank = np.empty(len(ctx), np.int64)
    id_rank[np.argsort(np.array(ctx.image_ids, dtype=object), kind="stable")] = np.arange(len(ctx))
    space = SimilaritySpace.build(ctx.embeddings[cand], context_matrix(ctx)[cand])
    picked, mmr_scores = mmr_select(relevance(scores[cand]), space, options.k, options.lam, tiebreak=id_rank[cand])
    picked = cand[picked]
    selected = [ctx.image_ids[i] for i in picked]
    reasons = {ctx.image_ids[i]: reasons_for(ctx, shares[i], alpha_of) for i in picked}
    return Ranking(user_id=ctx.user_id, image_ids=[ctx.image_ids[i] for i in order], scores=scores[order],
                   impact=impact[order], selected=selected, reasons=reasons, alpha_star=alpha_of, rho=rho,
                   mmr_scores=mmr_scores, c_s=c_s, k_requested=options.k)
