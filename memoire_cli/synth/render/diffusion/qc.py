"""Quality control of generated images (S1.1.6, S1.1.4 "QC and retries", S1.1.8 "Identity checks").

:class:`QualityControl` checks one render and says which checks failed and whether a re-render can
help; the stage re-renders (new seed, λ_id + 0.1, tighter face crops, constrained prompt) and records
every failed check in the ``qc`` table. Checks, on the raw render (before the planned camera effects):

* ``face_identity`` — ArcFace verification of every depicted, enrolled identity (S1.1.6 (i)): faces are
  detected (SCRFD) and embedded (ArcFace), matched one-to-one to the depicted people by the Hungarian
  algorithm on cosine to each person's mean anchor embedding; a person passes with cos ≥ τ_match = 0.35.
  Skipped for detail close-ups (hands, no faces). A person without an enrolled anchor face cannot be
  verified: recorded, no re-render (it would not help).
* ``crowd_sanity`` — no extra faces in close-up scenes (S1.1.6 (ii)): in an intimate portrait or a detail
  close-up, more detected faces than planned people fails.
* ``exposure`` — mean luma outside [0.08, 0.92] of full scale, or more than 35 % of pixels clipped (S1.1.6 (iii)).
* ``blur`` — variance of the Laplacian of the grey image (longer side scaled to 256) below 15 (S1.1.6 (iii)).
* ``nsfw`` — the Stable Diffusion safety checker, when a local copy is given (S1.1.4 "NSFW filters").
* ``anchor_face`` — an enrolment portrait must show exactly one face (S1.1.1 anchors, enrolled with ArcFace).

Perceptual-hash duplicates (S1.1.6 (iv)) are checked by the stage for every renderer. Identity checks
use the packaged ArcFace (MobileFaceNet w600k) unless ``--faces DIR`` names another insightface pack
(S1.1.8 names ArcFace r100: ``antelopev2``'s ``glintr100.onnx``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memoire_cli.pat.config import (
    TAU_MATCH,  # S1.1.6 / S1.1.8: the ArcFace identity threshold of Table 1
)
from memoire_cli.synth.render.base import Region, ShotSpec

CLOSE_UP_SHOTS = ("intimate portrait", "detail close-up")
NO_FACE_SHOTS = ("detail close-up",)
EXPOSURE_RANGE = (0.08, 0.92)  # mean luma, fraction of full scale
CLIPPED_MAX = 0.35  # fraction of pixels at ≤ 2 or ≥ 253
BLUR_MIN_LAPLACIAN_VAR = 15.0
BLUR_SIDE = 256


@dataclass
class Failure:
    check: str  # face_identity | crowd_sanity | exposure | blur | nsfw | anchor_face
    detail: str
    retry: bool = True  # a re-render can fix it


@dataclass
class Verdict:
    failures: list[Failure] = field(default_factory=list)
    regions: list[Region] = field(default_factory=list)  # verified people: their face boxes
    faces: int = 0

    @property
    def retry(self) -> bool:
        return any(f.retry for f in self.failures)


@dataclass
class Enrolment:
    """One person's anchors: mean ArcFace embedding (512,) unit norm, and per anchor its face box or None."""

    embedding: np.ndarray | None
    boxes: list[tuple[float, float, float, float] | None]


def luma(image: np.ndarray) -> np.ndarray:
    """(H, W) float64 Rec. 601 luma of an (H, W, 3) uint8 image."""
    return image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114


def exposure_failure(image: np.ndarray) -> Failure | None:
    y = luma(image.astype(np.float64))
    mean = float(y.mean()) / 255.0
    clipped = float(((y <= 2) | (y >= 253)).mean())
    if not EXPOSURE_RANGE[0] <= mean <= EXPOSURE_RANGE[1]:
        return Failure("exposure", f"mean luma {mean:.2f} outside [{EXPOSURE_RANGE[0]}, {EXPOSURE_RANGE[1]}]")
    if clipped > CLIPPED_MAX:
        return Failure("exposure", f"{clipped:.0%} of pixels clipped > {CLIPPED_MAX:.0%}")
    return None


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the grey image, longer side scaled to 256 (sharpness)."""
    from PIL import Image

    grey = Image.fromarray(image).convert("L")
    s = BLUR_SIDE / max(grey.size)
    if s < 1:
        grey = grey.resize((max(8, round(grey.width * s)), max(8, round(grey.height * s))), Image.Resampling.BILINEAR)
    g = np.asarray(grey, dtype=np.float64)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def blur_failure(image: np.ndarray) -> Failure | None:
    v = laplacian_variance(image)
    return Failure("blur", f"Laplacian variance {v:.1f} < {BLUR_MIN_LAPLACIAN_VAR} (blurry or flat)") if v < BLUR_MIN_LAPLACIAN_VAR else None


def match_identities(expected: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of people (P, 512) to detected faces (F, 512), maximising total cosine.

    Returns (face index per person, -1 when unmatched; cosine per person, -1 when unmatched).
    """
    from scipy.optimize import linear_sum_assignment

    P = len(expected)
    index = np.full(P, -1, np.int64)
    cos = np.full(P, -1.0)
    if P == 0 or len(faces) == 0:
        return index, cos
    sim = expected @ faces.T  # (P, F)
    rows, cols = linear_sum_assignment(-sim)
    index[rows] = cols
    cos[rows] = sim[rows, cols]
    return index, cos


