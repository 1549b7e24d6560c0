"""In-memory perturbations of a user's context for the robustness and graph-size rows (S2.4 B3, C1).

* :func:`tag_noise` (C1): each (image, tag) of the session is, with probability ``rate``, either
  dropped (its mask leaves A*(I), the tag leaves the image's tags, the session prior and the MMR
  context) or swapped for another tag of the same type from the user's vocabulary (the mask stays
  where it was but now carries the wrong tag's α*), the two with equal odds. Seeded per user.
* :func:`prune_graph` (B3, read in memory): keep the top-``n`` graph nodes by global α, give the rest
  α = 0 and renormalise — the persona a pruned graph would carry into PAT, without re-training the
  GAT on the pruned graph (see schemas/README.md, Readings of the spec).
"""

from __future__ import annotations

import zlib
from dataclasses import replace
from typing import Any

import numpy as np


def tag_noise(ctx: Any, rate: float, seed: int = 0) -> Any:
    """A copy of a :class:`memoire_cli.rank.UserContext` with tag noise at ``rate`` ∈ [0, 1]."""
    from memoire_cli.session.context import ImageMasks

    if rate <= 0:
        return ctx
    rng = np.random.default_rng([seed, int(rate * 1000), zlib.crc32(ctx.user_id.encode())])
    by_type: dict[str, list[int]] = {}
    for t, (kind, _, _) in sorted(ctx.tags.items()):
        by_type.setdefault(kind, []).append(int(t))

    def corrupt(t: int) -> int | None:
        """None = dropped; else the (possibly swapped) tag."""
        if rng.random() >= rate:
            return t
        pool = [x for x in by_type.get(ctx.tags.get(t, ("?",))[0], []) if x != t]
        if rng.random() < 0.5 or not pool:
            return None
        return int(pool[rng.integers(len(pool))])

    node_of = {int(t): k for k, t in enumerate(ctx.node_tags)}
    image_tags, masks = [], []
    membership = np.zeros_like(ctx.membership)
    for i, (tags, m) in enumerate(zip(ctx.image_tags, ctx.masks)):
        fate = {int(t): corrupt(int(t)) for t in dict.fromkeys(list(tags) + [int(x) for x in m.tag_ids])}
        new_tags = list(dict.fromkeys(fate[int(t)] for t in tags if fate[int(t)] is not None))
        keep = [j for j, t in enumerate(m.tag_ids) if fate[int(t)] is not None]
        masks.append(ImageMasks(np.array([fate[int(m.tag_ids[j])] for j in keep], np.int64),
                                m.types[keep] if len(m.types) else m.types, m.masks[keep]))
        image_tags.append(new_tags)
        for t in new_tags:
            if t in node_of:
                membership[i, node_of[t]] = True
    return replace(ctx, image_tags=image_tags, masks=masks, membership=membership)


def prune_graph(ctx: Any, n_nodes: int) -> Any:
    """A copy of the context whose persona keeps only the top-``n_nodes`` nodes by α (renormalised)."""
    alpha = np.asarray(ctx.alpha, np.float64)
    if n_nodes >= len(alpha):
        return ctx
    keep = np.zeros(len(alpha), bool)
    keep[np.lexsort((np.arange(len(alpha)), -alpha))[:n_nodes]] = True
    pruned = np.where(keep, alpha, 0.0)
    total = pruned.sum()
    return replace(ctx, alpha=pruned / total if total > 0 else pruned)
