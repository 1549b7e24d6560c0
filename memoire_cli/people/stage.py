"""`memoire people` as a stage: find every face of every image, put names on them, group the rest.

Per user (between the gallery and ``graph``):

1. **Detect and embed** every face of every image once: the pre-processing of S1.3.1 (long side
   ≤ 1024), the packaged SCRFD at PAT's θ_det for it (0.50; Table 1's 0.80 with a ``--faces`` pack)
   and NMS IoU 0.40, ArcFace embeddings (512-d, L2-normalised). When the gallery and the detector are
   unchanged since the user's last people run (e.g. after `memoire people name`), the faces found then
   are reused instead of detecting again (same models, same pixels: the same faces).
2. **Enrol** one reference per person, as PAT does (S1.3 "Inputs": the mean ArcFace embedding of the
   person's anchor portraits), plus the people named here (the mean embedding of the faces of the
   cluster that was named).
3. **Match** each image's faces to every enrolled person: rectangular Hungarian on 1 − cos, τ_match
   (:mod:`.match`). A person matched by face who is not tagged on the image becomes one of its person
   tags (provenance ``face``); the gallery's person tags keep theirs (``region`` when a named face
   region of the file names them, else ``keyword``).
4. **Flag** person tags the faces contradict (:func:`.match.contradictions`): one stderr line per
   photo and a ``people_flags`` row; with ``--fix-names`` the wrong tag is replaced by the face's person.
5. **Cluster** the faces no enrolled person matches into unnamed people (:mod:`.cluster`).

``graph`` and ``pat`` then read the people per image from ``people_image_tags`` (:mod:`.tags`), and
``pat`` reuses the faces found here instead of detecting again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

import numpy as np

from memoire_cli.people.config import PeopleConfig
from memoire_cli.stage import Stage, UserOutput, inputs_digest
from memoire_cli.workspace import Columns, Workspace


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def names_digest(rows: list[tuple]) -> str:
    """Digest of a user's ``people_names`` rows (tag_id, name, relation, cluster_id, reference)."""
    h = hashlib.sha256()
    for tag_id, name, relation, cluster, reference in sorted(rows, key=lambda r: r[0]):
        h.update(f"{tag_id}\x1f{name}\x1f{relation}\x1f{cluster}\x1f".encode())
        h.update(np.asarray(reference, np.float32).tobytes())
    return h.hexdigest()[:32]


