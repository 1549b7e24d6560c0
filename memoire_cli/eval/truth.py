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


#: What the evaluated-users note says when a chosen user was trained or validated on (``--users`` only).
OPTIMISTIC = "trained-on users: optimistic"


def evaluated_users(ws, users: list[str], asked: list[str] | None = None) -> tuple[list[str], str, list[str]]:
    """Which of ``users`` (those with persona and pat outputs) eval scores: (users, note, trained-on users).

    The rule (schemas/README.md, "Evaluation"):

    1. ``asked`` (``--users``): exactly those; any of them in the ``train`` or ``val`` split is named in
       the third item and the note says :data:`OPTIMISTIC` (the model was fitted or selected on them);
    2. else the ``test``-split users, when any exists;
    3. else the users without a split (``users.split`` NULL: an ingested gallery, whose owner is the
       one person the model is trained for — trained on the judge's pairs of those photos, never on
       the ratings eval scores);
    4. else (a synthetic gallery with only train/val users: S1.1.1's 80/10/10 leaves no test user among
       fewer than 5) a :class:`UsageError`: evaluating them silently would score the model on its own
       training users; ``--users`` does it knowingly.
    """
    from memoire_cli.errors import UsageError

    split = dict(ws.query("SELECT user_id, split FROM users"))
    if asked:
        chosen = [u for u in users if u in set(asked)]
        trained = [u for u in chosen if split.get(u) in ("train", "val")]
        note = f"the {len(chosen)} user(s) asked for"
        if trained:
            note += (f"; {OPTIMISTIC}: {len(trained)} of them in the train/val split "
                     f"({', '.join(trained[:5])}{' …' if len(trained) > 5 else ''})")
        return chosen, note, trained
    test = [u for u in users if split.get(u) == "test"]
    if test:
        return test, f"the {len(test)} test-split user(s)", []
    unsplit = [u for u in users if split.get(u) is None]
    if unsplit:
        return unsplit, (f"the {len(unsplit)} user(s) without a split (an ingested gallery: the model is trained on "
                         "the judge's pairs of these photos, never on the ratings scored here)"), []
    counts = ", ".join(f"{sum(1 for u in users if split.get(u) == s)} {s}" for s in ("train", "val"))
    raise UsageError(f"no test-split user among the {len(users)} user(s) with persona and pat outputs ({counts}): eval scores "
                     "held-out users only; synthesize a gallery with a test split (`memoire synth --user-count 12 --split 50/25/25`), or "
                     f"name users with --users to evaluate trained-on users anyway ({OPTIMISTIC})")


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
