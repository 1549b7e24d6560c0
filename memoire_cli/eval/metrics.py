"""The evaluation metrics of S2.2 (and the diagnostics of S2.2 / S2.4 D).

* **SRCC** — per user, Spearman's rank correlation between the model's *full* ranking of the
  session and the user's PIS; the mean over users with a 95% CI from a bootstrap over users.
  The model's ranking is a strict order (ties already broken by image id, S2.3), so its ranks are
  1…N; PIS ties get average ranks (scipy.stats.spearmanr).
* **APS@k** — mean PIS of the k selected images, averaged over users (S2.2, k = 20).
* **Redundancy@k** — mean pairwise cosine similarity among the top-k image embeddings (rows
  L2-normalised; k(k−1)/2 pairs; NaN for k < 2).
* **Coverage@k** — distinct {people, location, event} tags carried by the top-k over the distinct
  such tags carried by the whole session (optionally of some types only, e.g. events for Table 17).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def srcc(order: Sequence[str], pis: dict[str, float]) -> float:
    """Spearman ρ between a full ranking (best first) and the PIS of its images; NaN when undefined.

    order: the session's image ids, best first (N,); pis: image id → PIS (every id of ``order``).
    """
    from scipy.stats import spearmanr

    if len(order) < 2:
        return float("nan")
    truth = np.array([pis[i] for i in order], np.float64)
    if np.all(truth == truth[0]):
        return float("nan")
    model = -np.arange(len(order), dtype=np.float64)  # best first → highest model score
    return float(spearmanr(model, truth).statistic)


def aps(selected: Sequence[str], pis: dict[str, float]) -> float:
    """Mean PIS of the selected top-k (one user's term of S2.2's APS)."""
    return float(np.mean([pis[i] for i in selected])) if len(selected) else float("nan")


def redundancy(embeddings: np.ndarray) -> float:
    """Mean pairwise cosine among the rows of (k, D) embeddings; NaN for k < 2."""
    e = np.asarray(embeddings, np.float64)
    k = len(e)
    if k < 2:
        return float("nan")
    norm = np.linalg.norm(e, axis=1, keepdims=True)
    e = e / np.where(norm > 0, norm, 1.0)
    sim = e @ e.T
    return float(sim[np.triu_indices(k, 1)].mean())


def coverage(selected_tags: Iterable[Iterable[int]], session_tags: Iterable[Iterable[int]],
             tag_types: dict[int, str] | None = None, types: str = "PLE") -> float:
    """|tags of the top-k| / |tags of the session|, over tags of ``types``; NaN when the session has none.

    selected_tags / session_tags: per image, its tag ids; tag_types: tag id → P/L/E (needed when
    ``types`` is not all three).
    """
    def keep(t: int) -> bool:
        return tag_types is None or tag_types.get(int(t), "") in types

    universe = {int(t) for tags in session_tags for t in tags if keep(t)}
    if not universe:
        return float("nan")
    got = {int(t) for tags in selected_tags for t in tags if keep(t)} & universe
    return len(got) / len(universe)


def mean_ci(values: Sequence[float], n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean over users and a percentile bootstrap CI (users resampled with replacement); NaNs dropped.

    Returns (mean, low, high); all NaN when no value is finite; low = high = mean for one user.
    """
    x = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    if not len(x):
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) == 1:
        return mean, mean, mean
    rng = np.random.default_rng(seed)
    boots = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(axis=1)
    a = (1.0 - level) / 2.0
    return mean, float(np.quantile(boots, a)), float(np.quantile(boots, 1.0 - a))


def nanmean(values: Iterable[float]) -> float:
    """Mean of the finite values (NaN when none)."""
    x = np.asarray([v for v in values if np.isfinite(v)], np.float64)
    return float(x.mean()) if len(x) else float("nan")
