"""Faces → enrolled people, and names the faces contradict (S1.3.2(2), Table 1 τ_match).

Per image, a rectangular Hungarian assignment on C = 1 − cos between the image's faces and *every*
enrolled person of the user (not only those its tags name, as PAT does), keeping pairs with
cos ≥ τ_match (:func:`memoire_cli.pat.assignment.assign_faces`). Each person is matched at most once
per image.

A person tag P of an image is *contradicted* by its faces when P is enrolled, the image has faces,
no face was assigned to P, and either

* ``replaced``: a face was assigned to another enrolled person Q the image is not tagged with (the
  photo shows Q, not P; with ``--fix-names`` P's tag is replaced by Q's), or
* ``no match``: there are at least as many unmatched faces as unmatched enrolled tagged people (P
  could not simply have been missed by the detector while the others were found), and no face is
  even remotely like P: every face's cosine with P's reference is below ``TAU_NOTHING`` (with
  ``--fix-names`` P's tag is dropped).

A tagged person whose face is merely not found (too small, turned away), or is found with a cosine
between ``TAU_NOTHING`` and τ_match, is not flagged: absence of evidence is not a contradiction.
Only faces at least :data:`MIN_EVIDENCE_PX` tall count as evidence: ArcFace on a 10-px face (a
128-px synthetic gallery) scores its own person below 0.15 as often as not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memoire_cli.pat.assignment import assign_faces

#: A cosine below this is "nothing like the person": unrelated ArcFace faces score about 0 ± 0.1
#: (Biden against Obama's reference: 0.007), the same person 0.45–0.98 on real photos.
TAU_NOTHING = 0.15
#: Faces shorter than this (image pixels) are no evidence against a name (matching still uses them).
MIN_EVIDENCE_PX = 32.0


@dataclass(frozen=True)
class Contradiction:
    """A person tag of an image that its faces contradict."""

    tag_id: int  # the person the image is tagged with
    best_cos: float  # the highest cosine of any face of the image with that person's reference
    face_tag_id: int | None  # the enrolled person a face was matched to instead (None: none)
    face_cos: float | None  # that face's cosine with its person


def match_faces(faces: np.ndarray, refs: np.ndarray, ref_tags: list[int], tau_match: float) -> list[tuple[int | None, float | None]]:
    """Per face of one image (F, 512): (the enrolled person tag it is assigned to, cos), or (None, None)."""
    out: list[tuple[int | None, float | None]] = [(None, None)] * len(faces)
    for j, p, cos in assign_faces(faces, refs, tau_match):
        out[j] = (int(ref_tags[p]), float(cos))
    return out


def contradictions(tagged: list[int], faces: np.ndarray, matches: list[tuple[int | None, float | None]],
                   references: dict[int, np.ndarray], heights: np.ndarray | None = None) -> list[Contradiction]:
    """The person tags of one image that its faces (F, 512) and their matches contradict (see the module doc).

    ``heights``: (F,) face heights in image pixels; faces below :data:`MIN_EVIDENCE_PX` are left out.
    """
    matched = {t for t, _ in matches if t is not None}  # a match by any face, small ones included, settles a name
    if heights is not None:
        keep = np.asarray(heights, np.float64) >= MIN_EVIDENCE_PX
        faces = np.asarray(faces)[keep]
        matches = [m for m, k in zip(matches, keep.tolist()) if k]
    if len(faces) == 0:
        return []
    others = sorted(((t, c) for t, c in matches if t is not None and t not in tagged), key=lambda tc: -float(tc[1]))
    unit = np.asarray(faces, np.float64) / np.maximum(np.linalg.norm(faces, axis=1, keepdims=True), 1e-12)
    unmatched_faces = sum(1 for t, _ in matches if t is None)
    unmatched_tags = sum(1 for t in tagged if t in references and t not in matched)
    out: list[Contradiction] = []
    for tag in sorted(tagged):
        if tag not in references or tag in matched:
            continue
        ref = np.asarray(references[tag], np.float64)
        best = float(np.max(unit @ (ref / max(float(np.linalg.norm(ref)), 1e-12))))
        if others:
            other, cos = others.pop(0)  # one replacement per contradicted tag, the most certain first
            out.append(Contradiction(tag, best, int(other), float(cos)))
        elif best < TAU_NOTHING and unmatched_faces >= unmatched_tags:
            out.append(Contradiction(tag, best, None, None))
    return out
