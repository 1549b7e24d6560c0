"""The samplers of PERSONA-GAT training (S1.2.6), numpy only and driven by one ``np.random.Generator``.

* :func:`sample_positives` — one positive u ∈ 𝒩(t) per target t, drawn in proportion to w_tu
  (our reading: the spec says "sample one positive u ∈ 𝒩(t)"; weighting by w makes tags that
  co-occur more often more likely positives, which is the stated motivation of the NCE loss).
* :func:`sample_negatives` — N_neg negatives per target from P_neg(n) ∝ degree(n)^0.75, each replaced
  with probability p_h by a *hard* negative: a two-hop neighbour of t that never co-occurs with t
  (when t has one). degree(n) counts n's neighbours, self-loop excluded.
* :func:`ordinal_pairs` — ordered pairs (i, j) with IPS⁰_i > IPS⁰_j, each accepted with probability
  π = 1 − exp(−[IPS⁰_i − IPS⁰_j]₊ / δ).
* :func:`top_k_neighbours`, :func:`sample_subgraph`, :func:`induced_edges` — neighbour sampling
  for |V| > 500: seeds, plus the K heaviest neighbours of every node reached, per layer, and the
  induced subgraph.

Every function consumes the generator in a fixed order, so a seed fixes every sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class ContextGraph:
    """A (sub)graph's adjacency for sampling, self-loops excluded.

    Attributes:
        n: number of nodes.
        indptr, indices, weights: symmetric CSR adjacency (row t lists 𝒩(t) \\ {t}, ascending).
        p_neg: ``(n,)`` P_neg, or ``None`` when no node has a neighbour.
        hop2_indptr, hop2_indices: CSR of the two-hop neighbours of each t that never co-occur
            with t (not adjacent, not t itself).
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    p_neg: np.ndarray | None
    hop2_indptr: np.ndarray
    hop2_indices: np.ndarray

    @cached_property
    def degree(self) -> np.ndarray:
        return np.diff(self.indptr)

    # Computed once per graph (a user's training draws from it ~1000 times).
    @cached_property
    def weight_cum(self) -> np.ndarray:
        """``(2m + 1,)`` cumulative edge weights in CSR order, from 0."""
        return np.concatenate([[0.0], np.cumsum(self.weights)])

    @cached_property
    def neg_cdf(self) -> np.ndarray | None:
        """The cumulative P_neg, normalised as ``Generator.choice(p=…)`` normalises it."""
        if self.p_neg is None:
            return None
        cdf = self.p_neg.cumsum()
        cdf /= cdf[-1]
        return cdf


def _csr(n: int, rows: np.ndarray, cols: np.ndarray, data: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.lexsort((cols, rows))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]).astype(np.int64)
    return indptr, cols[order].astype(np.int64), data[order]


def context_graph(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
                  degree: np.ndarray | None = None, power: float = 0.75) -> ContextGraph:
    """Build the sampling structures of an undirected graph (edges once, ``src < dst``).

    Args:
        n: number of nodes.
        src, dst, weight: ``(m,)`` edges and their weights.
        degree: degrees to use for P_neg (default: this graph's own; a sampled subgraph passes
            the full graph's, restricted to its nodes).
        power: the exponent of P_neg (S1.2.6: 0.75).
    """
    import scipy.sparse as sp

    src = np.asarray(src, np.int64)
    dst = np.asarray(dst, np.int64)
    weight = np.asarray(weight, np.float64)
    rows, cols = np.concatenate([src, dst]), np.concatenate([dst, src])
    indptr, indices, weights = _csr(n, rows, cols, np.concatenate([weight, weight]))
    deg = np.diff(indptr).astype(np.float64) if degree is None else np.asarray(degree, np.float64)
    mass = deg ** power
    p_neg = mass / mass.sum() if mass.sum() > 0 else None
    adj = sp.csr_matrix((np.ones(indices.size), indices, indptr), shape=(n, n))
    two = (adj @ adj).tocsr()
    two.setdiag(0)
    two = two - two.multiply(adj)
    two.eliminate_zeros()
    two.sort_indices()
    return ContextGraph(n, indptr, indices, weights, p_neg, two.indptr.astype(np.int64), two.indices.astype(np.int64))


