"""`memoire pat` as a stage: per user, ground every tag of every image and fuse A(I) (S1.3).

Per user: enrol one reference embedding per person from the enrolment anchors; then per image,
people masks from face detection → ArcFace → Hungarian assignment → SAM or the Gaussian fallback
(S1.3.2), location masks from CLIPSeg with the Table 2 templates (S1.3.3), event masks from the
proxy vocabulary (S1.3.4), fused with the persona's α (S1.3.5) and post-processed into A(I). The
per-tag masks are stored too (uint8), so `rank` can re-fuse A(I) with session-adapted α*; every detected
face's ArcFace embedding and each person's enrolment reference are stored, so `eval` can re-run the
assignment at another τ_match (S2.4 B5, C2) without detecting again.

Models are located, never downloaded: CLIPSeg and SAM from ``--clipseg``/``--sam`` or
``$MEMOIRE_CLIPSEG``/``$MEMOIRE_SAM`` (or the local Hugging Face cache for CLIPSeg); without them
the stage says so on stderr and uses the documented defaults (the spatial prior for places and
events, the Gaussian blob for people). Faces use the packaged SCRFD + ArcFace.

When `memoire people` ran on the user's current gallery with the same face models and a θ_det no
higher than PAT's, PAT reuses its faces (boxes and ArcFace embeddings) instead of detecting again,
takes the people of each image from it (the tags it kept and the people it found by face, and the
people named there, enrolled with their reference) and its digest joins the user's input digest.
Otherwise nothing changes (:mod:`memoire_cli.people.tags`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from memoire_cli.pat.config import NO_CLIPSEG, NO_SAM, PatConfig
from memoire_cli.pat.fusion import attention_map, quantise
from memoire_cli.pat.grounder import GROUNDERS, Grounder, resolve_grounder
from memoire_cli.progress import StepProgress
from memoire_cli.stage import Stage, UserOutput
from memoire_cli.workspace import Columns, Workspace


def _source(grounder: Grounder, kind: str, name: str) -> str:
    """Where a location/event mask came from: the grounder's name, or per tag for the CAM grounder."""
    source_for = getattr(grounder, "source_for", None)
    return source_for(kind, name) if source_for else grounder.source


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


