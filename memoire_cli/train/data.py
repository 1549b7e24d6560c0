"""Judged pairs and their images for training and validation (S1.4.2 "Supervision", "Batching & pairs").

* Pairs: the ``labels`` rows whose two prompt variants agreed (``winner`` not NULL; disagreements are
  skipped), oriented as (I⁺, I⁻) = (winner, other).
* Split: pairs of ``train`` users train, pairs of ``val`` users validate (pairs never cross users, so
  they follow the user's split); ``test`` users are never read. When no user has agreed pairs in the
  ``val`` split (tiny galleries, ingested galleries without splits), a deterministic 25% of every
  training user's *images* is held out (by a seeded hash of the image id): pairs with both images held
  out validate, pairs with neither train, mixed pairs are dropped, so validation images are unseen.
* Per-image validation target: the image's win rate over the validation pairs it appears in
  (wins / appearances); SRCC (Spearman) between s(I) and that target is computed per user and averaged
  over users with at least 3 images and a non-constant target (:func:`validation_srcc`).
* Images: every image of a user with a kept pair is preprocessed once (S1.4.1, at the model's size)
  and kept in memory: rgb (N, S, S, 3) uint8, and two versions of the network's other inputs, made by
  the very code ``rank`` uses (:func:`memoire_cli.rank.ranker.attention_maps`,
  :func:`~memoire_cli.rank.ranker.persona_vectors`): version 0 from the global persona α (ρ = 0, the
  maps PAT stored and the judge saw), version 1 from α* of the whole-gallery session (ρ by eq. 17, what
  ``memoire rank`` feeds by default). attention (2, N, S, S) float32, persona (2, N, P) float32.
  Training draws a version per pair (:class:`memoire_cli.train.trainer.TrainConfig.session_mix`);
  validation scores version 1, the maps a ranking will see.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError

HOLDOUT_FRACTION = 0.25


@dataclass
class PairSet:
    """Pairs as rows into the image store: pos[i] beat neg[i]; user[i] is its user's index."""

    pos: np.ndarray  # (P,) int64
    neg: np.ndarray  # (P,) int64
    user: np.ndarray  # (P,) int64

    def __len__(self) -> int:
        return len(self.pos)

    def take(self, keep: np.ndarray) -> PairSet:
        return PairSet(self.pos[keep], self.neg[keep], self.user[keep])


#: Versions of the attention maps and persona vectors: 0 global persona (ρ = 0), 1 whole-gallery session.
GLOBAL, SESSION = 0, 1


@dataclass
class TrainingData:
    image_ids: list[str]
    rgb: np.ndarray  # (N, S, S, 3) uint8
    attention: np.ndarray  # (2, N, S, S) float32 in [0, 1]: GLOBAL, SESSION versions
    persona: np.ndarray  # (2, N, P) float32: π(I), GLOBAL, SESSION versions
    train: PairSet
    val: PairSet
    val_source: str  # "val-users" | "held-out-pairs"
    train_users: list[str]
    val_users: list[str]
    dropped_pairs: int  # disagreeing pairs skipped
    mixed_pairs: int  # pairs across the held-out boundary (held-out-pairs only)


