"""Balanced pair sampling per user (S1.1.10 "For every user we cap pairs at 20k with balanced
sampling across (same/different event, same/different key person, same/different location)").

Per image three keys:

* **event** — the event instance (``images.event_id``);
* **key person** — the person tag of the image with the highest α (ties: lowest tag id); none
  (``-1``) when the image has no person tag;
* **key location** — likewise the highest-α location tag; none when it has none.

Two images share a key only when both have it and it is equal (two images without people are
"different key person"). The 8 strata are coded ``4·same_event + 2·same_person + same_location``.

Sampling: candidate pairs are all unordered pairs i < j when there are at most
:data:`ENUMERATE_LIMIT`, else a deterministic random draw of distinct pairs. The cap is
split over the strata by water-filling (each stratum gets ⌊cap/8⌋ and what small strata cannot use
goes to the others), pairs within a stratum are drawn uniformly, and each pair's order (which image
is ``a``) is a coin flip. Everything is drawn from ``numpy.random.default_rng([seed, H(user_id)])``,
so one user's pairs do not depend on the other users (pairs never cross users, so a user's split
is the split of all its pairs).
"""

from __future__ import annotations

import hashlib

import numpy as np

#: Above this many candidate pairs (n(n−1)/2) candidates are drawn at random instead of enumerated.
ENUMERATE_LIMIT = 2_000_000


def stratum_name(code: int) -> str:
    """``"same_event|diff_person|same_location"`` for a stratum code."""
    return "|".join(("same_" if code >> bit & 1 else "diff_") + word for bit, word in ((2, "event"), (1, "person"), (0, "location")))


STRATA = tuple(stratum_name(c) for c in range(8))


def user_rng(seed: int, user_id: str) -> np.random.Generator:
    digest = int.from_bytes(hashlib.sha256(user_id.encode()).digest()[:8], "little")
    return np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, digest])


def key_of(tag_ids: list[int], kind: str, tags: dict[int, tuple], alpha: dict[int, float]) -> int:
    """Highest-α tag of ``kind`` among ``tag_ids`` (ties: lowest id); -1 when none."""
    cands = [t for t in tag_ids if tags[t][0] == kind]
    return min(cands, key=lambda t: (-alpha.get(t, 0.0), t)) if cands else -1


def strata_codes(event: np.ndarray, person: np.ndarray, location: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Stratum code (0–7) of the pairs (i[k], j[k]); keys: (N,) int arrays, -1 = none."""
    same_e = event[i] == event[j]
    same_p = (person[i] == person[j]) & (person[i] >= 0)
    same_l = (location[i] == location[j]) & (location[i] >= 0)
    return (same_e.astype(np.int8) << 2) | (same_p.astype(np.int8) << 1) | same_l.astype(np.int8)


def _candidates(n: int, want: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    total = n * (n - 1) // 2
    if total <= ENUMERATE_LIMIT:
        i, j = np.triu_indices(n, k=1)
        return i.astype(np.int64), j.astype(np.int64)
    draw = min(total, max(ENUMERATE_LIMIT, 40 * want))
    i = rng.integers(0, n, size=draw)
    j = rng.integers(0, n - 1, size=draw)
    j = j + (j >= i)  # j != i
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(lo * n + hi, return_index=True)
    first.sort()
    return lo[first], hi[first]


def allocate(counts: np.ndarray, cap: int) -> np.ndarray:
    """Water-filling: per stratum take min(count, fair share), giving unused share to the rest."""
    take = np.zeros_like(counts)
    left = int(min(cap, counts.sum()))
    open_ = [s for s in np.argsort(counts, kind="stable")]
    while open_ and left > 0:
        share = left // len(open_)
        s = open_[0]
        if counts[s] <= share:
            take[s] = counts[s]
            left -= int(counts[s])
            open_.pop(0)
            continue
        # every remaining stratum has more than its share: share out, remainder to the first ones
        for k, s in enumerate(open_):
            take[s] = share + (1 if k < left - share * len(open_) else 0)
        break
    return take


def sample_pairs(event: np.ndarray, person: np.ndarray, location: np.ndarray, max_pairs: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw up to ``max_pairs`` pairs balanced over the 8 strata.

    Returns ``(a, b, code)``: (P,) int64 image rows and (P,) int8 stratum codes, sorted by stratum
    then by draw order. Fewer than two images → zero pairs.
    """
    n = len(event)
    if n < 2 or max_pairs <= 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.int8)
    i, j = _candidates(n, max_pairs, rng)
    code = strata_codes(event, person, location, i, j)
    counts = np.bincount(code, minlength=8)
    take = allocate(counts, max_pairs)
    chosen = []
    for s in range(8):
        if take[s]:
            members = np.flatnonzero(code == s)
            chosen.append(np.sort(rng.choice(members, size=int(take[s]), replace=False)) if take[s] < len(members) else members)
    idx = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    i, j, code = i[idx], j[idx], code[idx]
    flip = rng.random(len(idx)) < 0.5
    a, b = np.where(flip, j, i), np.where(flip, i, j)
    return a, b, code
