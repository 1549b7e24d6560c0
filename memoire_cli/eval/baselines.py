"""Offline baselines of `memoire eval` (issue 7; S2.3 Table 8's families that run without weights).

Each baseline scores the images of a user's session (higher = better); its full ranking is the
scores descending with ties broken by image id (S2.3 "Tie-breaking"), and its top-k the first k of
that ranking (no diversity term). Images the owner rejected (``UserSignals.rejected``: a −1 rating
or a reject flag of an ingested gallery) go last and never into a top-k, as in ``rank``, so the
comparison stays fair. None reads ground truth or the persona:

* ``random`` — uniform scores from a seeded generator (S2.5: stochastic models are averaged over
  three fixed seeds; :data:`RANDOM_SEEDS`);
* ``most-recent`` — capture time (unknown times last);
* ``most-viewed`` — normalised view count (usage.views_norm; unknown = 0);
* ``favourites-first`` — favourites before the rest, each group most recent first (a phone's
  Favourites album then its camera roll);
* ``tag-frequency`` — Σ over the image's people/location/event tags of the share of the user's
  session images that carry the tag (frequently photographed subjects matter);
* ``quality`` — a non-personalised aesthetic score: the mean within-user percentile of exposure,
  contrast, sharpness and centredness (the four "v1" terms of
  :func:`memoire_cli.label.offline.aesthetics`, with no attention map);
* ``expo`` — Expo-style importance (Ceroni et al. 2017): 0.3 · quality + 0.7 · faces, both as
  within-user percentiles; faces = faces detected by PAT (pat_images.faces), else person tags.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from memoire_cli.label.offline import aesthetics, percentile

#: Seeds of the random baseline; its metrics are averaged over them (S2.5).
RANDOM_SEEDS = (0, 1, 2)
BASELINES = ("random", "most-recent", "most-viewed", "favourites-first", "tag-frequency", "quality", "expo")


@dataclass
class UserSignals:
    """What the baselines may see of one user's session (N images, ascending idx)."""

    user_id: str
    image_ids: list[str]
    taken_at: np.ndarray  # (N,) datetime64[us], NaT unknown
    views: np.ndarray  # (N,) views_norm, NaN unknown
    favourite: np.ndarray  # (N,) 1/0, NaN unknown
    image_tags: list[list[int]]  # per image: P/L/E tag ids
    faces: np.ndarray  # (N,) faces detected (or person tags when unknown)
    images: list[np.ndarray]  # (h, w, 3) uint8 valid regions
    rejected: np.ndarray | None = None  # (N,) bool rejected by the owner (UserContext.rejected); None = none

    def __len__(self) -> int:
        return len(self.image_ids)


def _time_score(taken_at: np.ndarray) -> np.ndarray:
    t = np.asarray(taken_at, "datetime64[us]")
    out = t.astype(np.int64).astype(np.float64)
    out[np.isnat(t)] = -np.inf
    return out


def random_scores(sig: UserSignals, seed: int = 0) -> np.ndarray:
    """Uniform scores; the generator is seeded by ``seed`` and the user id (stable across runs)."""
    rng = np.random.default_rng([seed, zlib.crc32(sig.user_id.encode())])
    return rng.random(len(sig))


def most_recent(sig: UserSignals) -> np.ndarray:
    return _time_score(sig.taken_at)


def most_viewed(sig: UserSignals) -> np.ndarray:
    return np.nan_to_num(np.asarray(sig.views, np.float64), nan=0.0)


def favourites_first(sig: UserSignals) -> np.ndarray:
    """Favourites first, then by recency: rank of (favourite, time) as a score."""
    fav = np.nan_to_num(np.asarray(sig.favourite, np.float64), nan=0.0)
    recency = percentile(_time_score(sig.taken_at)) if len(sig) else np.zeros(0)
    return fav * 2.0 + recency  # recency ∈ [0, 1] never overturns a favourite


def tag_frequency(sig: UserSignals) -> np.ndarray:
    n = max(1, len(sig))
    counts: dict[int, int] = {}
    for tags in sig.image_tags:
        for t in set(tags):
            counts[t] = counts.get(t, 0) + 1
    return np.array([sum(counts[t] / n for t in set(tags)) for tags in sig.image_tags], np.float64)


def quality(sig: UserSignals) -> np.ndarray:
    """Mean within-user percentile of exposure, contrast, sharpness and centredness (no attention)."""
    if not len(sig):
        return np.zeros(0)
    feats = np.stack([aesthetics(img, np.zeros(img.shape[:2], np.float32))[0] for img in sig.images])  # (N, 4)
    return np.mean([percentile(feats[:, j]) for j in range(feats.shape[1])], axis=0)


def expo(sig: UserSignals) -> np.ndarray:
    """0.3 · quality + 0.7 · faces (within-user percentiles)."""
    if not len(sig):
        return np.zeros(0)
    return 0.3 * quality(sig) + 0.7 * percentile(np.asarray(sig.faces, np.float64))


SCORERS: dict[str, Callable[[UserSignals], np.ndarray]] = {
    "most-recent": most_recent, "most-viewed": most_viewed, "favourites-first": favourites_first,
    "tag-frequency": tag_frequency, "quality": quality, "expo": expo,
}


def baseline_scores(name: str, sig: UserSignals) -> list[np.ndarray]:
    """The baseline's score vectors (N,) — one per seed for ``random``, else one."""
    if name == "random":
        return [random_scores(sig, s) for s in RANDOM_SEEDS]
    if name not in SCORERS:
        raise ValueError(f"unknown baseline {name!r} (choose from {', '.join(BASELINES)})")
    return [np.asarray(SCORERS[name](sig), np.float64)]


def ranking_of(image_ids: list[str], scores: np.ndarray, k: int,
               rejected: np.ndarray | None = None) -> tuple[list[str], list[str]]:
    """(full order best first, ties by image id, ``rejected`` images last; its first k, never a rejected one —
    shorter than k when fewer than k others remain)."""
    ids = np.array(image_ids, dtype=str)
    order = np.lexsort((ids, -np.asarray(scores, np.float64))) if len(ids) else np.zeros(0, np.int64)
    out = np.zeros(len(ids), bool) if rejected is None or not len(rejected) else np.asarray(rejected, bool)
    order = np.concatenate([order[~out[order]], order[out[order]]])
    full = [image_ids[i] for i in order]
    return full, full[:min(k, int((~out).sum()))]
