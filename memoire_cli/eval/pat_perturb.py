"""In-memory PAT perturbations for S2.4's robustness rows B5 (Table 14), C2 (Table 16) and C3 (Table 17).

Nothing here re-runs ``memoire pat``: every perturbation is computed at eval time from what pat stored
(per-tag masks ``pat/{user}/masks``, every detected face with its ArcFace embedding ``pat/{user}/faces`` +
``pat_faces``, the enrolment references ``pat/{user}/references`` + ``pat_references``, the images).

* τ_match (B5, C2) — :func:`reassign_masks`: the one-to-one assignment of S1.3.2(2) is re-run per image at
  τ′ (Hungarian on 1 − cos between the stored face embeddings and the references of the image's person
  tags, pairs with cos < τ′ rejected: :func:`memoire_cli.pat.assignment.assign_faces`). Faces that become
  matched get a person mask made as pat makes it offline (S1.3.2(3) fallback: the Gaussian blob on the face
  box, std 0.35 of its size, drawn on the S1.3.1 resized frame and resampled back; SAM is not re-run);
  person masks whose face is no longer matched are removed. At the stored τ_match it reproduces the stored
  matches. Workspaces whose pat predates the references can still raise τ_match (a removal only, read
  from the stored cosines — the Hungarian pairs do not depend on τ) but not lower it (:data:`REFS_MISSING`).
* τ, CLIPSeg's temperature (B5) — :func:`retemper`: a stored location/event value m > 0 is σ(Z/τ), so at τ′
  it becomes σ(logit(m)·τ/τ′), then θ_mask = 0.25 is applied again. Values cut at store time stay 0 (their
  logit is lost: with τ′ > τ a few of them would have risen above θ_mask — an approximation), and an event
  mask is the *mean* of its proxies' σ(Z_r/τ), so the transform of the mean stands in for the mean of the
  transforms. Masks from the offline grounders (``pat_masks.source`` prior or cam) are not CLIPSeg
  logits: the same transform is applied to them and read as a sharpness perturbation (τ′ < τ sharper).
* blur σ (B5) — passed to the re-fusion (``RankOptions.blur_sigma`` → :func:`memoire_cli.session.refusion.refuse`).
* Event proxies (C3) — :func:`halve_proxies`: the event masks of the 5 most common events (with at least
  two proxy phrases) among the evaluated users' images are re-grounded from the images with the first
  ⌈|K(e)|/2⌉ phrases of K(e) (Table 3 order, :func:`memoire_cli.pat.vocab.event_phrases`) by the grounder
  that made them: CLIPSeg (its local weights, found as pat finds them), the CAM grounder (ingested photos),
  or the spatial prior, whose masks do not read the phrases (the row then equals Default and says so).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError

#: Row note when a workspace's pat did not store the enrolment references.
REFS_MISSING = "re-run `memoire pat` (references not stored)"
#: C3: how many events lose half their proxies (S2.4 C3: "5 common events").
C3_EVENTS = 5


# ------------------------------------------------------------------------------------------ τ (temperature)
def retemper_values(m: np.ndarray, ratio: float, theta: float | None = None) -> np.ndarray:
    """σ(logit(m) · ratio) for m > 0, zeros kept, then entries < θ_mask zeroed: float64, same shape.

    ``ratio`` = τ/τ′ (τ′ the new temperature): a stored σ(Z/τ) becomes σ(Z/τ′). m = 1 stays 1.
    """
    from memoire_cli.pat.clipseg import THETA_MASK

    theta = THETA_MASK if theta is None else theta
    m = np.clip(np.asarray(m, np.float64), 0.0, 1.0)
    out = np.zeros_like(m)
    pos = m > 0
    with np.errstate(divide="ignore", over="ignore"):
        z = np.log(m[pos]) - np.log1p(-m[pos])  # logit; +inf at m = 1
        out[pos] = 1.0 / (1.0 + np.exp(-z * ratio))
    out[out < theta] = 0.0
    return out


def retemper(masks_u8: np.ndarray, tau_old: float, tau_new: float) -> np.ndarray:
    """Stored uint8 masks (k, h, w) re-tempered from τ to τ′ (:func:`retemper_values`), quantised back to uint8."""
    from memoire_cli.pat.fusion import quantise

    if not (tau_old > 0 and tau_new > 0):
        raise ValueError(f"temperatures must be positive, got τ={tau_old}, τ′={tau_new}")
    masks_u8 = np.asarray(masks_u8, np.uint8)
    if tau_old == tau_new:
        return masks_u8.copy()
    return quantise(retemper_values(masks_u8.astype(np.float64) / 255.0, tau_old / tau_new))


# ------------------------------------------------------------------------------------------ τ_match
@dataclass
class StoredFace:
    """One face pat detected (``pat_faces`` row + its embedding row)."""

    box: tuple[float, float, float, float]  # original image pixels
    embedding: np.ndarray  # (512,) float32
    tag: int | None  # the person it was assigned to at pat's τ_match
    cos: float | None


def person_blob(box: tuple[float, float, float, float], height: int, width: int) -> np.ndarray:
    """The person mask pat makes for a matched face without SAM (S1.3.2(3)): the Gaussian blob on the face
    box (std 0.35 of its width/height) drawn on the S1.3.1 resized frame, resampled bilinearly to (H, W),
    quantised: (height, width) uint8."""
    from memoire_cli.pat.fusion import gaussian_blob, quantise
    from memoire_cli.pat.people import GAUSSIAN_STD_FRAC
    from memoire_cli.pat.preprocess import resize_back, resized_size

    h, w = resized_size(height, width)
    sx, sy = w / width, h / height
    x0, y0, x1, y1 = box
    blob = gaussian_blob((x0 * sx, y0 * sy, x1 * sx, y1 * sy), h, w, GAUSSIAN_STD_FRAC)  # (h, w)
    return quantise(resize_back(blob, height, width))


def reassign_image(faces: list[StoredFace], person_tags: list[int], references: dict[int, np.ndarray] | None,
                   tau: float, tau_stored: float) -> dict[int, int]:
    """Face index j → person tag at τ′ = ``tau`` for one image (S1.3.2(2)).

    With ``references``: the Hungarian assignment re-run against the references of the image's enrolled
    person tags (as pat does). Without (an older workspace): only τ′ ≥ τ_stored is possible, from the
    stored cosines (the Hungarian pairs do not depend on τ_match, so raising it only rejects pairs).
    """
    from memoire_cli.pat.assignment import assign_faces

    if references is None:
        if tau < tau_stored:
            raise MemoireError(f"τ_match {tau:.3f} below pat's {tau_stored:.3f}: {REFS_MISSING}")
        return {j: int(f.tag) for j, f in enumerate(faces) if f.tag is not None and f.cos is not None and f.cos >= tau}
    tags = sorted({int(t) for t in person_tags if int(t) in references})
    if not tags or not faces:
        return {}
    emb = np.stack([f.embedding for f in faces])  # (F, 512)
    refs = np.stack([np.asarray(references[t], np.float32) for t in tags])  # (P, 512)
    return {j: tags[p] for j, p, _ in assign_faces(emb, refs, tau)}


def reassign_masks(image_ids: list[str], image_tags: list[list[int]], masks: list[Any], faces: dict[str, list[StoredFace]],
                   references: dict[int, np.ndarray] | None, tau: float, tau_stored: float) -> tuple[list[Any], int, int]:
    """Person masks at τ′ (module docstring): ``(masks, added, removed)``.

    ``masks`` are :class:`memoire_cli.session.context.ImageMasks` (one per image, pat_masks order); kept masks
    are untouched, added ones take their place in the image's tag order (the summation order of S1.3.7).
    """
    from memoire_cli.session.context import ImageMasks

    out: list[Any] = []
    added = removed = 0
    for image_id, tags, m in zip(image_ids, image_tags, masks):
        found = faces.get(image_id, [])
        stored = {j: int(f.tag) for j, f in enumerate(found) if f.tag is not None}
        new = reassign_image(found, [t for t in tags], references, tau, tau_stored)
        keep = {t for j, t in new.items() if stored.get(j) == t}
        fresh = [(j, t) for j, t in sorted(new.items()) if stored.get(j) != t]
        types = m.types.astype(str) if len(m.types) else np.zeros(0, str)
        entries = [(int(t), c, m.masks[k]) for k, (t, c) in enumerate(zip(m.tag_ids, types)) if c != "P" or int(t) in keep]
        removed += len(m.tag_ids) - len(entries)
        if not fresh and len(entries) == len(m.tag_ids):
            out.append(m)
            continue
        height, width = m.masks.shape[1:] if m.masks.ndim == 3 else (0, 0)
        for j, t in fresh:
            entries.append((t, "P", person_blob(found[j].box, int(height), int(width))))
        added += len(fresh)
        order = {int(t): n for n, t in enumerate(tags)}
        entries.sort(key=lambda e: order.get(e[0], len(order)))  # stable: kept masks keep pat's order
        stack = np.stack([e[2] for e in entries]) if entries else np.zeros((0, int(height), int(width)), np.uint8)
        out.append(ImageMasks(np.array([e[0] for e in entries], np.int64), np.array([e[1] for e in entries], object), stack))
    return out, added, removed


# ------------------------------------------------------------------------------------------ C3 (proxies)
def half_proxies(event: str) -> tuple[str, ...]:
    """The first ⌈|K(e)|/2⌉ phrases of the event's proxy set (Table 3 order): half the proxies removed."""
    from memoire_cli.pat.vocab import event_phrases

    phrases = event_phrases(event)
    return phrases[: math.ceil(len(phrases) / 2)]