def _held_out(image_id: str, seed: int) -> bool:
    h = hashlib.sha256(f"{seed}:{image_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64 < HOLDOUT_FRACTION


def load_pairs(ws: Any, users: list[str]) -> list[tuple[str, str, str, str | None, str | None]]:
    """(user_id, image_a, image_b, winner, split) of the users' labels, in user then pair order."""
    if not users:
        return []
    marks = ", ".join("?" for _ in users)
    return ws.query(f"SELECT user_id, image_a, image_b, winner, split FROM labels WHERE user_id IN ({marks}) "
                    "ORDER BY user_id, pair_idx", list(users))


def check_maps(ws: Any, users: list[str]) -> None:
    """Every labelled user must have PAT maps (a clear error naming them otherwise)."""
    marks = ", ".join("?" for _ in users)
    have = {u for (u,) in ws.query(f"SELECT user_id FROM stage_users WHERE stage = 'pat' AND user_id IN ({marks})", list(users))}
    missing = sorted(set(users) - have)
    if missing:
        raise MemoireError(f"labels of {len(missing)} user(s) ({', '.join(missing[:5])}) refer to images without "
                           f"attention maps: run `memoire pat` for them")


def user_inputs(ws: Any, user_id: str, image_size: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(image ids, rgb (N,S,S,3) uint8, attention (2,N,S,S), persona (2,N,P)) of every image of the user,
    versions GLOBAL and SESSION (see the module docstring)."""
    from memoire_cli.rank.context import UserContext
    from memoire_cli.rank.ranker import RankOptions, attention_maps, persona_vectors
    from memoire_cli.session.blend import session_alpha
    from memoire_cli.session.selection import Session
    from memoire_cli.train.predictor import preprocess

    ctx = UserContext.load(ws, user_id, Session("all"), image_size=image_size, model_inputs=False)
    rgb = np.zeros((len(ctx), image_size, image_size, 3), np.uint8)
    for k, image in enumerate(ctx.images):
        rgb[k], _ = preprocess(image, np.zeros(image.shape[:2], np.float32), image_size)
    options = RankOptions()
    alphas = [ctx.alpha, session_alpha(ctx.evidence(), options.rho)[0]]
    att, per = [], []
    for alpha in alphas:
        alpha_of = {int(t): float(a) for t, a in zip(ctx.node_tags, alpha)}
        att.append(attention_maps(ctx, alpha_of, options.tag_types, options.blur_sigma)[0])
        per.append(persona_vectors(ctx, alpha_of, options.tag_types))
    return ctx.image_ids, rgb, np.stack(att), np.stack(per)


def build(ws: Any, users: list[str], image_size: int, seed: int, max_pairs: int | None, console: Any) -> TrainingData:
    """Split the agreed pairs, preprocess every image of the users with a kept pair once (module docstring)."""
    rows = load_pairs(ws, users)
    if not rows:
        raise MemoireError("no labels yet: run `memoire label`")
    labelled = sorted({r[0] for r in rows})
    check_maps(ws, labelled)
    agreed = [r for r in rows if r[3] is not None]
    dropped = len(rows) - len(agreed)
    train_rows = [r for r in agreed if r[4] in ("train", None)]
    val_rows = [r for r in agreed if r[4] == "val"]
    mixed = 0
    if val_rows:
        source = "val-users"
    else:
        source = "held-out-pairs"
        keep_train, keep_val = [], []
        for r in train_rows:
            a, b = _held_out(r[1], seed), _held_out(r[2], seed)
            if a and b:
                keep_val.append(r)
            elif not a and not b:
                keep_train.append(r)
            else:
                mixed += 1
        train_rows, val_rows = keep_train, keep_val
        console.print(f"train: no validation users with agreed pairs; holding out {HOLDOUT_FRACTION:.0%} of each "
                      f"training user's images (seed {seed}): {len(val_rows)} validation pairs, {mixed} mixed pairs dropped")
    if max_pairs is not None and len(train_rows) > max_pairs:
        pick = np.sort(np.random.default_rng([seed, 31]).choice(len(train_rows), max_pairs, replace=False))
        train_rows = [train_rows[i] for i in pick]
    if not train_rows:
        raise MemoireError(f"no agreed training pairs among {len(rows)} labels of {len(labelled)} user(s) "
                           f"({dropped} disagreeing): label more pairs (`memoire label --max-pairs`) or more users")
    wanted: dict[str, set[str]] = {}
    for r in train_rows + val_rows:
        wanted.setdefault(r[0], set()).update((r[1], r[2]))
    image_ids: list[str] = []
    rgb_parts, att_parts, per_parts = [], [], []
    for user_id in sorted(wanted):
        n_images = ws.query("SELECT count(*) FROM images WHERE user_id = ?", [user_id])[0][0]
        n_maps = ws.read_array("pat_attention", user_id).shape[0]
        if n_maps < n_images:
            raise MemoireError(f"user {user_id}: pat covers {n_maps} of {n_images} images: re-run `memoire pat --force`")
        ids, rgb, att, per = user_inputs(ws, user_id, image_size)
        missing = sorted(wanted[user_id] - set(ids))
        if missing:
            raise MemoireError(f"labels of user {user_id} name images that are not in the gallery ({missing[0]}, …): "
                               f"re-run `memoire label --force`")
        image_ids += ids
        rgb_parts.append(rgb)
        att_parts.append(att)
        per_parts.append(per)
    row_of = {iid: k for k, iid in enumerate(image_ids)}
    user_names = sorted(wanted)
    user_of = {u: k for k, u in enumerate(user_names)}

    def pairs(rs: list[tuple]) -> PairSet:
        pos = np.array([row_of[r[3]] for r in rs], np.int64)
        neg = np.array([row_of[r[2] if r[3] == r[1] else r[1]] for r in rs], np.int64)
        return PairSet(pos, neg, np.array([user_of[r[0]] for r in rs], np.int64))

    return TrainingData(
        image_ids=image_ids, rgb=np.concatenate(rgb_parts), attention=np.concatenate(att_parts, axis=1),
        persona=np.concatenate(per_parts, axis=1), train=pairs(train_rows), val=pairs(val_rows), val_source=source,
        train_users=sorted({r[0] for r in train_rows}), val_users=sorted({r[0] for r in val_rows}),
        dropped_pairs=dropped, mixed_pairs=mixed,
    )


def validation_srcc(scores: np.ndarray, val: PairSet) -> tuple[float, float]:
    """(mean per-user SRCC of s(I) against the per-image win rate, share of pairs ordered like the label).

    ``scores``: (N,) over the image store. NaN SRCC when no user has ≥ 3 images with a non-constant target.
    """
    from scipy.stats import spearmanr

    if len(val) == 0:
        return float("nan"), float("nan")
    accuracy = float(np.mean(scores[val.pos] > scores[val.neg]))
    values = []
    for u in np.unique(val.user):
        sel = val.user == u
        imgs, inv = np.unique(np.concatenate([val.pos[sel], val.neg[sel]]), return_inverse=True)
        wins = np.bincount(inv[: sel.sum()], minlength=len(imgs)).astype(float)
        seen = np.bincount(inv, minlength=len(imgs)).astype(float)
        target = wins / seen
        if len(imgs) >= 3 and np.ptp(target) > 0 and np.ptp(scores[imgs]) > 0:
            values.append(float(spearmanr(scores[imgs], target).statistic))
    return (float(np.mean(values)) if values else float("nan")), accuracy


def win_rates(pairs: PairSet, n_images: int) -> np.ndarray:
    """(N,) per-image win rate over ``pairs`` (NaN for images in none): the L2 target of Table 6's loss."""
    wins = np.bincount(pairs.pos, minlength=n_images).astype(float)
    seen = wins + np.bincount(pairs.neg, minlength=n_images)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, wins / np.maximum(seen, 1), np.nan)
