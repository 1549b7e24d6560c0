"""Ground truth for `memoire eval` — the only module of memoire that reads hidden truth (DESIGN.md).

Per evaluated user, a personal-impact score (PIS, 0–100) per image:

* synthetic users: the hidden ``truth.scores.pis`` of every image (S1.1), and the user's
  archetype from ``truth.users`` (B2 reports SRCC by archetype);
* ingested galleries: the owner's star ratings (``ratings``; 1–5 stars, −1 rejected), min–max
  scaled per user to 0–100 as the spec normalises its participants' scores (S2.1: "All scores were
  normalized per participant (min–max scaling)"). Only rated images have a PIS, so the evaluated
  session of such a user is its rated images. Ratings naming images that are not in the gallery
  are an error (the ratings table is stale or from another gallery).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from memoire_cli.errors import MemoireError


@dataclass
class GroundTruth:
    """PIS per user and image, where it came from, and archetypes (synthetic users only)."""

    pis: dict[str, dict[str, float]]  # user → image id → PIS 0–100
    source: dict[str, str]  # user → "truth.scores" | "ratings"
    archetype: dict[str, str] = field(default_factory=dict)  # user → family-centric | travel-centric | mixed

    def users(self) -> list[str]:
        return sorted(self.pis)


def evaluated_users(ws, users: list[str]) -> tuple[list[str], str]:
    """The test-split users among ``users``; all of them when none is in the test split (said in the note)."""
    split = dict(ws.query("SELECT user_id, split FROM users"))
    test = [u for u in users if split.get(u) == "test"]
    if test:
        return test, f"the {len(test)} test-split user(s)"
    return list(users), f"all {len(users)} user(s): the gallery has no test-split user among those ranked"


def minmax_0_100(x: np.ndarray) -> np.ndarray:
    """Per-user min–max scaling to 0–100 (all 50 when every value is equal)."""
    x = np.asarray(x, np.float64)
    lo, hi = float(x.min()), float(x.max())
    return np.full_like(x, 50.0) if hi <= lo else (x - lo) / (hi - lo) * 100.0


def load_ground_truth(ws, users: list[str]) -> GroundTruth:
    """PIS for each of ``users`` that has ground truth; :class:`MemoireError` when none has any,
    or when the ratings name unknown images."""
    marks = ", ".join("?" * len(users))
    pis: dict[str, dict[str, float]] = {}
    source: dict[str, str] = {}
    for user_id, image_id, value in ws.query(
            f"SELECT user_id, image_id, pis FROM truth.scores WHERE user_id IN ({marks}) ORDER BY image_id", users):
        pis.setdefault(user_id, {})[image_id] = float(value)
        source[user_id] = "truth.scores"
    archetype = dict(ws.query(f"SELECT user_id, archetype FROM truth.users WHERE user_id IN ({marks})", users))
    unknown = ws.query("SELECT r.image_id FROM ratings r LEFT JOIN images i ON i.image_id = r.image_id "
                       "AND i.user_id = r.user_id WHERE i.image_id IS NULL ORDER BY r.image_id LIMIT 6")
    if unknown:
        shown = ", ".join(r[0] for r in unknown[:5])
        raise MemoireError(f"the ratings table names image id(s) not in the gallery: {shown}"
                           f"{' …' if len(unknown) > 5 else ''} (re-run `memoire ingest` on the photo folder)")
    rated: dict[str, list[tuple[str, float]]] = {}
    for user_id, image_id, rating in ws.query(
            f"SELECT user_id, image_id, rating FROM ratings WHERE user_id IN ({marks}) ORDER BY image_id", users):
        if user_id not in pis and rating is not None:
            rated.setdefault(user_id, []).append((image_id, float(rating)))
    for user_id, items in rated.items():
        scaled = minmax_0_100(np.array([r for _, r in items]))
        pis[user_id] = {i: float(s) for (i, _), s in zip(items, scaled)}
        source[user_id] = "ratings"
    if not pis:
        raise MemoireError("no ground truth for the evaluated users: synthetic galleries carry hidden scores "
                           "(`memoire synth`), ingested ones need star ratings in the photos' metadata (`memoire ingest`)")
    return GroundTruth(pis=pis, source=source, archetype={u: a for u, a in archetype.items() if u in pis})