def sample_positives(ctx: ContextGraph, targets: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One neighbour u of each target t, with probability w_tu / Σ_u' w_tu' (uniform if all are 0).

    Args:
        targets: ``(T,)`` nodes, each with at least one neighbour.

    Returns:
        ``(T,)`` int64 positives.
    """
    lo, hi = ctx.indptr[targets], ctx.indptr[targets + 1]
    cum = ctx.weight_cum
    u = rng.random(targets.size)
    mass_lo, mass_hi = cum[lo], cum[hi]
    by_weight = np.searchsorted(cum, mass_lo + u * (mass_hi - mass_lo), side="right") - 1
    uniform = lo + np.floor(u * (hi - lo)).astype(np.int64)
    k = np.where(mass_hi > mass_lo, by_weight, uniform)
    return ctx.indices[np.clip(k, lo, hi - 1)]


def sample_negatives(ctx: ContextGraph, targets: np.ndarray, n_neg: int, p_hard: float,
                     rng: np.random.Generator) -> np.ndarray:
    """N_neg negatives per target from P_neg, each hard (two-hop, never co-occurring) with probability p_h.

    Returns:
        ``(T, n_neg)`` int64 negatives (a negative may equal its target; the loss masks those).
    """
    if ctx.p_neg is None:
        raise ValueError("no node has a neighbour: there is no noise distribution to sample from")
    shape = (targets.size, n_neg)
    # = rng.choice(ctx.n, size=shape, p=ctx.p_neg), the same draws, without re-validating and
    # re-accumulating p on every call (tests/test_persona.py checks the equality).
    neg = ctx.neg_cdf.searchsorted(rng.random(shape), side="right")
    hard = rng.random(shape) < p_hard
    pick = rng.random(shape)
    lo = ctx.hop2_indptr[targets][:, None]
    count = (ctx.hop2_indptr[targets + 1] - ctx.hop2_indptr[targets])[:, None]
    hard &= count > 0
    if ctx.hop2_indices.size:
        idx = np.minimum(lo + np.floor(pick * count).astype(np.int64), ctx.hop2_indices.size - 1)
        neg = np.where(hard, ctx.hop2_indices[idx], neg)
    return neg.astype(np.int64)


def ordinal_pairs(ips: np.ndarray, nodes: np.ndarray, n_pairs: int, delta: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Mine weak-ordinal pairs (S1.2.6): ``n_pairs`` candidates drawn uniformly from ``nodes``,
    ordered so IPS⁰_i > IPS⁰_j (ties dropped), each kept with π = 1 − exp(−(IPS⁰_i − IPS⁰_j)/δ).

    Returns:
        ``(i, j)``, two ``(P,)`` int64 arrays with IPS⁰_i > IPS⁰_j.
    """
    a = nodes[rng.integers(0, nodes.size, n_pairs)]
    b = nodes[rng.integers(0, nodes.size, n_pairs)]
    u = rng.random(n_pairs)
    diff = ips[a] - ips[b]
    gap = np.abs(diff)
    keep = (gap > 0) & (u < -np.expm1(-gap / delta))
    hi, lo = np.where(diff > 0, a, b), np.where(diff > 0, b, a)
    return hi[keep].astype(np.int64), lo[keep].astype(np.int64)


class FullBatchSampler:
    """The draws of one full-batch step — :func:`sample_positives` and :func:`sample_negatives` for
    every target (node with a neighbour), then :func:`ordinal_pairs` over every node — with what does
    not change from step to step computed once (a user's training draws ~1000 times).

    The generator is called in the same order with the same arguments, and every value is computed
    by the same expressions, so the draws are those of the three functions (tests/test_persona.py).
    :meth:`draw` returns them laid out for the dense training step: flat indices t·N + u into the
    (N, N) Gram matrix of z (each target's positive, then its negatives), their signs in the NCE loss
    (−1 positive, +1 negative, 0 a negative equal to its target), and the ordinal pairs' i then j.
    """

    def __init__(self, ctx: ContextGraph, ips: np.ndarray, n_neg: int, p_hard: float, n_pairs: int, delta: float):
        n = ctx.n
        self.ctx, self.n, self.n_neg, self.p_hard, self.n_pairs = ctx, n, n_neg, p_hard, n_pairs
        self.targets = t = np.arange(n)[ctx.degree > 0]
        lo, hi = ctx.indptr[t], ctx.indptr[t + 1]
        cum = ctx.weight_cum
        self.pos_lo, self.pos_hi1, self.pos_span = lo, hi - 1, hi - lo
        self.mass_lo, self.mass_span = cum[lo], cum[hi] - cum[lo]
        self.weighted = cum[hi] > cum[lo]
        self.all_weighted = bool(self.weighted.all())
        self.hop_lo = ctx.hop2_indptr[t][:, None]
        self.hop_count = (ctx.hop2_indptr[t + 1] - ctx.hop2_indptr[t])[:, None]
        self.hop_has = self.hop_count > 0
        diff = ips[:, None] - ips[None, :]                           # IPS⁰_a − IPS⁰_b, every pair
        gap = np.abs(diff)
        self.accept = np.where(gap > 0, -np.expm1(-gap / delta), 0.0).reshape(-1)   # π, 0 for ties
        self.higher = (diff > 0).reshape(-1)
        self.row = t * n
        self.sign = np.empty(t.size * (1 + n_neg), np.float32)
        self.sign[:t.size] = -1.0

    def draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(gram_index, gram_sign, gram_keep, ord_index)`` of one step (see the class docstring)."""
        ctx, t = self.ctx, self.targets
        if t.size:
            u = rng.random(t.size)                                   # sample_positives
            k = np.searchsorted(ctx.weight_cum, self.mass_lo + u * self.mass_span, side="right") - 1
            if not self.all_weighted:
                k = np.where(self.weighted, k, self.pos_lo + np.floor(u * self.pos_span).astype(np.int64))
            pos = ctx.indices[np.minimum(np.maximum(k, self.pos_lo), self.pos_hi1)]
            shape = (t.size, self.n_neg)                             # sample_negatives
            neg = ctx.neg_cdf.searchsorted(rng.random(shape), side="right")
            hard = rng.random(shape) < self.p_hard
            pick = rng.random(shape)
            if ctx.hop2_indices.size:
                hard &= self.hop_has
                idx = np.minimum(self.hop_lo + np.floor(pick * self.hop_count).astype(np.int64), ctx.hop2_indices.size - 1)
                neg = np.where(hard, ctx.hop2_indices[idx], neg)
            index = np.concatenate([self.row + pos, (self.row[:, None] + neg).reshape(-1)])
            keep = (neg != t[:, None]).reshape(-1)
            sign = self.sign.copy()
            sign[t.size:] = keep
            gram_keep = np.abs(sign)
        else:
            index, sign, gram_keep = np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, np.float32)
        a = rng.integers(0, self.n, self.n_pairs)                     # ordinal_pairs over every node
        b = rng.integers(0, self.n, self.n_pairs)
        u = rng.random(self.n_pairs)
        pair = a * self.n + b
        kept = u < self.accept[pair]
        higher = self.higher[pair][kept]
        a, b = a[kept], b[kept]
        return index, sign, gram_keep, np.concatenate([np.where(higher, a, b), np.where(higher, b, a)])


def top_k_neighbours(ctx: ContextGraph, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each node's K heaviest neighbours (ties: lower index first), as CSR ``(indptr, indices)``."""
    rows = np.repeat(np.arange(ctx.n), ctx.degree)
    order = np.lexsort((ctx.indices, -ctx.weights, rows))
    rank = np.arange(order.size) - ctx.indptr[rows[order]]
    keep = order[rank < k]
    counts = np.bincount(rows[keep], minlength=ctx.n)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), ctx.indices[keep]


def sample_subgraph(topk: tuple[np.ndarray, np.ndarray], seeds: np.ndarray, hops: int) -> np.ndarray:
    """Seeds plus, for each of ``hops`` layers, the K heaviest neighbours of every node reached so far
    (S1.2.6 mini-batching). Returns the sorted node ids of the subgraph to induce."""
    indptr, indices = topk
    nodes = np.unique(seeds)
    frontier = nodes
    for _ in range(hops):
        if not frontier.size:
            break
        reach = np.concatenate([indices[indptr[v]:indptr[v + 1]] for v in frontier])
        new = np.setdiff1d(reach, nodes)
        nodes = np.union1d(nodes, new)
        frontier = new
    return nodes


def induced_edges(nodes: np.ndarray, src: np.ndarray, dst: np.ndarray, weight: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges among ``nodes`` (sorted), renumbered to 0…len(nodes)−1 (still ``src < dst``)."""
    local = np.full(n, -1, dtype=np.int64)
    local[nodes] = np.arange(nodes.size)
    keep = (local[src] >= 0) & (local[dst] >= 0)
    return local[src[keep]], local[dst[keep]], weight[keep]
