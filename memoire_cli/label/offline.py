"""The offline judge: a deterministic stand-in for the VLM that follows the S1.1.10 prompt's criteria.

Per user, features are computed once per image (:func:`image_features`); judging a pair is then two
comparisons of precomputed scores (O(1), vectorised over a batch of pairs).

1. **Personal impact** (primary). For each stored per-tag mask M_t of an image (``pat_masks``,
   pixels in ``pat/{user_id}/masks``) with α_t from the persona, and the image's attention map A(I):

   ``P = (1 + b·(close people − 1)⁺) · Σ_t α̃_t · w(t) · v(t)``

   * α̃_t = α_t / max_u α_u, the persona's importance relative to the user's top tag. The modalities
     are balanced by α alone, as S1.3.5 fuses them ("we do not re-balance modalities beyond the
     learned α_t"): no area or modality weight competes with the persona.
   * v(t), how clearly the tag shows: for a person, "clearly visible close relations": the face's
     prominence, √mean(M_t) (the side of its mask, ∝ the face's size) over the largest such value
     among the user's person masks, so the user's most prominent face counts 1 — times, in variant 1
     only, the highlight h_t = Σ M_t·A / Σ M_t ("in weighted highlight regions"); for a location or an
     event, "clearly marked in weighted highlight regions": h_t. A mask's *area* never counts for
     locations and events: the offline grounders' masks (a content-free spatial prior on synthetic
     galleries) do not say how much of the frame a place or an event fills.
   * w(t): people by closeness of their relation (:data:`CLOSENESS`; "close relations (family,
     friends)"); locations 0.6, 0.8 when the place name mentions home ("personally significant
     venues"); events 0.6, and 1.0 (v1) / 1.2 (v2) for the prompt's "Important events (weddings,
     birthdays, graduations, family gatherings)" (:data:`MILESTONE_WORDS`).
   * b: "multiple people visible … score higher": 0.15 (v1) / 0.10 (v2) per close person beyond one.

   Version 1 of this judge summed α_t · w · mean(M_t·A) (v1) and α_t · w · h_t · √mean(M_t) (v2) over
   every tag: the wide location and event priors' area dominated, and an extra face lowered the
   score once Σα was known. Its agreed labels matched the hidden order on 67–73% of pairs.

2. **Aesthetics** (secondary), from the RGB pixels of the valid region, luminance Y = 0.299R +
   0.587G + 0.114B: exposure (v1: closeness of mean Y to 0.45; v2: share of pixels not clipped in
   the luminance histogram), contrast (v1: std Y; v2: p95 − p5), sharpness (v1: log(1 + Var ∇²Y);
   v2: log(1 + mean |∇²Y|)), composition (v1: closeness of A's centroid to the nearest
   rule-of-thirds point or the centre; v2: to the centre).

Each term is turned into a within-user percentile (ties averaged), so the two scales are comparable:
``s₁ = 0.85·pct(P₁) + 0.15·pct(aes₁)`` and ``s₂ = 0.70·pct(P₂) + 0.30·pct(aes₂)``. Variant 1 sees
(a, b) and answers "Image1" when s₁(a) ≥ s₁(b); variant 2 sees (b, a) and answers "Image1" when
s₂(b) ≥ s₂(a). A tie in either variant therefore names the first-shown image, so the two variants
can only agree on a strict preference. The judge never reads hidden truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memoire_cli.label import PairInput, UserGallery

#: Closeness weight of a person by relation (prompt: "close relations (family, friends)").
CLOSENESS = {
    "spouse": 1.0, "son": 1.0, "daughter": 1.0, "self": 0.9, "father": 0.9, "mother": 0.9,
    "sibling": 0.8, "grandparent": 0.8, "cousin": 0.6, "friend": 0.6, "colleague": 0.35, "unknown": 0.1,
}
#: Words that mark the prompt's important events (weddings, birthdays, graduations, family gatherings).
MILESTONE_WORDS = ("wedding", "birthday", "graduation", "family", "reunion", "anniversary", "christmas", "baby shower")
#: Close people count towards the multiple-people bonus from this closeness on.
CLOSE = 0.6
CHUNK = 16  # images per block when reading attention maps and masks


@dataclass(frozen=True)
class Variant:
    personal: float  # weight of the personal-impact percentile (aesthetics: 1 − personal)
    milestone: float
    event: float
    crowd_bonus: float


VARIANTS = (Variant(0.85, 1.0, 0.6, 0.15), Variant(0.70, 1.2, 0.6, 0.10))


def tag_weight(kind: str, name: str, relation: str | None, v: Variant) -> float:
    if kind == "P":
        return CLOSENESS.get(relation or "unknown", 0.3)
    low = name.lower()
    if kind == "L":
        return 0.8 if "home" in low else 0.6
    return v.milestone if any(w in low for w in MILESTONE_WORDS) else v.event


def percentile(x: np.ndarray) -> np.ndarray:
    """(N,) → (N,) within-array percentile rank in [0, 1], ties averaged (0.5 for N = 1)."""
    n = len(x)
    if n < 2:
        return np.full(n, 0.5)
    order = np.argsort(x, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n)
    _, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    ranks = np.bincount(inv, weights=ranks)[inv] / cnt[inv]
    return ranks / (n - 1)


def aesthetics(rgb: np.ndarray, attention: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(h, w, 3) uint8 and (h, w) float A → two (4,) feature vectors: exposure, contrast, sharpness, composition."""
    y = (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114).astype(np.float32) / 255.0
    h, w = y.shape
    if h >= 3 and w >= 3:
        lap = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]
    else:
        lap = np.zeros(1, np.float32)
    hist = np.bincount(np.minimum((y * 255).astype(np.int32), 255).ravel(), minlength=256)
    cdf = np.cumsum(hist) / max(1, y.size)
    p5, p95 = np.searchsorted(cdf, 0.05) / 255.0, np.searchsorted(cdf, 0.95) / 255.0
    clipped = (hist[:8].sum() + hist[248:].sum()) / max(1, y.size)
    mass = float(attention.sum())
    if mass > 0:
        cy = float((attention.sum(axis=1) * np.arange(h)).sum()) / mass / max(1, h - 1)
        cx = float((attention.sum(axis=0) * np.arange(w)).sum()) / mass / max(1, w - 1)
    else:
        cy = cx = 0.5
    points = np.array([(0.5, 0.5)] + [(py, px) for py in (1 / 3, 2 / 3) for px in (1 / 3, 2 / 3)])
    thirds = 1.0 - float(np.min(np.hypot(points[:, 0] - cy, points[:, 1] - cx))) / np.sqrt(0.5)
    centre = 1.0 - float(np.hypot(cy - 0.5, cx - 0.5)) / np.sqrt(0.5)
    v1 = np.array([1.0 - 2 * abs(float(y.mean()) - 0.45), float(y.std()), float(np.log1p(lap.var() * 100)), thirds])
    v2 = np.array([1.0 - clipped, p95 - p5, float(np.log1p(np.abs(lap).mean() * 100)), centre])
    return v1, v2


