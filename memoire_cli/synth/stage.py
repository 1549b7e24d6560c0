"""`memoire synth` as a stage: plan each user's gallery, render it, quality-control it, write it (S1.1).

Per user: :func:`~memoire_cli.synth.gallery.plan_user` decides everything but pixels; the renderer
draws the enrolment anchors and every still and kept video frame; stills whose perceptual hash is
within Hamming distance < 6 of an earlier still are re-rendered with a new seed (S1.1.6, at most
``MAX_ATTEMPTS`` renders, every failed check recorded in ``qc``); then the observable tables, the
hidden ground truth (``truth.*``) and the arrays are committed together.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.schema import load_schema
from memoire_cli.stage import Selection, Stage, UserOutput
from memoire_cli.synth.calendar import GALLERY_NOW
from memoire_cli.synth.gallery import SynthConfig, UserPlan, plan_user, user_id_of
from memoire_cli.synth.phash import DUPLICATE_HAMMING, hamming, phash
from memoire_cli.synth.prompts import NEGATIVE_PROMPT
from memoire_cli.workspace import Columns, Workspace

MAX_ATTEMPTS = 3
RESEED_STEP = 7919


def _obj(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _ts(values: list) -> np.ndarray:
    return np.array(values, dtype="datetime64[us]")


def person_spec(p: Any) -> Any:
    from memoire_cli.synth.render.base import PersonSpec

    return PersonSpec(tag_id=p.tag_id, face_key=p.face_key, relation=p.relation, age=p.age,
                      height_cm=p.height_cm, build=p.build, clothing_rgb=p.clothing_rgb)


class SynthStage(Stage):
    name = "synth"
    code_version = "1"

    def __init__(self, cfg: SynthConfig, renderer_name: str, cache_dir: Path | None = None):
        self.cfg = cfg
        self.renderer_name = renderer_name
        self.cache_dir = cache_dir
        self.renderer: Any = None

    def params(self) -> dict[str, Any]:
        """Configuration, renderer, and the content key of the face bank the procedural renderer uses."""
        from memoire_cli.faces.bank import bank_key

        return {**asdict(self.cfg), "renderer": self.renderer_name, "face_bank": bank_key()}

    def universe(self, ws: Workspace) -> list[str]:
        return [user_id_of(i) for i in range(self.cfg.users)]

    def prepare(self, ws: Workspace, console: Any) -> None:
        from memoire_cli.synth.render import make_renderer

        self.renderer = make_renderer(self.renderer_name, self.cache_dir)
        console.print(self.renderer.describe())

    # ------------------------------------------------------------------------------ rendering
    def _render_images(self, plan: UserPlan) -> tuple[np.ndarray, list, list[int], list[int], list[dict]]:
        """Pixels (N, S, S, 3), regions per image, phashes, attempts, failed QC checks."""
        from memoire_cli.synth.render.base import ShotSpec

        size = self.cfg.image_size
        pixels = np.zeros((len(plan.images), size, size, 3), dtype=np.uint8)
        regions: list = []
        hashes: list[int] = []
        attempts: list[int] = []
        qc: list[dict] = []
        still_hashes = np.zeros(0, dtype=np.uint64)
        still_ids: list[str] = []
        for img in plan.images:
            image_id = f"{plan.user_id}/{img.idx:05d}"
            for attempt in range(1, MAX_ATTEMPTS + 1):
                shot = ShotSpec(
                    seed=(img.seed + RESEED_STEP * (attempt - 1)) & 0x7FFFFFFF, width=img.width, height=img.height,
                    event_type=img.event.etype.name, event_tag=plan.event_tags[img.event.etype.name],
                    location_kind=img.event.place.kind, location_tag=img.event.place.tag_id, location_name=img.event.place.phrase,
                    people=tuple(person_spec(p) for p in img.people), shot_plan=img.shot_plan, lighting=img.lighting,
                    blur_sigma=img.blur_sigma, exposure_ev=img.exposure_ev, pan=img.pan,
                )
                out = self.renderer.render(shot)
                h = phash(out.image)
                if img.kind != "still" or not len(still_hashes):
                    break
                dist = hamming(h, still_hashes)
                j = int(np.argmin(dist))
                if dist[j] >= DUPLICATE_HAMMING:
                    break
                qc.append(dict(image_id=image_id, attempt=attempt, check_name="phash_duplicate", passed=False,
                               detail=f"Hamming {int(dist[j])} < {DUPLICATE_HAMMING} to {still_ids[j]}"
                               + ("; kept after the last attempt" if attempt == MAX_ATTEMPTS else "; re-rendered")))
            pixels[img.idx, : img.height, : img.width] = out.image
            regions.append(out.regions)
            hashes.append(h)
            attempts.append(attempt)
            if img.kind == "still":
                still_hashes = np.append(still_hashes, np.uint64(h))
                still_ids.append(image_id)
        return pixels, regions, hashes, attempts, qc

    def _render_anchors(self, plan: UserPlan) -> tuple[np.ndarray, list[tuple[int, int]]]:
        rows = [(p, k) for p in plan.people if p.in_graph for k in range(self.cfg.anchors_per_person)]
        size = self.cfg.anchor_size
        pixels = np.zeros((len(rows), size, size, 3), dtype=np.uint8)
        for i, (p, k) in enumerate(rows):
            pixels[i] = self.renderer.render_anchor(person_spec(p), k, plan.seed + p.tag_id, size)
        return pixels, [(p.tag_id, k) for p, k in rows]

    # -------------------------------------------------------------------------------- compute
    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        plan = plan_user(self.cfg, int(user_id[1:]))
        pixels, regions, hashes, attempts, qc = self._render_images(plan)
        anchors, anchor_rows = self._render_anchors(plan)
        size = self.cfg.image_size
        region_rows: list[tuple] = []
        masks: list[np.ndarray] = []
        for img, regs in zip(plan.images, regions):
            for r in regs:
                mask = np.zeros((size, size), dtype=bool)
                mask[: r.mask.shape[0], : r.mask.shape[1]] = r.mask
                region_rows.append((len(masks), f"{plan.user_id}/{img.idx:05d}", r.tag_id, r.kind, r.box, int(r.mask.sum()), r.face_box))
                masks.append(mask)
        tables = self.tables(plan, hashes, attempts, qc, anchor_rows, region_rows)
        arrays = {
            "images": pixels,
            "anchors": anchors,
            "truth_regions": np.stack(masks) if masks else np.zeros((0, size, size), dtype=bool),
        }
        return UserOutput(tables=tables, arrays=arrays)

    def tables(self, plan: UserPlan, hashes: list[int], attempts: list[int], qc: list[dict],
               anchor_rows: list[tuple[int, int]], region_rows: list[tuple]) -> dict[str, Columns]:
        """Every synth table's rows for one user, as numpy columns in declared order."""
        u = plan.user_id
        n = len(plan.images)
        image_ids = _obj([f"{u}/{i.idx:05d}" for i in plan.images])
        people, places, events = plan.people, plan.places, plan.events
        tag_rows = [(p.tag_id, "P", p.name, p.relation) for p in people]
        tag_rows += [(pl.tag_id, "L", pl.phrase, None) for pl in places]
        tag_rows += [(t, "E", name, None) for name, t in plan.event_tags.items()]
        pairs = [(image_ids[i.idx], t) for i in plan.images for t in plan.image_tags(i)]
        users = lambda k: _obj([u] * k)  # noqa: E731 - a column of the user id
        out: dict[str, Columns] = {
            "users": {"user_id": users(1), "user_index": np.array([plan.user_index], np.int32), "split": _obj([plan.split]),
                      "seed": np.array([plan.seed], np.int64), "now": _ts([GALLERY_NOW]), "n_images": np.array([n], np.int32),
                      "image_size": np.array([self.cfg.image_size], np.int32)},
            "tags": {"user_id": users(len(tag_rows)), "tag_id": np.array([r[0] for r in tag_rows], np.int32),
                     "type": _obj([r[1] for r in tag_rows]), "name": _obj([r[2] for r in tag_rows]), "relation": _obj([r[3] for r in tag_rows])},
            "people": {"user_id": users(len(people)), "tag_id": np.array([p.tag_id for p in people], np.int32),
                       "name": _obj([p.name for p in people]), "relation": _obj([p.relation for p in people]),
                       "in_graph": np.array([p.in_graph for p in people]), "age": np.array([p.age for p in people], np.int32),
                       "age_band": _obj([p.age_band for p in people]), "height_cm": np.array([p.height_cm for p in people]),
                       "weight_kg": np.array([p.weight_kg for p in people]), "body_type": _obj([p.body_type for p in people]),
                       "build": _obj([p.build for p in people])},
            "social_edges": {"user_id": users(len(plan.edges)), "tag_a": np.array([e[0] for e in plan.edges], np.int32),
                             "tag_b": np.array([e[1] for e in plan.edges], np.int32), "closeness": np.array([e[2] for e in plan.edges], np.float64)},
            "locations": {"user_id": users(len(places)), "tag_id": np.array([p.tag_id for p in places], np.int32),
                          "kind": _obj([p.kind for p in places]), "phrase": _obj([p.phrase for p in places]),
                          "visual_anchor": _obj([p.visual_anchor for p in places])},
            "events": {"user_id": users(len(events)), "event_id": np.array([e.event_id for e in events], np.int32),
                       "tag_id": np.array([plan.event_tags[e.etype.name] for e in events], np.int32),
                       "event_type": _obj([e.etype.name for e in events]), "location_tag": np.array([e.place.tag_id for e in events], np.int32),
                       "start_at": _ts([e.start for e in events]), "end_at": _ts([e.end for e in events]),
                       "n_stills": np.array([e.n_stills for e in events], np.int32)},
            "images": {"user_id": users(n), "image_id": image_ids, "idx": np.arange(n, dtype=np.int32),
                       "kind": _obj([i.kind for i in plan.images]), "event_id": np.array([i.event.event_id for i in plan.images], np.int32),
                       "clip_id": _obj([i.clip_id for i in plan.images]), "frame_index": _obj([i.frame_index for i in plan.images]),
                       "taken_at": _ts([i.taken_at for i in plan.images]), "width": np.array([i.width for i in plan.images], np.int32),
                       "height": np.array([i.height for i in plan.images], np.int32), "shot_plan": _obj([i.shot_plan for i in plan.images]),
                       "lighting": _obj([i.lighting for i in plan.images]), "prompt": _obj([i.prompt for i in plan.images]),
                       "negative_prompt": _obj([NEGATIVE_PROMPT] * n), "seed": np.array([i.seed for i in plan.images], np.int64),
                       "renderer": _obj([f"{self.renderer.name} {self.renderer.version}"] * n),
                       "phash": _obj([f"{h:016x}" for h in hashes]), "attempts": np.array(attempts, np.int32)},
            "image_tags": {"user_id": users(len(pairs)), "image_id": _obj([p[0] for p in pairs]), "tag_id": np.array([p[1] for p in pairs], np.int32)},
            "usage": {"user_id": users(n), "image_id": image_ids, "views": plan.views.astype(np.int32),
                      "views_norm": plan.views_norm, "favourite": plan.favourite.astype(bool)},
            "clips": {"user_id": users(len(plan.clips)), "clip_id": _obj([c.clip_id for c in plan.clips]),
                      "event_id": np.array([c.event.event_id for c in plan.clips], np.int32), "start_at": _ts([c.start for c in plan.clips]),
                      "fps": np.full(len(plan.clips), 8, np.int32), "duration_s": np.full(len(plan.clips), 5.0),
                      "width": np.full(len(plan.clips), 640, np.int32), "height": np.full(len(plan.clips), 360, np.int32),
                      "n_frames": np.full(len(plan.clips), 40, np.int32), "kept_frames": np.array([c.kept_frames for c in plan.clips], np.int32),
                      "prompt": _obj([c.prompt for c in plan.clips])},
            "anchors": {"user_id": users(len(anchor_rows)), "idx": np.arange(len(anchor_rows), dtype=np.int32),
                        "tag_id": np.array([a[0] for a in anchor_rows], np.int32), "k": np.array([a[1] for a in anchor_rows], np.int32)},
            "qc": {"user_id": users(len(qc)), "image_id": _obj([q["image_id"] for q in qc]), "attempt": np.array([q["attempt"] for q in qc], np.int32),
                   "check_name": _obj([q["check_name"] for q in qc]), "passed": np.array([q["passed"] for q in qc], bool),
                   "detail": _obj([q["detail"] for q in qc])},
            "truth.users": {"user_id": users(1), "archetype": _obj([plan.preferences.archetype]),
                            "preferences": _obj([json.dumps(plan.preferences.as_json(), sort_keys=True)])},
            "truth.scores": {"user_id": users(n), "image_id": image_ids, "pis": plan.pis, "utility": plan.utility},
            "truth.images": {"user_id": users(n), "image_id": image_ids, "blur_sigma": np.array([i.blur_sigma for i in plan.images]),
                             "exposure_ev": np.array([i.exposure_ev for i in plan.images]), "aesthetic": plan.aesthetic},
            "truth.regions": self._region_columns(u, region_rows),
            "truth.faces": {"user_id": users(len(people)), "tag_id": np.array([p.tag_id for p in people], np.int32),
                            "face_key": np.array([p.face_key for p in people], np.int32)},
        }
        return out

    @staticmethod
    def _region_columns(user_id: str, rows: list[tuple]) -> Columns:
        face = [r[6] or (None, None, None, None) for r in rows]
        cols: Columns = {
            "user_id": _obj([user_id] * len(rows)),
            "region_idx": np.array([r[0] for r in rows], np.int32),
            "image_id": _obj([r[1] for r in rows]),
            "tag_id": np.array([r[2] for r in rows], np.int32),
            "kind": _obj([r[3] for r in rows]),
        }
        for i, name in enumerate(("x0", "y0", "x1", "y1")):
            cols[name] = np.array([r[4][i] for r in rows], np.int32)
        cols["area"] = np.array([r[5] for r in rows], np.int64)
        for i, name in enumerate(("face_x0", "face_y0", "face_x1", "face_y1")):
            cols[name] = _obj([None if f[i] is None else int(f[i]) for f in face])
        return cols

    def finish(self, ws: Workspace, selection: Selection) -> None:
        """An unsharded run over every user drops users a previous, larger run left behind."""
        if selection.shard_count != 1 or selection.user_ids:
            return
        keep = set(self.universe(ws))
        stale = [u for u in ws.user_fingerprints(self.name) if u not in keep]
        for user_id in stale:
            ws.retract_user(self.name, user_id)
            ws.delete_arrays(user_id, [a.name for a in load_schema().arrays_of(self.name)])
