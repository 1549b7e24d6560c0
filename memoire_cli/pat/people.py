"""The people pipeline of PAT: detect → embed → assign → mask (S1.3.2, Table 1, Table 5).

1. Pre-process (S1.3.1): the image is resized so its long side is ≤ 1024 px; everything below runs on
   that frame and the masks are resampled bilinearly to the original H × W.
2. Detection (S1.3.2(1)): faces with score s_j < θ_det = 0.80 are dropped, then NMS at IoU 0.40.
   The packaged SCRFD-500M (stand-in for the spec's RetinaFace, see
   :mod:`memoire_cli.faces.insightface_models`) applies its ``det_thresh`` to the candidates *before*
   its own NMS (``nms_thresh``): exactly the spec's order. :class:`PeopleGrounder` sets both on the
   detector for the call and re-checks s_j ≥ θ_det afterwards, whatever the detector was prepared with.
3. Embeddings: ArcFace, L2-normalised, 512-d, one per kept face.
4. Assignment (S1.3.2(2)): rectangular Hungarian on C = 1 − cos against the references of the person
   tags of the image that are enrolled; pairs with cos < τ_match = 0.35 are rejected
   (:func:`memoire_cli.pat.assignment.assign_faces`).
5. Masks (S1.3.2(3)): SAM with the face box when a segmenter is given and it returns a mask, else the
   Gaussian blob on the box (std 0.35 of its width/height, renormalised to [0, 1]).
6. Edge cases (S1.3.2(4), Table 5): no faces, or no match above τ_match → no person mask ({}).

Enrolment (S1.3 "Inputs"): each person tag gets ONE reference embedding: the mean of the ArcFace
embeddings of its anchor portraits, L2-normalised. Anchors are controlled single-face portraits, so
enrolment takes the best face of each portrait whatever its score (the packaged SCRFD-500M scores
these rendered faces ≈ 0.8, at the edge of θ_det); only a portrait with no face at all is skipped.

Everything is deterministic: fixed models (CPU, one thread), fixed thresholds and evaluation order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memoire_cli.pat.assignment import assign_faces
from memoire_cli.pat.config import NMS_IOU, PACKAGED_THETA_DET, TAU_MATCH, THETA_DET  # noqa: F401  (Table 1; re-exported)
from memoire_cli.pat.fusion import gaussian_blob
from memoire_cli.pat.preprocess import preprocess, resize_back

#: Enrolment detects at this low threshold and keeps the best face of each anchor portrait.
ENROL_DET_THRESH = 0.05
GAUSSIAN_STD_FRAC = 0.35  # S1.3.2(3)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).astype(np.float32)


class PeopleGrounder:
    """Per-image person masks M_p^pers for the enrolled person tags (S1.3.2).

    Args:
        detector: SCRFD detector (``load_detector()``); its thresholds are set per call.
        recognizer: ArcFace recogniser (``load_recognizer()``).
        segmenter: a :class:`memoire_cli.pat.sam.SamSegmenter` (or anything with
            ``segment(image_rgb, box) -> (h, w) mask | None``); None → Gaussian masks.
        theta_det: θ_det, Table 1.
        nms_iou: NMS IoU, Table 1.
        tau_match: τ_match, Table 1.
    """

    def __init__(
        self,
        detector: Any,
        recognizer: Any,
        segmenter: Any | None = None,
        theta_det: float = THETA_DET,
        nms_iou: float = NMS_IOU,
        tau_match: float = TAU_MATCH,
    ) -> None:
        self.detector = detector
        self.recognizer = recognizer
        self.segmenter = segmenter
        self.theta_det = float(theta_det)
        self.nms_iou = float(nms_iou)
        self.tau_match = float(tau_match)

    # ------------------------------------------------------------------------------- detection
    def detect(self, image_u8: np.ndarray, det_thresh: float) -> tuple[np.ndarray, np.ndarray]:
        """Faces of an (h, w, 3) uint8 RGB frame: det (N, 5) [x0, y0, x1, y1, score], kps (N, 5, 2).

        The detector's ``det_thresh``/``nms_thresh`` are set to (det_thresh, nms_iou) for the call
        and restored after; rows with score < det_thresh are dropped again (sorted by score).
        """
        from memoire_cli.faces.insightface_models import detect_faces

        saved = (getattr(self.detector, "det_thresh", None), getattr(self.detector, "nms_thresh", None))
        try:
            self.detector.det_thresh = float(det_thresh)
            self.detector.nms_thresh = self.nms_iou
            det, kps = detect_faces(image_u8, self.detector)
        finally:
            self.detector.det_thresh, self.detector.nms_thresh = saved
        keep = det[:, 4] >= det_thresh
        return det[keep], kps[keep]

    # ------------------------------------------------------------------------------- enrolment
    def enrol_face(self, portrait_rgb: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The ArcFace embedding (512,) and score of the best face of one anchor portrait, or None."""
        from memoire_cli.faces.insightface_models import embed_faces

        pre = preprocess(portrait_rgb)
        frame = pre.as_uint8()
        det, kps = self.detect(frame, ENROL_DET_THRESH)
        if len(det) == 0:
            return None
        emb = embed_faces(frame, kps[:1], self.recognizer)  # det is sorted by score: row 0 is the best
        return emb[0], float(det[0, 4])

    def enrol(self, anchor_images: dict[int, list[np.ndarray]]) -> dict[int, np.ndarray]:
        """One L2-normalised reference embedding (512,) float32 per person tag with a usable anchor.

        ``anchor_images`` maps tag id → its anchor portraits, (S, S, 3) uint8 RGB each. A tag whose
        portraits show no face is left out (it can get no mask).
        """
        refs: dict[int, np.ndarray] = {}
        for tag in sorted(anchor_images):
            embs = [r[0] for r in (self.enrol_face(img) for img in anchor_images[tag]) if r is not None]
            if embs:
                refs[int(tag)] = _unit(np.mean(np.stack(embs).astype(np.float64), axis=0))
        return refs

    # ------------------------------------------------------------------------------- masks
    def masks(
        self, image_rgb: np.ndarray, person_tags: list[int], enrolled: dict[int, np.ndarray],
        found: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[dict[int, np.ndarray], dict[str, Any]]:
        """Per-person soft masks of one image (S1.3.2).

        Args:
            image_rgb: (H, W, 3) uint8 RGB.
            person_tags: the person tags P(I) of the image; only the enrolled ones can be matched.
            enrolled: tag id → (512,) reference embedding (:meth:`enrol`).
            found: the image's faces as `memoire people` detected them, ``(boxes (N, 5) [x0, y0, x1, y1,
                score] in original pixels, embeddings (N, 512))`` at a θ_det no higher than this one's; None:
                detect and embed here. Faces below this grounder's θ_det are dropped.

        Returns:
            ``(masks, info)``: masks maps tag id → (H, W) float32 in [0, 1] (empty when no face or no
            match, S1.3.2(4)); info has ``faces_detected``, ``faces_matched``, ``tags_considered``,
            ``sources`` {tag: "sam" | "gaussian"}, ``cosines`` {tag: cos}, ``boxes`` {tag: face box
            in original pixels}, ``resized`` (h, w), and ``faces``: every detected face, matched or
            not, as ``(box in original pixels, detector score, (512,) embedding, tag or None, cos or None)``.
        """
        from memoire_cli.faces.insightface_models import embed_faces

        img = np.asarray(image_rgb)
        height, width = int(img.shape[0]), int(img.shape[1])
        tags = sorted({int(t) for t in person_tags if int(t) in enrolled})
        info: dict[str, Any] = {
            "faces_detected": 0, "faces_matched": 0, "tags_considered": tags,
            "sources": {}, "cosines": {}, "boxes": {}, "resized": (height, width), "faces": [],
        }
        masks: dict[int, np.ndarray] = {}
        if not tags:
            return masks, info
        pre = preprocess(img)
        info["resized"] = pre.size
        h, w = pre.size
        frame = pre.as_uint8()  # (h, w, 3) uint8
        if found is None:
            det, kps = self.detect(frame, self.theta_det)
        else:  # faces found by `memoire people` on the same pre-processed frame: boxes back on the frame
            boxes, found_emb = np.asarray(found[0], np.float64).reshape(-1, 5), np.asarray(found[1], np.float32).reshape(-1, 512)
            keep = boxes[:, 4] >= self.theta_det
            det = np.array([[*pre.box_to_resized(b[:4]), b[4]] for b in boxes[keep]], np.float64).reshape(-1, 5)
        info["faces_detected"] = int(len(det))
        if len(det) == 0:
            return masks, info
        faces = embed_faces(frame, kps, self.recognizer) if found is None else found_emb[keep]  # (F, 512)
        refs = np.stack([np.asarray(enrolled[t], np.float32) for t in tags])  # (P, 512)
        assigned = assign_faces(faces, refs, self.tau_match)
        matched = {j: (tags[p], float(cos)) for j, p, cos in assigned}
        info["faces"] = [(pre.box_to_original(tuple(float(v) for v in det[j, :4])), float(det[j, 4]), faces[j], *matched.get(j, (None, None)))
                         for j in range(len(det))]
        for j, p, cos in assigned:
            tag = tags[p]
            box = tuple(float(v) for v in det[j, :4])
            mask = None
            if self.segmenter is not None:
                mask = self.segmenter.segment(frame, box)
            if mask is not None:
                info["sources"][tag] = "sam"
            else:
                mask = gaussian_blob(box, h, w, GAUSSIAN_STD_FRAC)
                info["sources"][tag] = "gaussian"
            masks[tag] = resize_back(np.clip(np.asarray(mask, np.float32), 0.0, 1.0), height, width)
            info["cosines"][tag] = float(cos)
            info["boxes"][tag] = pre.box_to_original(box)
        info["faces_matched"] = len(masks)
        return dict(sorted(masks.items())), info
