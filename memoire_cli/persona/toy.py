"""Small graphs for tests and benchmarks, built without a workspace (numpy only).

* :func:`random_graph` — |V| nodes and about |E| random weighted edges with random features: for
  timing (the benchmark's 500-node, ~10k-edge graph) and mechanics.
* :func:`gallery_graph` — a toy gallery (images with people, a place and an event) turned into a
  tag graph with the features of S1.2.2–S1.2.4, simplified (Jaccard co-occurrence, kin boost,
  fixed λ's): for behaviour checks, e.g. that frequent close people get a high α.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.persona.features import SCALARS, PersonaGraph, node_features

KIN = ("self", "father", "mother", "spouse", "son", "daughter")


def _zscore(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)


def random_graph(n_nodes: int, n_edges: int, seed: int = 0) -> PersonaGraph:
    """A random graph: ``n_nodes`` nodes (a third each P, L, E) and about ``n_edges`` distinct edges."""
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, n_nodes, size=(int(n_edges * 1.2) + 10, 2))
    pairs = np.sort(pairs[pairs[:, 0] != pairs[:, 1]], axis=1)
    keys = np.unique(pairs[:, 0] * n_nodes + pairs[:, 1])
    keys = rng.permutation(keys)[:n_edges]
    keys.sort()
    src, dst = keys // n_nodes, keys % n_nodes
    types = np.array(["P", "L", "E"])[np.arange(n_nodes) % 3]
    relations = [("friend" if i % 2 else "father") if t == "P" else None for i, t in enumerate(types)]
    scalars = rng.normal(size=(n_nodes, len(SCALARS)))
    ips0 = scalars[:, :3].mean(axis=1)
    x, ips0, _ = node_features(scalars, list(types), relations, ips0)
    return PersonaGraph(tag_id=np.arange(n_nodes), x=x, ips0=ips0, src=src.astype(np.int64), dst=dst.astype(np.int64),
                        weight=rng.uniform(0.05, 1.0, src.size))


def gallery_graph(n_images: int = 120, n_people: int = 10, n_places: int = 8, n_events: int = 8,
                  seed: int = 0) -> tuple[PersonaGraph, dict[str, list]]:
    """A toy gallery's tag graph. Person k has relation ``KIN`` for k < 6 else ``friend``/``colleague``,
    and appears with probability decreasing in k, so low tag ids are frequent close kin.

    Returns:
        The graph and ``{"type": [...], "relation": [...], "images": [tag sets]}``.
    """
    rng = np.random.default_rng(seed)
    rel = [KIN[k] if k < len(KIN) else ("friend" if k % 2 else "colleague") for k in range(n_people)]
    types = ["P"] * n_people + ["L"] * n_places + ["E"] * n_events
    relations: list[str | None] = [*rel, *[None] * (n_places + n_events)]
    n = len(types)
    p_person = 0.7 * 0.75 ** np.arange(n_people)
    p_place = 0.5 ** np.arange(1, n_places + 1)
    p_event = 0.5 ** np.arange(1, n_events + 1)
    images = []
    for _ in range(n_images):
        tags = set(np.flatnonzero(rng.random(n_people) < p_person).tolist())
        tags.add(n_people + int(rng.choice(n_places, p=p_place / p_place.sum())))
        tags.add(n_people + n_places + int(rng.choice(n_events, p=p_event / p_event.sum())))
        images.append(sorted(tags))
    member = np.zeros((n_images, n), bool)
    for i, tags in enumerate(images):
        member[i, tags] = True
    counts = member.sum(0).astype(float)
    co = member.T.astype(float) @ member.astype(float)
    iu, ju = np.triu_indices(n, 1)
    keep = co[iu, ju] > 0
    src, dst = iu[keep], ju[keep]
    cooc = co[src, dst] / np.maximum(1.0, counts[src] + counts[dst] - co[src, dst])
    kin = np.array([r in KIN if r else False for r in relations])
    social = np.where(kin[src] & kin[dst], 0.9, np.where((np.array(types)[src] == "P") & (np.array(types)[dst] == "P"), 0.4, 0.0))
    weight = 0.6 * cooc + 0.4 * social
    strength = np.zeros(n)
    np.add.at(strength, src, weight)
    np.add.at(strength, dst, weight)
    f = counts / n_images
    last = np.array([np.flatnonzero(member[:, t]).max() if counts[t] else 0 for t in range(n)], float)
    r = np.exp(-(n_images - 1 - last) / (n_images / 4))
    v = f * rng.uniform(0.5, 1.0, n)
    q = f * rng.uniform(0.2, 0.6, n)
    g = strength / max(weight.sum(), 1e-12)
    scalars = np.stack([_zscore(c) for c in (f, r, v, q, g)], axis=1)
    bias = np.array([0.2 if (rl == "self") else 0.1 if (rl in KIN) else 0.0 for rl in relations])
    ips0 = scalars[:, 0] * 0.4 + scalars[:, 1] * 0.3 + scalars[:, 4] * 0.3 + 0.25 * (scalars[:, 2] + scalars[:, 3]) + bias
    x, ips0, _ = node_features(scalars, types, relations, ips0)
    graph = PersonaGraph(tag_id=np.arange(n), x=x, ips0=ips0, src=src.astype(np.int64), dst=dst.astype(np.int64), weight=weight)
    return graph, {"type": types, "relation": relations, "images": images}
