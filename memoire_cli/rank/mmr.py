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
    photos sit near 0.8–1; centring spreads them), clipped to [0, 1];
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

from memoire_cli.rank.config import check_lambda

EMBED_WEIGHT = 0.5  # w: share of the embedding cosine in sim (the rest: context overlap)


@dataclass(frozen=True)
class SimilaritySpace:
    """What sim(i, j) needs, per candidate (N of them).

    The embeddings are kept as given (N, D) float32; centring is algebraic, so building the space
    costs three read passes and no (N, D) copy: with m the mean embedding, p_i = e_i·m and
    n_i = |e_i − m|, cos(e_i − m, e_j − m) = (e_i·e_j − p_i − p_j + m·m) / (n_i n_j).
    ``context``: (N, C) bool; ``sizes``: (N,) |C_i|.
    """

    embeddings: np.ndarray
    proj: np.ndarray  # (N,) float64 p_i
    norms: np.ndarray  # (N,) float64 n_i (0: the row equals the mean, similarity 0)
    mean_sq: float  # m·m
    context: np.ndarray
    sizes: np.ndarray
    embed_weight: float = EMBED_WEIGHT

    @classmethod
    def build(cls, embeddings: np.ndarray, context: np.ndarray, embed_weight: float = EMBED_WEIGHT) -> SimilaritySpace:
        """From embeddings (N, D) (any scale; float32 is used as is) and a boolean context matrix (N, C)."""
        e = np.ascontiguousarray(embeddings, dtype=np.float32)
        if e.ndim != 2:
            raise ValueError(f"embeddings must be (N, D), got {e.shape}")
        c = np.ascontiguousarray(context, dtype=bool)
        if c.ndim != 2 or c.shape[0] != e.shape[0]:
            raise ValueError(f"context must be (N, C) with N = {e.shape[0]}, got {c.shape}")
        if not 0.0 <= embed_weight <= 1.0:
            raise ValueError("embed_weight must be in [0, 1]")
        n = len(e)
        if n:
            mean = e.mean(axis=0, dtype=np.float64).astype(np.float32)
            proj = (e @ mean).astype(np.float64)
            sq = np.einsum("ij,ij->i", e, e, dtype=np.float64) if e.shape[1] else np.zeros(n)
            mean_sq = float(mean.astype(np.float64) @ mean.astype(np.float64))
            norms = np.sqrt(np.maximum(sq - 2.0 * proj + mean_sq, 0.0))
            norms[norms < 1e-6] = 0.0
        else:
            proj, norms, mean_sq = np.zeros(0), np.zeros(0), 0.0
        return cls(e, proj, norms, mean_sq, c, c.sum(axis=1, dtype=np.int64), float(embed_weight))

    def __len__(self) -> int:
        return len(self.embeddings)

    def sim(self, i: int, js: np.ndarray | list[int]) -> np.ndarray:
        """sim(i, j) for each j in ``js``: (len(js),) float64 in [0, 1]."""
        js = np.asarray(js, dtype=np.int64)
        dots = (self.embeddings[js] @ self.embeddings[i]).astype(np.float64)
        denom = self.norms[js] * self.norms[i]
        centred = dots - self.proj[js] - self.proj[i] + self.mean_sq
        cos = np.divide(centred, denom, out=np.zeros(len(js)), where=denom > 0)
        cos = np.clip(cos, 0.0, 1.0)
        inter = (self.context[js].astype(np.int32) @ self.context[i].astype(np.int32)).astype(np.float64)
        union = self.sizes[js] + self.sizes[i] - inter
        jac = np.divide(inter, union, out=np.zeros(len(js)), where=union > 0)
        return self.embed_weight * cos + (1.0 - self.embed_weight) * jac

    def matrix(self, idx: np.ndarray | list[int]) -> np.ndarray:
        """sim among ``idx``: (n, n) float64 (diagonal included)."""
        idx = np.asarray(idx, dtype=np.int64)
        return np.stack([self.sim(int(i), idx) for i in idx]) if len(idx) else np.zeros((0, 0))


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
    check_lambda(lam, "λ")
    if k < 0:
        raise ValueError("k must be ≥ 0")
    return min(k, len(rel))


def mmr_select(rel: np.ndarray, space: SimilaritySpace, k: int, lam: float,
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


def mmr_plain(rel: np.ndarray, space: SimilaritySpace, k: int, lam: float,
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