def common_events(ws: Any, users: list[str], n: int = C3_EVENTS) -> list[tuple[str, int]]:
    """The ``n`` event names most frequent among the users' images (ties by name) whose proxy set has at least
    two phrases (a single phrase — a photo manager's free-text event — cannot lose half)."""
    from memoire_cli.pat.vocab import event_phrases

    if not users:
        return []
    marks = ", ".join("?" * len(users))
    counts = ws.query("SELECT t.name, count(*) FROM image_tags i JOIN tags t ON t.user_id = i.user_id AND t.tag_id = i.tag_id "
                      f"WHERE t.type = 'E' AND i.user_id IN ({marks}) GROUP BY t.name", users)
    ok = [(str(name), int(c)) for name, c in counts if len(event_phrases(str(name))) >= 2]
    return sorted(ok, key=lambda x: (-x[1], x[0]))[:n]


class Regrounder:
    """The grounders that made stored event masks, loaded once per eval run (never downloaded)."""

    def __init__(self, clipseg_path: str | None = None, cam: Any = None, clipseg: Any = None) -> None:
        self.clipseg_path = clipseg_path
        self._clipseg = clipseg
        self._cam = cam

    def available(self, source: str) -> str | None:
        """None when ``source``'s grounder can run here, else why not (one line)."""
        if source == "clipseg" and self._clipseg is None and not self.clipseg_path:
            return "CLIPSeg weights not found locally (pass them to pat with --clipseg or $MEMOIRE_CLIPSEG)"
        if source == "cam" and self._cam is None:
            from memoire_cli.imagenet_backbone import weights_path

            if weights_path() is None:
                return "the CAM grounder's EfficientNet-Lite0 weights are not installed"
        return None

    def event_mask(self, source: str, image: np.ndarray, event: str, proxies: tuple[str, ...]) -> np.ndarray | None:
        """The re-grounded mask (H, W) float32, or None when ``source``'s mask does not depend on the proxies (prior)."""
        if source == "clipseg":
            if self._clipseg is None:
                from memoire_cli.pat.clipseg import ClipSegGrounder

                if not self.clipseg_path:
                    raise MemoireError(self.available("clipseg") or "no CLIPSeg")
                self._clipseg = ClipSegGrounder.from_pretrained(self.clipseg_path)
            return self._clipseg.event_mask(image, event, proxies)
        if source == "cam":
            if self._cam is None:
                from memoire_cli.pat.cam import CamGrounder

                self._cam = CamGrounder()
            return self._cam.event_mask(image, event, proxies)
        return None