class PatStage(Stage):
    name = "pat"
    code_version = "5"  # 5: the enrolment references are stored (S2.4 B5/C2 re-assign faces from them)
    inputs = ("gallery", "persona")

    def __init__(self, cfg: PatConfig):
        from memoire_cli.pat.clipseg import locate_clipseg
        from memoire_cli.pat.sam import locate_sam

        self.cfg = cfg
        self.clipseg_path = locate_clipseg(cfg.clipseg)  # a named folder that is missing is a MemoireError
        self.sam_path = locate_sam(cfg.sam)
        self.people: Any = None
        self.grounders: dict[str, Grounder] = {}
        self.ingested: set[str] = set()
        self.console: Any = None  # set by prepare: per-image progress of long users

    def params(self) -> dict[str, Any]:
        return {**asdict(self.cfg), "theta_det": self.cfg.detection_threshold(), "clipseg": self.clipseg_path or NO_CLIPSEG,
                "sam": self.sam_path or NO_SAM}

    def prepare(self, ws: Workspace, console: Any) -> None:
        from memoire_cli.faces.insightface_models import (
            load_detector,
            load_recognizer,
            models_description,
        )
        from memoire_cli.pat.people import PeopleGrounder
        from memoire_cli.pat.sam import SamSegmenter

        segmenter = SamSegmenter(self.sam_path) if self.sam_path else None
        theta_det = self.cfg.detection_threshold()
        detector = load_detector(det_thresh=theta_det, nms_thresh=self.cfg.nms_iou, pack=self.cfg.faces)
        self.people = PeopleGrounder(detector, load_recognizer(pack=self.cfg.faces), segmenter, theta_det=theta_det,
                                     nms_iou=self.cfg.nms_iou, tau_match=self.cfg.tau_match)
        self.grounders = {}
        self.ingested = set(ws.user_fingerprints("ingest"))  # users whose gallery is real photos
        self.console = console
        console.print(f"pat: {models_description(self.cfg.faces)}")
        why = ("--theta-det" if self.cfg.theta_det is not None else
               "Table 1, for a model pack" if self.cfg.faces else "the packaged SCRFD-500M's operating point; Table 1's 0.80 is RetinaFace's")
        console.print(f"pat: θ_det = {theta_det:.2f} ({why}), NMS IoU {self.cfg.nms_iou:.2f}, τ_match = {self.cfg.tau_match:.2f}")
        masks = "SAM from " + self.sam_path if self.sam_path else "SAM weights not found locally: Gaussian fallback of S1.3.2(3)"
        console.print(f"pat: people masks: {masks}")
        for name in self.grounder_names(ws):
            console.print(f"pat: locations and events ({self.grounder_scope(name)}): {self._grounder(name).describe()}")

    def grounder_for(self, ingested: bool) -> str:
        """The grounder ``--grounder`` resolves to for a user's gallery (``auto``: :func:`resolve_grounder`)."""
        return resolve_grounder(self.cfg.grounder, ingested, self.clipseg_path)

    def grounder_scope(self, name: str) -> str:
        if self.cfg.grounder != "auto" or name == "clipseg":
            return "all galleries"
        return "ingested photos" if name == "cam" else "synthetic galleries"

    def grounder_names(self, ws: Workspace) -> list[str]:
        return sorted({self.grounder_for(u in self.ingested) for u in self.universe(ws)})

    def _grounder(self, name: str) -> Grounder:
        if name not in self.grounders:
            self.grounders[name] = GROUNDERS.create(name, clipseg_path=self.clipseg_path)
        return self.grounders[name]

    def input_digests(self, ws: Workspace, users: list[str]) -> dict[str, str]:
        from memoire_cli.people.tags import with_people

        return with_people(ws, super().input_digests(ws, users))

    def _people_faces(self, ws: Workspace, user_id: str) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """image id → (boxes (N, 5) in original pixels with scores, embeddings (N, 512)) from `memoire people`,
        when its output is current and its faces are usable here (same models, NMS, θ_det ≤ PAT's); else None."""
        import json

        from memoire_cli.people.tags import current_people

        if user_id not in current_people(ws):
            return None
        made = json.loads(ws.query("SELECT detector FROM people_users WHERE user_id = ?", [user_id])[0][0])
        if (made["faces"] != (self.cfg.faces or "packaged") or made["nms_iou"] != self.cfg.nms_iou
                or made["theta_det"] > self.cfg.detection_threshold()):
            return None
        rows = ws.query("SELECT face_idx, image_id, x0, y0, x1, y1, det_score FROM people_faces WHERE user_id = ? ORDER BY face_idx", [user_id])
        emb = np.asarray(ws.read_array("people_faces", user_id)[...], np.float32) if rows else np.zeros((0, 512), np.float32)
        found: dict[str, tuple[list, list]] = {}
        for face_idx, image_id, *box in rows:
            found.setdefault(image_id, ([], []))
            found[image_id][0].append(box)
            found[image_id][1].append(emb[face_idx])
        return {i: (np.array(b, np.float64), np.stack(e)) for i, (b, e) in found.items()}

    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        from memoire_cli.people.tags import IMAGE_TAGS_SQL, TAGS_SQL

        grounder = self._grounder(self.grounder_for(user_id in self.ingested))
        images = ws.read_array("images", user_id)
        anchors = ws.read_array("anchors", user_id)
        found = self._people_faces(ws, user_id)  # None: detect here, and read the gallery's tags alone
        rows = ws.query("SELECT image_id, idx, width, height FROM images WHERE user_id = ? ORDER BY idx", [user_id])
        if found is None:
            tag_rows = ws.query("SELECT tag_id, type, name FROM tags WHERE user_id = ?", [user_id])
            pair_rows = ws.query("SELECT image_id, tag_id FROM image_tags WHERE user_id = ? ORDER BY image_id, tag_id", [user_id])
        else:
            with ws.connect(read_only=True) as con:
                tag_rows = con.execute(f"SELECT tag_id, type, name FROM ({TAGS_SQL})", {"user": user_id}).fetchall()
                pair_rows = con.execute(f"SELECT image_id, tag_id FROM ({IMAGE_TAGS_SQL}) ORDER BY image_id, tag_id", {"user": user_id}).fetchall()
        tags = {t: (kind, name) for t, kind, name in tag_rows}
        alpha = dict(ws.query("SELECT tag_id, alpha FROM persona WHERE user_id = ?", [user_id]))
        per_image: dict[str, list[int]] = {}
        for image_id, tag_id in pair_rows:
            per_image.setdefault(image_id, []).append(tag_id)
        by_person: dict[int, list[np.ndarray]] = {}
        for idx, tag_id in ws.query("SELECT idx, tag_id FROM anchors WHERE user_id = ? ORDER BY idx", [user_id]):
            by_person.setdefault(tag_id, []).append(np.asarray(anchors[idx]))
        enrolled = self.people.enrol(by_person)
        if found is not None:  # the people named in `memoire people name`, enrolled with their reference
            for tag_id, reference in ws.query("SELECT tag_id, reference FROM people_names WHERE user_id = ? ORDER BY tag_id", [user_id]):
                ref = np.asarray(reference, np.float32)
                enrolled[int(tag_id)] = (ref / max(float(np.linalg.norm(ref)), 1e-12)).astype(np.float32)
        references = sorted(enrolled)  # row r of pat/{user}/references is person tag references[r]

        size = images.shape[1]
        attention = np.zeros((len(rows), size, size), dtype=np.uint8)
        masks: list[np.ndarray] = []
        mask_rows: list[tuple] = []
        image_rows: list[tuple] = []
        face_rows: list[tuple] = []
        embeddings: list[np.ndarray] = []  # (512,) each, row = pat_faces.face_idx
        with StepProgress(self.console, f"pat: user {user_id} (images)", len(rows)) as progress:
            for image_id, idx, width, height in rows:
                pixels = np.asarray(images[idx])[:height, :width]
                present = per_image.get(image_id, [])
                fused_masks: list[np.ndarray] = []
                fused_alpha: list[float] = []
                people_tags = [t for t in present if tags[t][0] == "P" and t in enrolled]
                faces_here = None if found is None else found.get(image_id, (np.zeros((0, 5)), np.zeros((0, 512), np.float32)))
                person_masks, info = self.people.masks(pixels, people_tags, enrolled, faces_here)
                for box, score, embedding, tag, cos in info["faces"]:
                    face_rows.append((len(embeddings), image_id, *box, score, tag, cos))
                    embeddings.append(np.asarray(embedding, np.float32))
                for tag_id in present:  # tag order fixes the summation order (S1.3.7)
                    kind, name = tags[tag_id]
                    face: tuple = (None,) * 5
                    if kind == "P":
                        if tag_id not in person_masks:
                            continue
                        mask, source = person_masks[tag_id], info["sources"][tag_id]
                        face = (info["cosines"][tag_id], *info["boxes"][tag_id])
                    elif kind == "L":
                        mask, source = grounder.location_mask(pixels, name), _source(grounder, kind, name)
                    else:
                        mask, source = grounder.event_mask(pixels, name), _source(grounder, kind, name)
                    a = float(alpha.get(tag_id, 0.0))
                    fused_masks.append(mask)
                    fused_alpha.append(a)
                    padded = np.zeros((size, size), dtype=np.uint8)
                    padded[:height, :width] = quantise(mask)
                    mask_rows.append((len(masks), image_id, tag_id, kind, source, a, *face))
                    masks.append(padded)
                attention[idx, :height, :width] = quantise(attention_map(fused_masks, fused_alpha, height, width))
                image_rows.append((image_id, idx, info["faces_detected"], info["faces_matched"], len(fused_masks)))
                progress.advance()
        tables = self._tables(user_id, image_rows, mask_rows, face_rows)
        tables["pat_references"] = {"user_id": _obj([user_id] * len(references)), "row": np.arange(len(references), dtype=np.int32),
                                    "tag_id": np.array(references, np.int32)}
        return UserOutput(tables=tables, arrays={
            "pat_attention": attention,
            "pat_masks": np.stack(masks) if masks else np.zeros((0, size, size), dtype=np.uint8),
            "pat_face_embeddings": np.stack(embeddings) if embeddings else np.zeros((0, 512), dtype=np.float32),
            "pat_references": (np.stack([np.asarray(enrolled[t], np.float32) for t in references]) if references
                               else np.zeros((0, 512), dtype=np.float32)),
        })

    @staticmethod
    def _tables(user_id: str, image_rows: list[tuple], mask_rows: list[tuple], face_rows: list[tuple]) -> dict[str, Columns]:
        def floats(k: int) -> np.ndarray:
            return np.array([r[k] for r in face_rows], np.float64)

        return {
            "pat_faces": {
                "user_id": _obj([user_id] * len(face_rows)), "face_idx": np.array([r[0] for r in face_rows], np.int32),
                "image_id": _obj([r[1] for r in face_rows]), "x0": floats(2), "y0": floats(3), "x1": floats(4), "y1": floats(5),
                "det_score": floats(6), "tag_id": _obj([None if r[7] is None else int(r[7]) for r in face_rows]),
                "cos": _obj([None if r[8] is None else float(r[8]) for r in face_rows]),
            },
            "pat_images": {
                "user_id": _obj([user_id] * len(image_rows)), "image_id": _obj([r[0] for r in image_rows]),
                "idx": np.array([r[1] for r in image_rows], np.int32), "faces": np.array([r[2] for r in image_rows], np.int32),
                "matched": np.array([r[3] for r in image_rows], np.int32), "masks": np.array([r[4] for r in image_rows], np.int32),
            },
            "pat_masks": {
                "user_id": _obj([user_id] * len(mask_rows)), "mask_idx": np.array([r[0] for r in mask_rows], np.int32),
                "image_id": _obj([r[1] for r in mask_rows]), "tag_id": np.array([r[2] for r in mask_rows], np.int32),
                "type": _obj([r[3] for r in mask_rows]), "source": _obj([r[4] for r in mask_rows]),
                "alpha": np.array([r[5] for r in mask_rows], np.float64),
                **{name: _obj([None if r[6 + k] is None else float(r[6 + k]) for r in mask_rows])
                   for k, name in enumerate(("face_cos", "face_x0", "face_y0", "face_x1", "face_y1"))},
            },
        }