def personal_terms(gallery: UserGallery) -> tuple[np.ndarray, np.ndarray]:
    """Per mask row k: ``inter[k] = mean(M_k·A)`` and ``mass[k] = mean(M_k)`` over the image's valid region."""
    rows = gallery.mask_rows
    inter, mass = np.zeros(len(rows)), np.zeros(len(rows))
    if not rows:
        return inter, mass
    image_row = np.array([r["idx"] for r in rows])
    mask_idx = np.array([r["mask_idx"] for r in rows])
    n = len(gallery.image_ids)
    for r0 in range(0, n, CHUNK):
        r1 = min(n, r0 + CHUNK)
        ks = np.flatnonzero((image_row >= r0) & (image_row < r1))
        if not len(ks):
            continue
        att = np.asarray(gallery.attention[r0:r1], dtype=np.float32) / 255.0  # (c, S, S)
        lo, hi = int(mask_idx[ks].min()), int(mask_idx[ks].max()) + 1
        block = np.asarray(gallery.masks[lo:hi])  # (m, S, S) uint8
        m = block[mask_idx[ks] - lo].astype(np.float32) / 255.0
        a = att[image_row[ks] - r0]
        area = np.array([gallery.width[i] * gallery.height[i] for i in image_row[ks]], dtype=np.float64)
        inter[ks] = np.einsum("kij,kij->k", m, a, dtype=np.float64) / area
        mass[ks] = m.sum(axis=(1, 2), dtype=np.float64) / area
    return inter, mass