def halve_proxies(image_ids: list[str], images: list[np.ndarray], masks: list[Any], tags: dict[int, tuple],
                  sources: dict[tuple[str, int], str], events: set[str], regrounder: Regrounder) -> tuple[list[Any], int]:
    """C3: the event masks of ``events`` re-grounded with half their proxies: ``(masks, re-grounded count)``."""
    from memoire_cli.pat.fusion import quantise
    from memoire_cli.session.context import ImageMasks

    out: list[Any] = []
    changed = 0
    for image_id, image, m in zip(image_ids, images, masks):
        new = None
        for k, (t, c) in enumerate(zip(m.tag_ids, m.types)):
            name = tags.get(int(t), ("?", ""))[1]
            if c != "E" or name not in events:
                continue
            mask = regrounder.event_mask(sources.get((image_id, int(t)), "prior"), image, name, half_proxies(name))
            if mask is None:
                continue
            new = m.masks.copy() if new is None else new
            new[k] = quantise(mask)
            changed += 1
        out.append(m if new is None else ImageMasks(m.tag_ids, m.types, new))
    return out, changed


# ------------------------------------------------------------------------------------------ per user, per run
@dataclass
class UserPat:
    """What pat stored for one user that the perturbations need."""

    tau_match: float  # pat's τ_match (its runs.params)
    references: dict[int, np.ndarray] | None  # person tag → (512,) reference; None: not stored (older pat)
    faces: dict[str, list[StoredFace]]  # image_id → its faces in face_idx order
    sources: dict[tuple[str, int], str]  # (image_id, tag_id) → pat_masks.source
    sam: bool  # pat made person masks with SAM
    events: dict[int, str] = field(default_factory=dict)  # event tag id → its name

    def mask_sources(self, kinds: tuple[str, ...] = ("L", "E"), events: tuple[str, ...] | None = None) -> set[str]:
        """The grounders behind the stored location/event masks (``events``: only those events' masks)."""
        out = set()
        for (_, t), src in self.sources.items():
            if src in ("sam", "gaussian"):
                continue
            if events is not None and self.events.get(t) not in events:
                continue
            if "L" in kinds or t in self.events:
                out.add(src)
        return out


