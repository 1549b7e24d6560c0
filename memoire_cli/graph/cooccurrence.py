"""Co-occurrence graph: incidence, pruning, edge weights, sparsification, g_t (S1.2.2, S1.2.10).

Shapes: N images, T tags of the user, K kept nodes (K ≤ K_P + K_L + K_E), E edges (unordered pairs
u < v, self-loops excluded: w_vv = 1 is implicit and enters nothing below).

* The image × tag incidence M (N, T) is one sparse matrix (stored transposed, a row per tag); per-tag
  counts are its row lengths and pair counts c_uv the off-diagonal of MᵀM (one sparse product, no
  loop over images).
* Pruning (S1.2.10) keeps the top-K tags of each type by count (ties: lower tag id first) *before*
  the pair counts, so they are computed for kept tags only. Counts stay those of the whole gallery:
  pruning removes nodes, not images.
* "Then re-normalise edges and recompute g_t": on the pruned edge set p_PP, λ_s and λ_c (4) are
  recomputed, so the edge-weight mix (3) is that of the graph actually kept, and g_t is computed on
  the final (sparsified) edges.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Tag types, in the order of the type codes 0, 1, 2 (one home: :data:`memoire_cli.vocabulary.TAG_TYPES`).
from memoire_cli.vocabulary import TAG_TYPES as TYPES  # noqa: F401


def incidence(pair_image: np.ndarray, pair_tag: np.ndarray, n_images: int, n_tags: int) -> Any:
    """Transposed image × tag incidence Mᵀ: scipy.sparse CSR (T, N) int32, one row per tag.

    pair_image, pair_tag: (P,) int, the (image, tag) pairs, each at most once (``image_tags``' primary
    key). Rows are filled by a stable counting sort of the pairs by tag (numpy's radix sort for
    small integer keys), so building it is O(P).
    """
    import scipy.sparse as sp

    key = pair_tag.astype(np.uint16) if n_tags <= 1 << 16 else pair_tag
    order = np.argsort(key, kind="stable")
    indptr = np.zeros(n_tags + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_tag, minlength=n_tags), out=indptr[1:])
    indices = pair_image[order].astype(np.int32 if n_images < 1 << 31 else np.int64)
    return sp.csr_matrix((np.ones(len(order), dtype=np.int32), indices, indptr), shape=(n_tags, n_images))


def prune(counts: np.ndarray, type_codes: np.ndarray, quotas: tuple[int, int, int]) -> np.ndarray:
    """Tags kept by the type quotas (K_P, K_L, K_E) of S1.2.10, by count then tag order.

    counts: (T,) int; type_codes: (T,) int in {0 P, 1 L, 2 E}. Returns (K,) int64 ascending indices.
    """
    order = np.lexsort((np.arange(len(counts)), -counts, type_codes))  # by type, count desc, index
    codes = type_codes[order]
    starts = np.searchsorted(codes, codes, side="left")
    rank = np.arange(len(order)) - starts  # 0-based rank within the type
    limit = np.asarray(quotas, dtype=np.int64)[codes]
    return np.sort(order[rank < limit]).astype(np.int64)


def pair_counts(mt: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs that co-occur in at least one image, from the (K, N) incidence rows of the kept tags.

    One sparse product C = Mᵀ M (K, K); its diagonal must equal the tags' image counts (a repeated
    (image, tag) pair would inflate it). Returns src (E,), dst (E,) int64 with src < dst, sorted by
    (src, dst), and c_uv (E,) int64.
    """
    c = (mt @ mt.T).tocsr()
    if not np.array_equal(c.diagonal(), np.diff(mt.indptr)):
        raise ValueError("repeated (image, tag) pairs in the incidence")
    c.sort_indices()
    c = c.tocoo()
    upper = (c.row < c.col) & (c.data > 0)
    return c.row[upper].astype(np.int64), c.col[upper].astype(np.int64), c.data[upper].astype(np.int64)


def cooccurrence(c_uv: np.ndarray, c_u: np.ndarray, c_v: np.ndarray) -> np.ndarray:
    """cooc_uv = c_uv / max(1, c_u + c_v − c_uv) ∈ [0, 1] (1); all (E,)."""
    return c_uv / np.maximum(1, c_u + c_v - c_uv)


def weight_mix(p_pp: float, mu: float, kappa: float) -> tuple[float, float]:
    """(λ_s, λ_c) with λ_s = σ(κ (p_PP − μ)) and λ_c = 1 − λ_s (4)."""
    lambda_s = 1.0 / (1.0 + math.exp(-kappa * (p_pp - mu)))
    return lambda_s, 1.0 - lambda_s


def edge_weights(cooc: np.ndarray, social: np.ndarray, lambda_c: float, lambda_s: float) -> np.ndarray:
    """w_uv = λ_c cooc_uv + λ_s social_uv (3); (E,)."""
    return lambda_c * cooc + lambda_s * social


def sparsify(src: np.ndarray, dst: np.ndarray, w: np.ndarray, k: int, threshold: float) -> np.ndarray:
    """Edges kept by the threshold τ_e, then by the k-NN rule (S1.2.2); (E,) bool.

    src, dst: (E,) with src < dst, sorted by (src, dst) (as :func:`pair_counts` returns them).

    An edge survives the threshold when w_uv ≥ τ_e (τ_e = 0 keeps every edge). Among survivors, each
    node ranks its neighbours by weight (ties: lower node index first) and an edge is kept when
    either end has the other among its k first (the k-NN graph symmetrised by union, so no node
    loses all its edges); k = 0 turns the rule off.
    """
    keep = w >= threshold
    if k <= 0 or not keep.any():
        return keep
    idx = np.flatnonzero(keep)  # (E',) surviving edges, still by (src, dst)
    u, v = src[idx], dst[idx]
    n = int(max(u.max(), v.max())) + 1
    if (np.bincount(u, minlength=n) + np.bincount(v, minlength=n)).max() <= k:
        return keep  # no node has more than k neighbours
    by_weight = np.argsort(-w[idx], kind="stable")  # (E',) weight desc, ties by (src, dst)
    # directed entries (node, edge) in that order; within a node and a weight, the neighbours are
    # then ascending: (x, node) edges (x < node) precede (node, y) edges in (src, dst) order
    nodes = np.stack([u[by_weight], v[by_weight]], axis=1).ravel()  # (2E',)
    edge = np.repeat(by_weight, 2)
    order = np.argsort(nodes.astype(np.uint16) if n <= 1 << 16 else nodes, kind="stable")
    sorted_nodes = nodes[order]  # by node, weight desc, neighbour asc
    rank = np.arange(len(order)) - np.searchsorted(sorted_nodes, sorted_nodes, side="left")
    out = np.zeros(len(w), dtype=bool)
    out[idx[edge[order[rank < k]]]] = True
    return out


def graph_relation(src: np.ndarray, dst: np.ndarray, w: np.ndarray, n_nodes: int) -> np.ndarray:
    """g_t = Σ_{u ∈ N(t)} w_tu / Σ_{(i,j) ∈ E} w_ij (5) over the kept edges; (K,).

    The denominator counts each undirected edge once (so Σ_t g_t = 2); without edges (or with zero
    total weight) g_t = 0 for every node.
    """
    strength = np.bincount(src, weights=w, minlength=n_nodes) + np.bincount(dst, weights=w, minlength=n_nodes)
    total = float(w.sum())
    return strength / total if total > 0 else np.zeros(n_nodes)