def personal_impact(gallery: UserGallery, inter: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """(2, N): P of variants 1 and 2 per image row (see the module docstring) from :func:`personal_terms`."""
    n = len(gallery.image_ids)
    rows = gallery.mask_rows
    top_alpha = max(gallery.alpha.values(), default=0.0) or max((float(r["alpha"]) for r in rows), default=0.0) or 1.0
    side = np.sqrt(np.maximum(mass, 0.0))  # √mean(M_t): a mask's side, ∝ the face's size for people
    people = [k for k, r in enumerate(rows) if r["type"] == "P" and mass[k] > 0]
    top_side = max((float(side[k]) for k in people), default=0.0) or 1.0
    p = np.zeros((2, n))
    close = np.zeros(n)
    for k, row in enumerate(rows):
        kind, name, relation = gallery.tags[row["tag_id"]]
        i = row["idx"]
        a = float(row["alpha"]) / top_alpha
        highlight = inter[k] / mass[k] if mass[k] > 0 else 0.0
        for j, v in enumerate(VARIANTS):
            w = tag_weight(kind, name, relation, v)
            if kind == "P":
                prominence = side[k] / top_side
                p[j, i] += a * w * (prominence * highlight if j == 0 else prominence)
            else:
                p[j, i] += a * w * highlight
        close[i] += kind == "P" and tag_weight(kind, name, relation, VARIANTS[0]) >= CLOSE
    extra = np.maximum(close - 1, 0)
    for j, v in enumerate(VARIANTS):
        p[j] *= 1 + v.crowd_bonus * extra
    return p


def image_features(gallery: UserGallery) -> dict[str, np.ndarray]:
    """Per image row: ``p1``, ``p2`` (personal impact, variants 1 and 2), ``aes1``, ``aes2`` (N, 4)."""
    n = len(gallery.image_ids)
    inter, mass = personal_terms(gallery)
    p = personal_impact(gallery, inter, mass)
    aes = np.zeros((2, n, 4))
    for i in range(n):
        h, w = gallery.height[i], gallery.width[i]
        rgb = np.asarray(gallery.images[i])[:h, :w]
        att = np.asarray(gallery.attention[i])[:h, :w].astype(np.float32)
        aes[0, i], aes[1, i] = aesthetics(rgb, att)
    return {"p1": p[0], "p2": p[1], "aes1": aes[0], "aes2": aes[1]}


def scores(features: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(N,) scores s₁, s₂ of the two variants from :func:`image_features`."""
    out = []
    for v, (p, aes) in zip(VARIANTS, (("p1", "aes1"), ("p2", "aes2")), strict=True):
        a = features[aes]
        aes_pct = np.mean([percentile(a[:, c]) for c in range(a.shape[1])], axis=0) if len(a) else np.zeros(0)
        out.append(v.personal * percentile(features[p]) + (1 - v.personal) * percentile(aes_pct))
    return out[0], out[1]


def answers(s1: np.ndarray, s2: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw answers of both variants for pairs (a[k], b[k]): variant 2 sees them swapped. (P,) str arrays."""
    first = np.where(s1[a] >= s1[b], "Image1", "Image2")
    second = np.where(s2[b] >= s2[a], "Image1", "Image2")
    return first, second


class OfflineJudge:
    """Deterministic judge following the S1.1.10 prompt's criteria (see the module docstring)."""

    name = "offline"
    version = "2"  # 2: α-balanced modalities, face prominence, no area for locations and events

    def __init__(self) -> None:
        self.s1 = self.s2 = np.zeros(0)

    def params(self) -> dict[str, Any]:
        return {"variants": [v.__dict__ for v in VARIANTS], "closeness": CLOSENESS, "milestones": list(MILESTONE_WORDS)}

    def bind(self, gallery: UserGallery) -> None:
        self.s1, self.s2 = scores(image_features(gallery))

    def judge(self, pairs: list[PairInput]) -> list[tuple[str, str]]:
        a = np.fromiter((p.a for p in pairs), np.int64, len(pairs))
        b = np.fromiter((p.b for p in pairs), np.int64, len(pairs))
        first, second = self.judge_rows(a, b)
        return list(zip(first.tolist(), second.tolist(), strict=True))

    def judge_rows(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The vectorised path: (P,) image rows → (P,) raw answers of variants 1 and 2."""
        return answers(self.s1, self.s2, a, b)
