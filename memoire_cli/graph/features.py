"""Tag features x_t = [f_t, r_t, v_t, q_t, g_t, u_t] and their per-user z-scores (S1.2.3, equation (5)).

Shapes: N images, T tags, K nodes. Per-tag aggregates are sparse products with the incidence
Mᵀ (T, N) or ufunc reductions over the P (image, tag) pairs — no loop over images.

* f_t = #{I : t ∈ I} / |I| (0 for an empty gallery).
* r_t = exp(−Δt_t / τ_r), Δt_t in days from ``now`` back to the tag's latest dated image, clamped
  at 0 (an image dated after ``now`` counts as now). A tag without a dated image, or a gallery
  without ``now``, has r_t = 0 (infinitely old).
* v_t = mean ``usage.views_norm`` over the tag's images that have one (a missing usage row, NULL or
  NaN is *absent*, not 0); 0 when none has.
* q_t = share of the tag's images with ``favourite`` true, over those where it is known; 0 when none.
* g_t: :func:`memoire_cli.graph.cooccurrence.graph_relation`.
* u_t = one-hot type (P, L, E) ⧺ one-hot ρ_t over the 12 relation labels (all zero for places and
  events): not stored, rebuilt from ``graph_nodes.type``/``relation`` by :func:`onehot`.

Scalar features are z-scored across the user's kept nodes: (x − mean) / std with the population
std; a feature that is constant across nodes (or a single node) has z = 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.vocabulary import RELATIONS, TAG_TYPES

US_PER_DAY = 86_400_000_000
#: Sentinel for "no dated image" in int64 microsecond times.
NO_TIME = np.iinfo(np.int64).min


def zscore(x: np.ndarray) -> np.ndarray:
    """(K,) → (K,) z-scores with the population std; 0 where the std is 0 or undefined."""
    if len(x) == 0:
        return np.zeros(0)
    std = float(x.std())
    if not std > 0 or not np.isfinite(std):
        return np.zeros(len(x))
    return (x - x.mean()) / std


def frequency(counts: np.ndarray, n_images: int) -> np.ndarray:
    """f_t = count_t / |I|; (T,) float64 (zeros for an empty gallery)."""
    return counts / n_images if n_images else np.zeros(len(counts))


def last_seen(mt: Any, times_us: np.ndarray, dated: np.ndarray) -> np.ndarray:
    """Latest capture time per tag, (T,) int64 µs since the epoch, :data:`NO_TIME` if none is dated.

    mt: transposed incidence Mᵀ (T, N); times_us, dated: (N,) capture time and whether it is known.
    One gather over the P pairs in tag order and a segmented max (``np.maximum.reduceat``).
    """
    n_tags = mt.shape[0]
    out = np.full(n_tags, NO_TIME, dtype=np.int64)
    if not mt.nnz:
        return out
    per_pair = np.where(dated, times_us, NO_TIME)[mt.indices]  # (P,) in tag order
    filled = np.diff(mt.indptr) > 0
    out[filled] = np.maximum.reduceat(per_pair, mt.indptr[:-1][filled])
    return out


def recency(last_us: np.ndarray, now_us: int | None, tau_r_days: float) -> np.ndarray:
    """r_t = exp(−max(0, now − last_seen_t) / τ_r); (K,), 0 for undated tags or without now."""
    r = np.zeros(len(last_us))
    if now_us is None:
        return r
    seen = last_us != NO_TIME
    dt_days = np.maximum(0, now_us - last_us[seen]) / US_PER_DAY
    r[seen] = np.exp(-dt_days / tau_r_days)
    return r


def usage_rates(mt: Any, views: np.ndarray, favourite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(v_t, q_t), each (T,): mean known views_norm and favourite share of each tag's images.

    mt: transposed incidence Mᵀ (T, N); views, favourite: (N,) float64 with NaN where unknown.
    """

    def mean_known(x: np.ndarray) -> np.ndarray:
        known = np.isfinite(x)
        total = mt @ np.where(known, x, 0.0)
        n = mt @ known.astype(np.float64)
        return np.divide(total, n, out=np.zeros(len(n)), where=n > 0)

    return mean_known(views), mean_known(favourite)


def onehot(types: np.ndarray, relations: np.ndarray) -> np.ndarray:
    """u_t (5): (K, 3 + 12) float64 = one-hot type (P, L, E) ⧺ one-hot ρ_t (people only).

    types: (K,) 'P' | 'L' | 'E'; relations: (K,) relation label or None (an unrecognised label of a
    person counts as 'unknown').
    """
    types = np.asarray(types, dtype=object)
    out = np.zeros((len(types), 3 + len(RELATIONS)))
    for j, t in enumerate(TAG_TYPES):
        out[:, j] = types == t
    lookup = {r: i for i, r in enumerate(RELATIONS)}
    person = np.flatnonzero(types == "P")
    cols = np.fromiter((lookup.get(relations[i], lookup["unknown"]) for i in person), dtype=np.int64, count=len(person))
    out[person, 3 + cols] = 1.0
    return out
