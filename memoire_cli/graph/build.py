"""One user's graph, features and prior from its inputs: the numpy pipeline of S1.2.1–S1.2.4, S1.2.10.

Steps (shapes: N images, T tags, P (image, tag) pairs, K kept nodes, E edges):

1. incidence M (N, T) and per-tag counts, latest capture, view rate and favourite ratio;
2. pruning to the type quotas (K_P, K_L, K_E) by count (S1.2.10) → the K nodes, in tag-id order;
3. pair counts on the kept tags, co-occurrence (1), social boost (2), p_PP over the co-occurrence
   edges, the mix (4) and weights (3);
4. sparsification (threshold τ_e, then k-NN per node) and g_t on the kept edges;
5. z-scores, regime statistics and weights (6), IPS⁰ (7).

Degenerate inputs give documented results rather than errors: no tags → a ``graph_users`` row and
no nodes; no images → every count 0 (f = r = v = q = 0); no co-occurring pair → no edges, p_PP = 0,
g_t = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.graph import cooccurrence as co
from memoire_cli.graph import features as ft
from memoire_cli.graph import prior
from memoire_cli.graph.config import GraphConfig
from memoire_cli.graph.social import relation_index, social_boost
from memoire_cli.workspace import Columns


@dataclass(frozen=True)
class GraphInputs:
    """What the graph stage reads for one user (see :mod:`memoire_cli.graph.load`)."""

    user_id: str
    now_us: int | None  # users.now, µs since the epoch; None: the latest capture time is used
    tag_ids: np.ndarray  # (T,) int64, ascending
    tag_types: np.ndarray  # (T,) object: 'P' | 'L' | 'E'
    relations: np.ndarray  # (T,) object: ρ_t for people, else None
    times_us: np.ndarray  # (N,) int64 capture time, µs since the epoch (undefined where not dated)
    dated: np.ndarray  # (N,) bool: capture time known
    views: np.ndarray  # (N,) float64 views_norm, NaN when unknown (read for tagged images only)
    favourite: np.ndarray  # (N,) float64 1.0 / 0.0, NaN when unknown (idem)
    pair_image: np.ndarray  # (P,) int64 row of the image in times_us … (each (image, tag) pair once)
    pair_tag: np.ndarray  # (P,) int64 row of the tag in tag_ids

    @property
    def n_images(self) -> int:
        return len(self.times_us)


def _obj(values: list | np.ndarray) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def type_codes(user_id: str, tag_types: np.ndarray) -> np.ndarray:
    """(T,) 'P' | 'L' | 'E' → (T,) int64 0 | 1 | 2; any other value is an input error."""
    codes = np.full(len(tag_types), -1, dtype=np.int64)
    for j, t in enumerate(co.TYPES):
        codes[tag_types == t] = j
    if (codes < 0).any():
        bad = sorted({str(t) for t in tag_types[codes < 0]})
        raise MemoireError(f"user {user_id}: tags.type must be P, L or E, found {', '.join(repr(b) for b in bad[:5])}")
    return codes


def build_user_graph(inp: GraphInputs, cfg: GraphConfig) -> dict[str, Columns]:
    """The user's rows of graph_users, graph_nodes and graph_edges, as numpy columns in declared order."""
    n_tags, n_images = len(inp.tag_ids), inp.n_images
    codes = type_codes(inp.user_id, inp.tag_types)
    now_us = inp.now_us
    if now_us is None and inp.dated.any():
        now_us = int(inp.times_us[inp.dated].max())

    # 1. incidence and per-tag statistics over the whole gallery
    mt = co.incidence(inp.pair_image, inp.pair_tag, n_images, n_tags)  # Mᵀ (T, N)
    counts = np.diff(mt.indptr)  # (T,) images per tag
    last = ft.last_seen(mt, inp.times_us, inp.dated)  # (T,)
    views, favs = ft.usage_rates(mt, inp.views, inp.favourite)  # (T,), (T,)

    # 2. pruning (S1.2.10)
    kept = co.prune(counts, codes, (cfg.max_people, cfg.max_locations, cfg.max_events))  # (K,)
    k = len(kept)
    rel = relation_index(inp.relations[kept])  # (K,)
    person = codes[kept] == 0  # (K,)

    # 3. edges of the pruned graph: (1), (2), (4), (3)
    src, dst, c_uv = co.pair_counts(mt[kept])  # (E,) each
    c_k = counts[kept]
    cooc = co.cooccurrence(c_uv, c_k[src], c_k[dst])
    pp = person[src] & person[dst]
    social = social_boost(rel[src], rel[dst], pp, cfg.omegas)
    p_pp = float(np.count_nonzero(pp)) / len(src) if len(src) else 0.0
    lambda_s, lambda_c = co.weight_mix(p_pp, cfg.mu, cfg.kappa)
    w = co.edge_weights(cooc, social, lambda_c, lambda_s)

    # 4. sparsification and graph relation g_t
    keep = co.sparsify(src, dst, w, cfg.knn, cfg.edge_threshold)
    src, dst, c_uv, cooc, social, w = (a[keep] for a in (src, dst, c_uv, cooc, social, w))
    g = co.graph_relation(src, dst, w, k)

    # 5. features (5), regime (6), prior (7)
    raw = {
        "f": ft.frequency(c_k, n_images),
        "r": ft.recency(last[kept], now_us, cfg.tau_r),
        "v": views[kept],
        "q": favs[kept],
        "g": g,
    }
    z = {name: ft.zscore(x) for name, x in raw.items()}
    types = inp.tag_types[kept]
    relations = np.where(person, inp.relations[kept], None)
    u = ft.onehot(types, relations)  # (K, 15)
    burst, longevity = prior.regime(inp.times_us, inp.dated, now_us, cfg.tau_b, cfg.tau_l)
    weights = prior.regime_weights(burst, p_pp, longevity, cfg)
    ips = prior.ips0(z, u, weights, cfg)

    def uid(n: int) -> np.ndarray:
        return np.full(n, inp.user_id, dtype=object)

    last_k = last[kept]
    users: Columns = {
        "user_id": uid(1), "n_images": np.array([n_images], np.int32), "n_tags": np.array([n_tags], np.int32),
        "n_nodes": np.array([k], np.int32), "n_edges": np.array([len(src)], np.int32), "p_pp": np.array([p_pp]),
        "lambda_s": np.array([lambda_s]), "lambda_c": np.array([lambda_c]), "burstiness": np.array([burst]),
        "social_density": np.array([p_pp]), "longevity": np.array([longevity]), "lambda_r": np.array([weights[0]]),
        "lambda_rel": np.array([weights[1]]), "lambda_f": np.array([weights[2]]),
        "now": np.array([np.datetime64("NaT") if now_us is None else np.datetime64(now_us, "us")], dtype="datetime64[us]"),
    }
    nodes: Columns = {
        "user_id": uid(k), "node": np.arange(k, dtype=np.int32), "tag_id": inp.tag_ids[kept].astype(np.int32),
        "type": _obj(types), "relation": _obj(relations), "count": c_k.astype(np.int32),
        "last_seen": last_k.astype("datetime64[us]"),  # NO_TIME is int64 min, i.e. NaT → NULL
        **{name: raw[name].astype(np.float64) for name in ("f", "r", "v", "q", "g")},
        **{f"{name}_z": z[name] for name in ("f", "r", "v", "q", "g")},
        "ips0": ips.astype(np.float64),
    }
    edges: Columns = {
        "user_id": uid(len(src)), "src": src.astype(np.int32), "dst": dst.astype(np.int32), "count": c_uv.astype(np.int32),
        "cooc": cooc.astype(np.float64), "social": social.astype(np.float64), "weight": w.astype(np.float64),
    }
    return {"graph_users": users, "graph_nodes": nodes, "graph_edges": edges}