class PeopleStage(Stage):
    name = "people"
    code_version = "1"
    inputs = ("gallery",)

    def __init__(self, cfg: PeopleConfig):
        self.cfg = cfg
        self.grounder: Any = None
        self.console: Any = None

    def params(self) -> dict[str, Any]:
        return {**asdict(self.cfg), "theta_det": self.cfg.detection_threshold(), "cluster_distance": self.cfg.distance()}

    def input_digests(self, ws: Workspace, users: list[str]) -> dict[str, str]:
        """The gallery's digest, and the names given to the user's clusters (`memoire people name`)."""
        base = super().input_digests(ws, users)
        named: dict[str, list[tuple]] = {}
        for user_id, *row in ws.query("SELECT user_id, tag_id, name, relation, cluster_id, reference FROM people_names ORDER BY user_id, tag_id"):
            named.setdefault(user_id, []).append(tuple(row))
        return {u: inputs_digest([d, f"names:{names_digest(named[u])}"]) if u in named else d for u, d in base.items()}

    def prepare(self, ws: Workspace, console: Any) -> None:
        from memoire_cli.faces.insightface_models import (
            load_detector,
            load_recognizer,
            models_description,
        )
        from memoire_cli.pat.people import PeopleGrounder

        theta = self.cfg.detection_threshold()
        detector = load_detector(det_thresh=theta, nms_thresh=self.cfg.nms_iou, pack=self.cfg.faces)
        self.grounder = PeopleGrounder(detector, load_recognizer(pack=self.cfg.faces), None, theta_det=theta,
                                       nms_iou=self.cfg.nms_iou, tau_match=self.cfg.tau_match)
        self.console = console
        console.print(f"people: {models_description(self.cfg.faces)}; θ_det = {theta:.2f}, NMS IoU {self.cfg.nms_iou:.2f}, "
                      f"τ_match = {self.cfg.tau_match:.2f}, clusters cut at cosine distance {self.cfg.distance():.2f}"
                      f"{'; --fix-names: contradicted names are replaced' if self.cfg.fix_names else ''}")

    # ------------------------------------------------------------------------------- faces
    def _faces_of(self, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every face of one (H, W, 3) uint8 image: boxes (N, 5) [x0, y0, x1, y1, score] in original pixels, embeddings (N, 512)."""
        from memoire_cli.faces.insightface_models import embed_faces
        from memoire_cli.pat.preprocess import preprocess

        pre = preprocess(pixels)
        frame = pre.as_uint8()  # (h, w, 3) uint8
        det, kps = self.grounder.detect(frame, self.grounder.theta_det)
        if len(det) == 0:
            return np.zeros((0, 5), np.float64), np.zeros((0, 512), np.float32)
        emb = embed_faces(frame, kps, self.grounder.recognizer).astype(np.float32)  # (N, 512)
        boxes = np.array([[*pre.box_to_original(det[j, :4]), float(det[j, 4])] for j in range(len(det))], np.float64)
        return boxes, emb

    def _previous_faces(self, ws: Workspace, user_id: str, gallery: str) -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
        """The faces of the user's last people run, per image, when its gallery and detector were the same."""
        made = ws.query("SELECT gallery_digest, detector FROM people_users WHERE user_id = ?", [user_id])
        if not made or made[0] != (gallery, self.cfg.detector_key()):
            return None
        rows = ws.query("SELECT face_idx, image_id, x0, y0, x1, y1, det_score FROM people_faces WHERE user_id = ? ORDER BY face_idx", [user_id])
        emb = np.asarray(ws.read_array("people_faces", user_id)[...], np.float32) if rows else np.zeros((0, 512), np.float32)
        out: dict[str, tuple[list, list]] = {}
        for face_idx, image_id, *box in rows:
            out.setdefault(image_id, ([], []))
            out[image_id][0].append(box)
            out[image_id][1].append(emb[face_idx])
        return {i: (np.array(b, np.float64).reshape(-1, 5), np.stack(e).astype(np.float32)) for i, (b, e) in out.items()}

    # ------------------------------------------------------------------------------- compute
    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        from memoire_cli.people.cluster import cluster_id, cluster_labels
        from memoire_cli.people.match import contradictions, match_faces
        from memoire_cli.people.tags import gallery_digests

        gallery = gallery_digests(ws.stage_users())[user_id]
        rows = ws.query("SELECT image_id, idx, width, height FROM images WHERE user_id = ? ORDER BY idx", [user_id])
        tags = {t: (kind, name) for t, kind, name in ws.query("SELECT tag_id, type, name FROM tags WHERE user_id = ?", [user_id])}
        tagged: dict[str, list[int]] = {}
        for image_id, tag_id in ws.query("SELECT image_id, tag_id FROM image_tags WHERE user_id = ? ORDER BY image_id, tag_id", [user_id]):
            if tags.get(tag_id, ("?",))[0] == "P":  # (a row naming a missing tag is graph's to report)
                tagged.setdefault(image_id, []).append(int(tag_id))
        named = ws.query("SELECT tag_id, name, relation, cluster_id, reference FROM people_names WHERE user_id = ? ORDER BY tag_id", [user_id])
        references = self._enrol(ws, user_id)
        references.update({int(t): _unit(np.asarray(ref, np.float32)) for t, _, _, _, ref in named})
        names = {**{t: n for t, (k, n) in tags.items() if k == "P"}, **{int(t): n for t, n, *_ in named}}
        ref_tags = sorted(references)
        refs = np.stack([references[t] for t in ref_tags]) if ref_tags else np.zeros((0, 512), np.float32)  # (P, 512)
        regions, paths = _ingested(ws, user_id)

        previous = self._previous_faces(ws, user_id, gallery)
        images = ws.read_array("images", user_id) if previous is None else None
        face_rows: list[list] = []  # [face_idx, image_id, k, x0, y0, x1, y1, score, tag_id, cos, cluster_id]
        embeddings: list[np.ndarray] = []
        pair_rows: list[tuple] = []  # (image_id, tag_id, source, cos)
        flag_rows: list[tuple] = []
        for image_id, idx, width, height in rows:
            if previous is None:
                boxes, emb = self._faces_of(np.asarray(images[idx])[:height, :width])
            else:
                boxes, emb = previous.get(image_id, (np.zeros((0, 5)), np.zeros((0, 512), np.float32)))
            matches = match_faces(emb, refs, ref_tags, self.cfg.tau_match)
            for k in range(len(boxes)):
                face_rows.append([len(embeddings), image_id, k, *boxes[k].tolist(), *matches[k], None])
                embeddings.append(emb[k])
            present = tagged.get(image_id, [])
            wrong = contradictions(present, emb, matches, references, boxes[:, 3] - boxes[:, 1])
            dropped = {c.tag_id for c in wrong} if self.cfg.fix_names else set()
            cos_of = {t: c for t, c in matches if t is not None}
            for t in present:
                if t not in dropped:
                    source = "region" if names.get(t) in regions.get(image_id, ()) else "keyword"
                    pair_rows.append((image_id, t, source, cos_of.get(t)))
            for t, c in sorted(cos_of.items()):
                if t not in present:
                    pair_rows.append((image_id, t, "face", c))
            for c in wrong:
                action = ("replaced" if c.face_tag_id is not None else "removed") if self.cfg.fix_names else "flagged"
                flag_rows.append((image_id, paths.get(image_id), c.tag_id, c.best_cos, c.face_tag_id, c.face_cos, action))
                self._say(paths.get(image_id) or image_id, names, c, action)

        unknown = [r for r in face_rows if r[8] is None]
        labels = cluster_labels(np.stack([embeddings[r[0]] for r in unknown]) if unknown else np.zeros((0, 512)),
                                [r[1] for r in unknown], self.cfg.distance())
        members: dict[int, list[list]] = {}
        for r, label in zip(unknown, labels.tolist()):
            members.setdefault(label, []).append(r)
        cluster_rows: list[tuple] = []
        for group in members.values():
            first = min(group, key=lambda r: (r[1], r[2]))
            cid = cluster_id(user_id, first[1], first[2])
            for r in group:
                r[10] = cid
            best = max(group, key=lambda r: (r[7], -r[0]))
            cluster_rows.append((cid, len(group), len({r[1] for r in group}), best[0]))
        cluster_rows.sort()
        n_found = sum(1 for p in pair_rows if p[2] == "face")
        summary = (gallery, self.cfg.detector_key(), len(rows), len(face_rows), len(face_rows) - len(unknown), n_found,
                   len(cluster_rows), len(flag_rows))
        tables = _tables(user_id, summary, face_rows, pair_rows, cluster_rows, flag_rows, named)
        return UserOutput(tables=tables, arrays={
            "people_faces": np.stack(embeddings).astype(np.float32) if embeddings else np.zeros((0, 512), np.float32)})

    def _enrol(self, ws: Workspace, user_id: str) -> dict[int, np.ndarray]:
        """One reference per person with anchor portraits, exactly as PAT enrols (S1.3 "Inputs")."""
        anchors = ws.read_array("anchors", user_id)
        by_person: dict[int, list[np.ndarray]] = {}
        for idx, tag_id in ws.query("SELECT idx, tag_id FROM anchors WHERE user_id = ? ORDER BY idx", [user_id]):
            by_person.setdefault(int(tag_id), []).append(np.asarray(anchors[idx]))
        return self.grounder.enrol(by_person)

    def _say(self, where: str, names: dict[int, str], c: Any, action: str) -> None:
        if self.console is None:
            return
        tagged = names.get(c.tag_id, str(c.tag_id))
        if c.face_tag_id is not None:
            why = f"the face is {names.get(c.face_tag_id, c.face_tag_id)} (cos {c.face_cos:.2f}), not {tagged} (best cos {c.best_cos:.2f})"
        else:
            why = f"no face looks like {tagged} (best cos {c.best_cos:.2f})"
        verb = {"flagged": "kept (pass --fix-names to replace it)", "replaced": "replaced", "removed": "removed"}[action]
        self.console.print(f"people: {where}: tagged {tagged!r} but {why}: name {verb}", markup=False, highlight=False)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n if n > 0 else v).astype(np.float32)