class QualityControl:
    """S1.1.6 checks with the face models loaded once (see the module doc)."""

    def __init__(self, faces_pack: str | None = None, nsfw: str | None = None, device: str = "cpu") -> None:
        from memoire_cli.faces import insightface_models as fm

        self.fm = fm
        self.detector = fm.load_detector(pack=faces_pack)
        self.recognizer = fm.load_recognizer(pack=faces_pack)
        self.faces_description = fm.models_description(faces_pack)
        self.nsfw = None
        self.nsfw_folder = nsfw
        if nsfw is not None:
            from memoire_cli.synth.render.diffusion.models import load_safety_checker

            self.nsfw = load_safety_checker(nsfw, device)
            self.nsfw_device = device

    def describe(self) -> str:
        nsfw = f"NSFW: safety checker {self.nsfw_folder}" if self.nsfw else "NSFW: no local safety checker (--nsfw DIR), not checked"
        return f"QC (S1.1.6): ArcFace τ_match {TAU_MATCH}, crowd, exposure, blur, pHash; {self.faces_description}; {nsfw}"

    def faces(self, image: np.ndarray) -> list[Any]:
        return self.fm.detect_and_embed(image, self.detector, self.recognizer)

    # ----------------------------------------------------------------------------- enrolment
    def check_anchor(self, image: np.ndarray) -> tuple[Failure | None, Any]:
        """An anchor must show exactly one face: (failure or None, the face or None)."""
        found = self.faces(image)
        if len(found) != 1:
            return Failure("anchor_face", f"{len(found)} faces in the enrolment portrait, expected 1"), None
        return None, found[0]

    @staticmethod
    def enrol(faces: list[Any]) -> Enrolment:
        """Mean ArcFace embedding of a person's anchor faces (None entries: anchors without a face)."""
        embs = [f.embedding for f in faces if f is not None]
        if not embs:
            return Enrolment(None, [None] * len(faces))
        m = np.mean(embs, axis=0)
        return Enrolment((m / max(np.linalg.norm(m), 1e-12)).astype(np.float32), [None if f is None else f.box for f in faces])

    # ----------------------------------------------------------------------------------- check
    def check(self, shot: ShotSpec, raw: np.ndarray, enrolled: dict[int, Enrolment]) -> Verdict:
        verdict = Verdict()
        found = self.faces(raw)
        verdict.faces = len(found)
        people = [p for p in shot.people if p.relation != "unknown"]
        if shot.shot_plan not in NO_FACE_SHOTS and people:
            known = [p for p in people if enrolled.get(p.tag_id) is not None and enrolled[p.tag_id].embedding is not None]
            for p in people:
                if p not in known:
                    verdict.failures.append(Failure("face_identity", f"tag {p.tag_id} ({p.relation}): not verifiable, no face "
                                                    f"in its enrolment anchors", retry=False))
            if known:
                expected = np.stack([enrolled[p.tag_id].embedding for p in known])
                faces = np.stack([f.embedding for f in found]) if found else np.zeros((0, expected.shape[1]), np.float32)
                index, cos = match_identities(expected, faces)
                for p, j, c in zip(known, index, cos):
                    if j < 0:
                        verdict.failures.append(Failure("face_identity", f"tag {p.tag_id} ({p.relation}): no face found for it "
                                                        f"({len(found)} faces for {len(known)} enrolled people)"))
                    elif c < TAU_MATCH:
                        verdict.failures.append(Failure("face_identity", f"tag {p.tag_id} ({p.relation}): ArcFace cos {c:.2f} < {TAU_MATCH}"))
                    else:
                        verdict.regions.append(self._face_region(p.tag_id, found[j].box, raw.shape[:2]))
        if shot.shot_plan in CLOSE_UP_SHOTS and len(found) > len(shot.people):
            verdict.failures.append(Failure("crowd_sanity", f"{len(found)} faces in a {shot.shot_plan}, {len(shot.people)} planned"))
        for fail in (exposure_failure(raw), blur_failure(raw), self._nsfw(raw)):
            if fail is not None:
                verdict.failures.append(fail)
        return verdict

    @staticmethod
    def _face_region(tag_id: int, box: tuple[float, float, float, float], shape: tuple[int, int]) -> Region:
        h, w = shape
        x0, y0 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
        x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        mask = np.zeros((h, w), bool)
        mask[y0:y1, x0:x1] = True
        return Region(tag_id, "P", (x0, y0, x1, y1), mask, (x0, y0, x1, y1))

    def _nsfw(self, raw: np.ndarray) -> Failure | None:
        if self.nsfw is None:
            return None
        import torch

        checker, processor = self.nsfw
        inputs = processor(images=[raw], return_tensors="pt").pixel_values.to(self.nsfw_device)
        with torch.inference_mode():
            _, flagged = checker(images=[raw.astype(np.float32) / 255.0], clip_input=inputs)
        return Failure("nsfw", "flagged by the safety checker") if flagged[0] else None