def pat_params(ws: Any, user_id: str) -> dict[str, Any]:
    rows = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id WHERE s.stage = 'pat' AND s.user_id = ?",
                    [user_id])
    try:
        params = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    except json.JSONDecodeError:
        params = {}
    return params if isinstance(params, dict) else {}


def has_references(ws: Any, user_id: str) -> bool:
    """Whether the user's pat stored the enrolment references (pat code version 5 on)."""
    try:
        ws.read_array("pat_references", user_id)
    except MemoireError:
        return False
    return True


def load_user(ws: Any, user_id: str) -> UserPat:
    """Read a user's stored faces, references and mask sources (:class:`UserPat`)."""
    from memoire_cli.pat.config import PatConfig

    cfg = PatConfig.from_params(pat_params(ws, user_id))
    references: dict[int, np.ndarray] | None = None
    if has_references(ws, user_id):
        rows = ws.query("SELECT row, tag_id FROM pat_references WHERE user_id = ? ORDER BY row", [user_id])
        arr = np.asarray(ws.read_array("pat_references", user_id)[...], np.float32) if rows else np.zeros((0, 512), np.float32)
        references = {int(t): arr[r] for r, t in rows}
    face_rows = ws.query("SELECT face_idx, image_id, x0, y0, x1, y1, tag_id, cos FROM pat_faces WHERE user_id = ? ORDER BY face_idx",
                         [user_id])
    emb = np.asarray(ws.read_array("pat_face_embeddings", user_id)[...], np.float32) if face_rows else np.zeros((0, 512), np.float32)
    faces: dict[str, list[StoredFace]] = {}
    for idx, image_id, x0, y0, x1, y1, tag, cos in face_rows:
        faces.setdefault(image_id, []).append(StoredFace((x0, y0, x1, y1), emb[idx], None if tag is None else int(tag), cos))
    sources = {(i, int(t)): s for i, t, s in ws.query("SELECT image_id, tag_id, source FROM pat_masks WHERE user_id = ?", [user_id])}
    sam = cfg.sam is not None or "sam" in sources.values()
    events = {int(t): str(n) for t, n in ws.query("SELECT tag_id, name FROM tags WHERE user_id = ? AND type = 'E'", [user_id])}
    return UserPat(cfg.tau_match, references, faces, sources, sam, events)


