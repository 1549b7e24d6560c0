"""Diversity-aware selection: maximal marginal relevance (MMR) with the spec's λ = 0.4 (S2.3 Table 8, S2.4 A3/B1).

Greedy, k steps; at each step the candidate maximising

    mmr(i) = (1 − λ) · rel(i) − λ · max_{j ∈ selected} sim(i, j)          (max over ∅ = 0)

is taken; ties go to the smaller image id. λ is the spec's "diversity weight": λ = 0 is A3
No-Diversity (pure relevance order), larger λ penalises similarity more (Table 10's sweep).

* rel(i): the predictor's raw scores s(I) min–max normalised over the session, in [0, 1]
  (all 0 when every score is equal).
* sim(i, j) = w · cos⁺(e_i, e_j) + (1 − w) · J(C_i, C_j), w = 0.5, in [0, 1]:
  - cos⁺: cosine of the image embeddings after subtracting the session's mean embedding
    (pooled CNN and CLIP embeddings share a large common component, so raw cosines of unrelated
    photos sit near 0.8–1; centring spreads them), clipped at 0;
  - J: Jaccard overlap of the images' *context*: their person, location and event-type tags
    (image_tags) plus their event instance (images.event_id), so two shots of the same people at
    the same place and occasion are similar even when their pixels differ.

:func:`mmr_select` is exact and fast: since max-similarity only grows, mmr(i) only falls, so the
score a candidate had when last evaluated is an upper bound. Candidates are visited in order of
that bound (a heap of re-evaluated ones merged with the initial relevance order); one whose score is
up to date and not beaten by any bound is the true argmax — the lazy-greedy idea of Minoux (1978).
Only the few candidates near the top are ever evaluated against the selected set.
:func:`mmr_plain` is the textbook loop over every candidate at every step, the reference
(benchmarks/bench_mmr.py compares them; tests check they agree).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

EMBED_WEIGHT = 0.5  # w: share of the embedding cosine in sim (the rest: context overlap)


@dataclass(frozen=True)
class SimilaritySpace:
    """What sim(i, j) needs, per candidate: centred unit embeddings (N, D) float32 and context (N, C) float32 0/1."""

    embeddings: np.ndarray
    context: np.ndarray
    sizes: np.ndarray  # (N,) |C_i| float32
    embed_weight: float = EMBED_WEIGHT

    @classmethod
    def build(cls, embeddings: np.ndarray, context: np.ndarray, embed_weight: float = EMBED_WEIGHT) -> SimilaritySpace:
        """From raw embeddings (N, D) (any scale) and a boolean context matrix (N, C)."""
        e = np.asarray(embeddings, dtype=np.float32)
        if e.ndim != 2:
            raise ValueError(f"embeddings must be (N, D), got {e.shape}")
        c = np.asarray(context, dtype=np.float32)
        if c.ndim != 2 or c.shape[0] != e.shape[0]:
            raise ValueError(f"context must be (N, C) with N = {e.shape[0]}, got {c.shape}")
        if not 0.0 <= embed_weight <= 1.0:
            raise ValueError("embed_weight must be in [0, 1]")
        if len(e):
            e = e - e.mean(axis=0, keepdims=True)
            norm = np.linalg.norm(e, axis=1, keepdims=True)
            e = e / np.where(norm > 1e-12, norm, 1.0)
            e[norm[:, 0] <= 1e-12] = 0.0
        return cls(np.ascontiguousarray(e, dtype=np.float32), np.ascontiguousarray(c), c.sum(axis=1), float(embed_weight))

    def __len__(self) -> int:
        return len(self.embeddings)

    def sim(self, i: int, js: np.ndarray | list[int]) -> np.ndarray:
        """sim(i, j) for each j in ``js``: (len(js),) float32 in [0, 1]."""
        js = np.asarray(js, dtype=np.int64)
        cos = np.maximum(self.embeddings[js] @ self.embeddings[i], 0.0)
        inter = self.context[js] @ self.context[i]
        union = self.sizes[js] + self.sizes[i] - inter
        jac = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
        return (self.embed_weight * cos + (1.0 - self.embed_weight) * jac).astype(np.float32)

    def matrix(self, idx: np.ndarray | list[int]) -> np.ndarray:
        """sim among ``idx``: (n, n) float32 (diagonal included)."""
        idx = np.asarray(idx, dtype=np.int64)
        return np.stack([self.sim(int(i), idx) for i in idx]) if len(idx) else np.zeros((0, 0), np.float32)


def relevance(scores: np.ndarray) -> np.ndarray:
    """Min–max normalised scores in [0, 1] (float64); all 0 when constant."""
    s = np.asarray(scores, dtype=np.float64)
    if not len(s):
        return s
    lo, hi = s.min(), s.max()
    return (s - lo) / (hi - lo) if hi > lo else np.zeros_like(s)


def _check(rel: np.ndarray, space: SimilaritySpace, tiebreak: np.ndarray, k: int, lam: float) -> int:
    if len(rel) != len(space) or len(tiebreak) != len(rel):
        raise ValueError("relevance, similarity space and tie-break keys must cover the same candidates")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"λ must be in [0, 1], got {lam}")
    if k < 0:
        raise ValueError("k must be ≥ 0")
    return min(k, len(rel))


def mmr_select(rel: np.ndarray, space: SimilaritySpace, k: int, lam: float = 0.4,
               tiebreak: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The MMR top-k (lazy greedy, exact): indices in selection order (k,) int64 and their mmr scores (k,) float64.

    ``tiebreak``: (N,) int, smaller wins among equal scores (the rank of each image id); default the index.
    """
    rel = np.asarray(rel, dtype=np.float64)
    tiebreak = np.arange(len(rel)) if tiebreak is None else np.asarray(tiebreak, dtype=np.int64)
    k = _check(rel, space, tiebreak, k, lam)
    base = (1.0 - lam) * rel
    order = np.lexsort((tiebreak, -base))  # the initial bounds, best first
    maxsim = np.zeros(len(rel))
    seen = np.zeros(len(rel), dtype=np.int64)  # how many selected items maxsim[i] accounts for
    heap: list[tuple[float, int, int]] = []  # (−score, tiebreak, i) of re-evaluated candidates
    selected: list[int] = []
    scores: list[float] = []
    taken = np.zeros(len(rel), dtype=bool)
    pos = 0
    while len(selected) < k:
        while pos < len(order) and taken[order[pos]]:
            pos += 1
        from_list = None
        if pos < len(order):
            i0 = int(order[pos])
            from_list = (-base[i0], int(tiebreak[i0]), i0)
        if heap and (from_list is None or heap[0] < from_list):
            key = heapq.heappop(heap)
        else:
            key = from_list
            pos += 1
        _, tb, i = key
        if taken[i]:
            continue
        if seen[i] < len(selected):
            maxsim[i] = max(maxsim[i], float(space.sim(i, selected[seen[i]:]).max()))
            seen[i] = len(selected)
            heapq.heappush(heap, (-(base[i] - lam * maxsim[i]), tb, i))
            continue
        selected.append(i)
        scores.append(base[i] - lam * maxsim[i])
        taken[i] = True
    return np.array(selected, dtype=np.int64), np.array(scores, dtype=np.float64)


def mmr_plain(rel: np.ndarray, space: SimilaritySpace, k: int, lam: float = 0.4,
              tiebreak: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The textbook MMR loop (every candidate, every step): the reference for :func:`mmr_select`."""
    rel = np.asarray(rel, dtype=np.float64)
    tiebreak = np.arange(len(rel)) if tiebreak is None else np.asarray(tiebreak, dtype=np.int64)
    k = _check(rel, space, tiebreak, k, lam)
    selected: list[int] = []
    scores: list[float] = []
    for _ in range(k):
        best: tuple[float, int, int] | None = None
        for i in range(len(rel)):
            if i in selected:
                continue
            penalty = max((float(space.sim(i, [j])[0]) for j in selected), default=0.0)
            key = (-((1.0 - lam) * rel[i] - lam * penalty), int(tiebreak[i]), i)
            if best is None or key < best:
                best = key
        selected.append(best[2])
        scores.append(-best[0])
    return np.array(selected, dtype=np.int64), np.array(scores, dtype=np.float64)