def _ingested(ws: Workspace, user_id: str) -> tuple[dict[str, set[str]], dict[str, str]]:
    """For an ingested user: image id → names of its named face regions, and image id → its file (relative path)."""
    from memoire_cli.ingest.media import Metadata

    regions: dict[str, set[str]] = {}
    paths: dict[str, str] = {}
    for path, metadata, image_ids in ws.query(
            "SELECT path, metadata, image_ids FROM ingest_files WHERE user_id = ? AND status = 'ingested' ORDER BY path", [user_id]):
        ids = json.loads(image_ids or "[]")
        names = {r[0] for r in Metadata.from_json(json.loads(metadata)).regions if r[0]} if metadata else set()
        for image_id in ids:
            paths.setdefault(image_id, path)
            regions.setdefault(image_id, set()).update(names)
    return regions, paths


def _tables(user_id: str, summary: tuple, faces: list[list], pairs: list[tuple], clusters: list[tuple], flags: list[tuple],
            named: list[tuple]) -> dict[str, Columns]:
    def col(rows: list, k: int, dtype: Any = None) -> np.ndarray:
        values = [r[k] for r in rows]
        return np.array(values, dtype) if dtype is not None else _obj(values)

    def users(n: int) -> np.ndarray:
        return _obj([user_id] * n)

    return {
        "people_users": {"user_id": users(1), "gallery_digest": _obj([summary[0]]), "detector": _obj([summary[1]]),
                         **{k: np.array([summary[2 + j]], np.int32)
                            for j, k in enumerate(("images", "faces", "matched", "found", "clusters", "flagged"))}},
        "people_faces": {"user_id": users(len(faces)), "face_idx": col(faces, 0, np.int32), "image_id": col(faces, 1), "k": col(faces, 2, np.int32),
                         **{k: col(faces, 3 + j, np.float64) for j, k in enumerate(("x0", "y0", "x1", "y1", "det_score"))},
                         "tag_id": col(faces, 8), "cos": col(faces, 9), "cluster_id": col(faces, 10)},
        "people_image_tags": {"user_id": users(len(pairs)), "image_id": col(pairs, 0), "tag_id": col(pairs, 1, np.int32),
                              "source": col(pairs, 2), "cos": col(pairs, 3)},
        "people_clusters": {"user_id": users(len(clusters)), "cluster_id": col(clusters, 0), "faces": col(clusters, 1, np.int32),
                            "images": col(clusters, 2, np.int32), "sample_face": col(clusters, 3, np.int32)},
        "people_flags": {"user_id": users(len(flags)), "image_id": col(flags, 0), "path": col(flags, 1), "tag_id": col(flags, 2, np.int32),
                         "best_cos": col(flags, 3, np.float64), "face_tag_id": col(flags, 4), "face_cos": col(flags, 5), "action": col(flags, 6)},
        "people_tags": {"user_id": users(len(named)), "tag_id": col(named, 0, np.int32), "name": col(named, 1), "relation": col(named, 2),
                        "cluster_id": col(named, 3)},
    }