@dataclass
class PatPerturbations:
    """The run's perturbation state: users' stored PAT data (read once), the re-grounders, the C3 events, and
    per setting and user what changed (masks added/removed/re-tempered/re-grounded) for the rows' notes."""

    ws: Any
    regrounder: Regrounder = field(default_factory=Regrounder)
    events: tuple[str, ...] = ()
    users: dict[str, UserPat] = field(default_factory=dict)
    stats: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)  # setting key → user → counts

    def user(self, user_id: str) -> UserPat:
        if user_id not in self.users:
            self.users[user_id] = load_user(self.ws, user_id)
        return self.users[user_id]

    def apply(self, ctx: Any, key: str, tau_match: float = 1.0, tau: float = 1.0, half: bool = False) -> Any:
        """A copy of a :class:`memoire_cli.rank.UserContext` with τ_match and τ scaled by the given factors and
        (``half``) the C3 events' proxies halved. Blur σ is the ranker's (``RankOptions.blur_sigma``)."""
        from memoire_cli.pat.clipseg import TAU

        u = self.user(ctx.user_id)
        stats = self.stats.setdefault(key, {}).setdefault(ctx.user_id, {"added": 0, "removed": 0, "retempered": 0, "regrounded": 0})
        masks = list(ctx.masks)
        if tau_match != 1.0:
            masks, added, removed = reassign_masks(ctx.image_ids, ctx.image_tags, masks, u.faces, u.references,
                                                   u.tau_match * tau_match, u.tau_match)
            stats["added"] += added
            stats["removed"] += removed
        if tau != 1.0:
            from memoire_cli.session.context import ImageMasks

            out = []
            for m in masks:
                sel = np.isin(m.types.astype(str), ["L", "E"]) if len(m.types) else np.zeros(0, bool)
                if sel.any():
                    new = m.masks.copy()
                    new[sel] = retemper(m.masks[sel], TAU, TAU * tau)
                    stats["retempered"] += int(sel.sum())
                    m = ImageMasks(m.tag_ids, m.types, new)
                out.append(m)
            masks = out
        if half and self.events:
            masks, changed = halve_proxies(ctx.image_ids, ctx.images, masks, ctx.tags, u.sources, set(self.events), self.regrounder)
            stats["regrounded"] += changed
        return replace(ctx, masks=masks)


def locate_pat_clipseg(ws: Any, users: list[str]) -> str | None:
    """CLIPSeg as pat found it: the folder its run recorded when it is still there, else pat's own lookup
    (``$MEMOIRE_CLIPSEG``, the local Hugging Face cache); None when none is local."""
    from pathlib import Path

    from memoire_cli.pat.clipseg import locate_clipseg
    from memoire_cli.pat.config import PatConfig

    for user in users:
        recorded = PatConfig.from_params(pat_params(ws, user)).clipseg
        if recorded and Path(recorded).exists():
            return str(recorded)
    try:
        return locate_clipseg(None)
    except MemoireError:
        return None
