"""`memoire synth` as a stage: plan each user's gallery, render it, quality-control it, write it (S1.1).

Per user: :func:`~memoire_cli.synth.gallery.plan_user` decides everything but pixels; the stills
renderer (``--renderer``) draws the enrolment anchors and every still, the video renderer
(``--video-renderer``) the kept frames of each clip; stills whose perceptual hash is within Hamming
distance < 6 of an earlier still are re-rendered with a new seed (S1.1.6, at most ``MAX_ATTEMPTS``
renders, every failed check recorded in ``qc``); then the observable tables, the hidden ground truth
(``truth.*``) and the arrays are committed together.

Generative renderers (SD3, HunyuanVideo) get the whole S1.1.6 quality control
(:mod:`memoire_cli.synth.render.diffusion.qc`): anchors are rendered first and must show one face
each; they are enrolled with ArcFace and passed to the stills renderer as identity references; each
still (each clip, all its kept frames together) is verified (ArcFace identity, crowd, exposure, blur,
NSFW) and re-rendered with a new seed at the next QC level (λ_id + 0.1, tighter face crops, reduced
crowd) while a check that a re-render can fix fails. Their finished units are kept on disk until the
user is committed (:mod:`memoire_cli.synth.render.diffusion.cache`), so an interrupted run resumes.
For them ``truth.regions`` holds what QC verified: one ``P`` region (the face box) per identity.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.phash import hamming, phash
from memoire_cli.stage import Selection, Stage, UserOutput
from memoire_cli.synth.calendar import GALLERY_NOW
from memoire_cli.synth.config import SynthConfig
from memoire_cli.synth.gallery import UserPlan, plan_user, user_id_of
from memoire_cli.synth.prompts import NEGATIVE_PROMPT
from memoire_cli.workspace import Columns, Workspace

#: S1.1.6: a perceptual-hash Hamming distance below this to a kept image triggers a re-render.
DUPLICATE_HAMMING = 6
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
                      height_cm=p.height_cm, build=p.build, clothing_rgb=p.clothing_rgb, name=p.name,
                      style=p.style_sentence() if p.in_graph else "")


def _qc_row(image_id: str, attempt: int, check: str, detail: str) -> dict:
    return dict(image_id=image_id, attempt=attempt, check_name=check, passed=False, detail=detail)


def _outcome(retry: bool, fixable: bool, attempt: int) -> str:
    """What happened after a failed check: the suffix of its ``qc.detail``."""
    if not fixable:
        return "; recorded (a re-render cannot fix it)"
    if retry and attempt < MAX_ATTEMPTS:
        return "; re-rendered"
    return "; kept after the last attempt"


class SynthStage(Stage):
    name = "synth"
    code_version = "2"  # 2: views and favourites by tag unless --views-link/--favourite-link (S1.1.3)

    def __init__(self, cfg: SynthConfig, renderer_name: str, cache_dir: Path | None = None, video_renderer: str = "auto",
                 diffusion: Any = None, faces: str | None = None) -> None:
        """``diffusion`` (a DiffusionConfig) is needed by the sd3/hunyuan backends; model folders are
        resolved here, so a missing model fails before the workspace is touched."""
        from memoire_cli.synth.render import resolve_renderers

        self.cfg = cfg
        self.renderer_name = renderer_name
        self.stills_name, self.video_name = resolve_renderers(renderer_name, video_renderer)
        self.cache_dir = cache_dir
        self.faces = faces
        self.diffusion = diffusion
        self.folders: Any = None
        if self.generative:
            from memoire_cli.synth.render.diffusion import DiffusionConfig, locate_folders

            self.diffusion = diffusion or DiffusionConfig()
            self.folders = locate_folders(self.diffusion, self.stills_name, self.video_name if cfg.max_frames_per_clip else "procedural")
        self.renderer: Any = None
        self.video_renderer: Any = None
        self.qc: Any = None
        self.console: Any = None
        self._rendered: set[str] = set()

    @property
    def generative(self) -> bool:
        return self.stills_name != "procedural" or self.video_name != "procedural"

    def params(self) -> dict[str, Any]:
        """Configuration, renderers, the face bank's content key and, for diffusion, its settings and models."""
        from memoire_cli.faces.bank import bank_key

        out = {**asdict(self.cfg), "renderer": self.renderer_name, "face_bank": bank_key()}
        if self.generative:
            from memoire_cli.synth.render.diffusion.models import folder_key

            out.update(video_renderer=self.video_name, diffusion=self.diffusion.key(self.folders.keys()), faces=folder_key(self.faces))
        return out

    def universe(self, ws: Workspace) -> list[str]:
        return [user_id_of(i) for i in range(self.cfg.users)]

    def prepare(self, ws: Workspace, console: Any) -> None:
        from memoire_cli.synth.render import make_renderer

        self.console = console
        procedural = None
        if "procedural" in (self.stills_name, self.video_name):
            procedural = make_renderer("procedural", self.cache_dir)
        if self.generative:
            from memoire_cli.synth.render.diffusion import make_diffusion_renderer
            from memoire_cli.synth.render.diffusion.config import resolve_device
            from memoire_cli.synth.render.diffusion.qc import QualityControl

            device = resolve_device(self.diffusion.device)
            self.qc = QualityControl(self.faces, self.folders.nsfw, device)
            built = {name: make_diffusion_renderer(name, self.diffusion, self.folders, device, console)
                     for name in {self.stills_name, self.video_name} - {"procedural"}
                     if name != "hunyuan" or self.cfg.max_frames_per_clip}
            self.renderer = built.get(self.stills_name, procedural)
            self.video_renderer = built.get(self.video_name, procedural)
        else:
            self.renderer = self.video_renderer = procedural
        for r in {id(self.renderer): self.renderer, id(self.video_renderer): self.video_renderer}.values():
            if r is not None:
                console.print(r.describe())
        if self.qc is not None:
            console.print(self.qc.describe())

    # ------------------------------------------------------------------------------ rendering
    def _shot(self, plan: UserPlan, img: Any, attempt: int, references: dict[int, tuple]) -> Any:
        from memoire_cli.synth.render.base import ShotSpec

        return ShotSpec(
            seed=(img.seed + RESEED_STEP * (attempt - 1)) & 0x7FFFFFFF, width=img.width, height=img.height,
            event_type=img.event.etype.name, event_tag=plan.event_tags[img.event.etype.name],
            location_kind=img.event.place.kind, location_tag=img.event.place.tag_id, location_name=img.event.place.phrase,
            people=tuple(person_spec(p) for p in img.people), shot_plan=img.shot_plan, lighting=img.lighting,
            blur_sigma=img.blur_sigma, exposure_ev=img.exposure_ev, pan=img.pan, prompt=img.prompt,
            negative_prompt=NEGATIVE_PROMPT, clip_id=img.clip_id, frame_index=img.frame_index, qc_level=attempt - 1,
            references=tuple((p.tag_id, *references[p.tag_id]) for p in img.people if p.tag_id in references),
        )

    @staticmethod
    def _units(plan: UserPlan) -> list[list[Any]]:
        """Render units in capture order: one still, or every kept frame of one clip (rendered and QC'd together)."""
        units: list[list[Any]] = []
        clips: dict[str, list[Any]] = {}
        for img in plan.images:
            if img.clip_id is None:
                units.append([img])
            elif img.clip_id not in clips:
                clips[img.clip_id] = [img]
                units.append(clips[img.clip_id])
            else:
                clips[img.clip_id].append(img)
        return units

    def _render_images(self, plan: UserPlan, enrolled: dict | None = None, references: dict[int, tuple] | None = None,
                       cache: Any = None) -> tuple[np.ndarray, list, list[int], list[int], list[dict]]:
        """Pixels (N, S, S, 3), regions per image, phashes, attempts, failed QC checks."""
        size = self.cfg.image_size
        n = len(plan.images)
        pixels = np.zeros((n, size, size, 3), dtype=np.uint8)
        regions: list = [[] for _ in range(n)]
        hashes: list[int] = [0] * n
        attempts: list[int] = [1] * n
        qc: list[dict] = []
        still_hashes = np.zeros(0, dtype=np.uint64)
        still_ids: list[str] = []
        progress = _Progress(self.console, plan.user_id, n) if self.generative else None
        for unit in self._units(plan):
            renderer = self.video_renderer if unit[0].kind == "video_frame" else self.renderer
            cached = cache is not None and renderer.generative  # procedural units take milliseconds: never cached
            key = cache.key("unit", [(i.idx, i.seed, i.prompt) for i in unit], [int(h) for h in still_hashes]) if cached else ""
            done = cache.get(key) if cached else None
            if done is None:
                done = self._render_unit(plan, unit, renderer, enrolled or {}, references or {}, still_hashes, still_ids)
                if cached:
                    cache.put(key, {"images": np.stack(done["images"])}, done["meta"])
            else:
                done = {"images": list(done["images"]), "meta": done["meta"]}
            meta = done["meta"]
            for k, img in enumerate(unit):
                out = done["images"][k]
                pixels[img.idx, : img.height, : img.width] = out
                regions[img.idx] = meta["regions"][k] if renderer.generative else meta["regions_obj"][k]
                hashes[img.idx] = int(meta["hashes"][k])
                attempts[img.idx] = int(meta["attempt"])
                if img.kind == "still":
                    still_hashes = np.append(still_hashes, np.uint64(hashes[img.idx]))
                    still_ids.append(f"{plan.user_id}/{img.idx:05d}")
            qc += meta["qc"]
            if progress is not None:
                progress.advance(len(unit))
        regions = [self._regions_from_meta(r, size) if isinstance(r, list) and r and isinstance(r[0], dict) else r for r in regions]
        return pixels, regions, hashes, attempts, qc

    @staticmethod
    def _regions_from_meta(rows: list[dict], size: int) -> list:
        from memoire_cli.synth.render.base import Region

        out = []
        for r in rows:
            x0, y0, x1, y1 = r["box"]
            mask = np.zeros((r["h"], r["w"]), bool)
            mask[y0:y1, x0:x1] = True
            out.append(Region(r["tag_id"], "P", (x0, y0, x1, y1), mask, (x0, y0, x1, y1)))
        return out

    def _render_unit(self, plan: UserPlan, unit: list[Any], renderer: Any, enrolled: dict, references: dict,
                     still_hashes: np.ndarray, still_ids: list[str]) -> dict:
        """Render one unit with the S1.1.6 retry loop; the images and a JSON-able record of what happened."""
        qc: list[dict] = []
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outs, verdict_regions, hashes, failures = [], [], [], []
            for img in unit:
                shot = self._shot(plan, img, attempt, references)
                out = renderer.render(shot)
                image_id = f"{plan.user_id}/{img.idx:05d}"
                if renderer.generative:
                    verdict = self.qc.check(shot, out.raw if out.raw is not None else out.image, enrolled)
                    failures += [(image_id, f.check, f.detail, f.retry) for f in verdict.failures]
                    verdict_regions.append(verdict.regions)
                else:
                    verdict_regions.append(out.regions)
                h = phash(out.image)
                if img.kind == "still" and len(still_hashes):
                    dist = hamming(h, still_hashes)
                    j = int(np.argmin(dist))
                    if dist[j] < DUPLICATE_HAMMING:
                        failures.append((image_id, "phash_duplicate", f"Hamming {int(dist[j])} < {DUPLICATE_HAMMING} to {still_ids[j]}", True))
                outs.append(out.image)
                hashes.append(h)
            retry = any(f[3] for f in failures)
            merged: dict[tuple[str, str], list[tuple[str, bool]]] = {}  # one qc row per (image, check): its failures joined
            for i, c, d, fixable in failures:
                merged.setdefault((i, c), []).append((d, fixable))
            qc += [_qc_row(i, attempt, c, " | ".join(d for d, _ in ds) + _outcome(retry, any(f for _, f in ds), attempt))
                   for (i, c), ds in merged.items()]
            if not retry:
                break
        if renderer.generative:
            regions = [[dict(tag_id=int(r.tag_id), box=[int(v) for v in r.box], h=int(r.mask.shape[0]), w=int(r.mask.shape[1]))
                        for r in regs] for regs in verdict_regions]
            meta = {"regions": regions, "hashes": [str(h) for h in hashes], "attempt": attempt, "qc": qc}
        else:  # procedural: regions stay objects (never cached)
            meta = {"regions_obj": verdict_regions, "hashes": [str(h) for h in hashes], "attempt": attempt, "qc": qc}
        return {"images": outs, "meta": meta}

    def _render_anchors(self, plan: UserPlan) -> tuple[np.ndarray, list[tuple[int, int]]]:
        rows = [(p, k) for p in plan.people if p.in_graph for k in range(self.cfg.anchors_per_person)]
        size = self.cfg.anchor_size
        pixels = np.zeros((len(rows), size, size, 3), dtype=np.uint8)
        for i, (p, k) in enumerate(rows):
            pixels[i] = self.renderer.render_anchor(person_spec(p), k, plan.seed + p.tag_id, size)
        return pixels, [(p.tag_id, k) for p, k in rows]

    def _render_anchors_qc(self, plan: UserPlan, cache: Any) -> tuple[np.ndarray, list[tuple[int, int]], dict, dict, list[dict]]:
        """Generative anchors (S1.1.1): each must show one face (re-rendered otherwise), then ArcFace enrolment.

        Returns pixels, rows, enrolment per tag, identity references per tag (anchor, face box), QC rows.
        """
        rows = [(p, k) for p in plan.people if p.in_graph for k in range(self.cfg.anchors_per_person)]
        size = self.cfg.anchor_size
        key = cache.key("anchors", [(p.tag_id, k) for p, k in rows], size)
        done = cache.get(key)
        if done is None:
            pixels = np.zeros((len(rows), size, size, 3), dtype=np.uint8)
            qc: list[dict] = []
            for i, (p, k) in enumerate(rows):
                anchor_id = f"{plan.user_id}/anchor/{p.tag_id}/{k}"
                for attempt in range(1, MAX_ATTEMPTS + 1):
                    img = self.renderer.render_anchor(person_spec(p), k, plan.seed + p.tag_id + RESEED_STEP * (attempt - 1), size)
                    fail, _ = self.qc.check_anchor(img)
                    if fail is None:
                        break
                    qc.append(_qc_row(anchor_id, attempt, fail.check, fail.detail + _outcome(True, True, attempt)))
                pixels[i] = img
            cache.put(key, {"pixels": pixels}, {"qc": qc})
        else:
            pixels, qc = done["pixels"], done["meta"]["qc"]
        faces: dict[int, list] = {}
        references: dict[int, tuple] = {}
        for i, (p, _k) in enumerate(rows):
            _, face = self.qc.check_anchor(pixels[i])
            faces.setdefault(p.tag_id, []).append(face)
            if face is not None and p.tag_id not in references:
                references[p.tag_id] = (pixels[i], face.box)
        enrolled = {tag: self.qc.enrol(fs) for tag, fs in faces.items()}
        return pixels, [(p.tag_id, k) for p, k in rows], enrolled, references, qc

    # -------------------------------------------------------------------------------- compute
    def compute(self, ws: Workspace, user_id: str) -> UserOutput:
        plan = plan_user(self.cfg, int(user_id[1:]))
        if self.generative:
            from memoire_cli.stage import canonical_json, sha16
            from memoire_cli.synth.render.diffusion.cache import RenderCache

            cache = RenderCache(ws.root, user_id, sha16(canonical_json(self.params())))
            if self.renderer.generative:
                anchors, anchor_rows, enrolled, references, anchor_qc = self._render_anchors_qc(plan, cache)
            else:
                anchors, anchor_rows = self._render_anchors(plan)
                enrolled, references, anchor_qc = self._enrol_plain(anchors, anchor_rows), {}, []
            pixels, regions, hashes, attempts, qc = self._render_images(plan, enrolled, references, cache)
            qc = anchor_qc + qc
            self._rendered.add(user_id)
        else:
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
                       "renderer": _obj([self._renderer_label(i.kind) for i in plan.images]),
                       "phash": _obj([f"{h:016x}" for h in hashes]), "attempts": np.array(attempts, np.int32)},
            "image_tags": {"user_id": users(len(pairs)), "image_id": _obj([p[0] for p in pairs]),
                           "tag_id": np.array([p[1] for p in pairs], np.int32)},
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
            "qc": {"user_id": users(len(qc)), "image_id": _obj([q["image_id"] for q in qc]),
                   "attempt": np.array([q["attempt"] for q in qc], np.int32),
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

    def _renderer_label(self, kind: str) -> str:
        r = self.video_renderer if kind == "video_frame" and self.video_renderer is not None else self.renderer
        return f"{r.name} {r.version}"

    def _enrol_plain(self, anchors: np.ndarray, rows: list[tuple[int, int]]) -> dict:
        """ArcFace enrolment of procedural anchors (for QC of generated clips beside procedural stills)."""
        faces: dict[int, list] = {}
        for img, (tag, _) in zip(anchors, rows):
            faces.setdefault(tag, []).append(self.qc.check_anchor(img)[1])
        return {tag: self.qc.enrol(fs) for tag, fs in faces.items()}

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

    def _dropped(self, ws: Workspace, selection: Selection) -> list[str]:
        """Users a previous, larger unsharded run left behind (an unsharded run over every user drops them)."""
        if selection.shard_count != 1 or selection.user_ids:
            return []
        keep = set(self.universe(ws))
        return sorted(u for u in ws.user_fingerprints(self.name) if u not in keep)

    def confirm(self, ws: Workspace, selection: Selection, todo: list[str], force: bool, console: Any) -> None:
        """Fewer users or fewer images over an existing gallery destroy results: only with ``--force``,
        saying which downstream results go (dropped users: every stage's) or become stale (shrunk galleries)."""
        from memoire_cli.errors import MemoireError
        from memoire_cli.stage import PIPELINE

        def in_order(stages: set[str]) -> list[str]:
            return sorted(stages, key=lambda st: (PIPELINE.index(st) if st in PIPELINE else len(PIPELINE), st))

        dropped = self._dropped(ws, selection)
        shrunk: dict[str, int] = {}
        if self.cfg.images_per_user is not None and todo:
            marks = ", ".join("?" * len(todo))
            held = ws.query(f"SELECT i.user_id, count(*) FROM images i JOIN stage_users s ON s.stage = 'synth' AND s.user_id = i.user_id "
                            f"WHERE i.kind = 'still' AND i.user_id IN ({marks}) GROUP BY 1", todo)
            shrunk = {u: n for u, n in held if n > self.cfg.images_per_user}
        if not dropped and not shrunk:
            return
        downstream: dict[str, list[str]] = {}
        for stage, user_id in ws.query("SELECT stage, user_id FROM stage_users WHERE stage != 'synth' ORDER BY 1"):
            downstream.setdefault(user_id, []).append(stage)
        parts = []
        if dropped:
            results = in_order({st for u in dropped for st in downstream.get(u, [])})
            their = "its" if len(dropped) == 1 else "their"
            parts.append(f"delete the gallery of {', '.join(dropped[:5])}{' …' if len(dropped) > 5 else ''}"
                         + (f" and {their} {', '.join(results)} results" if results else ""))
        if shrunk:
            results = in_order({st for u in shrunk for st in downstream.get(u, [])})
            their = "its" if len(shrunk) == 1 else "their"
            parts.append(f"shrink the gallery of {', '.join(sorted(shrunk)[:5])}{' …' if len(shrunk) > 5 else ''} to "
                         f"{self.cfg.images_per_user} images, leaving {their} {', '.join(results)} results stale (re-run them)"
                         if results else f"shrink the gallery of {', '.join(sorted(shrunk)[:5])} to {self.cfg.images_per_user} images")
        what = "; and ".join(parts)
        if not force:
            raise MemoireError(f"this synth would {what}: add --force to do so")
        console.print(f"synth --force: will {what}")

    def finish(self, ws: Workspace, selection: Selection) -> None:
        """Drop the render caches of committed users; an unsharded run over every user drops users a
        previous, larger run left behind, with every stage's results for them."""
        from memoire_cli.synth.render.diffusion.cache import RenderCache

        for user_id in sorted(self._rendered):
            RenderCache.clear(ws.root, user_id)
        self._rendered.clear()
        for user_id in self._dropped(ws, selection):
            stages = [st for (st,) in ws.query("SELECT stage FROM stage_users WHERE user_id = ?", [user_id])]
            ws.drop_user(user_id, sorted({self.name, *stages}))


class _Progress:
    """Per-image progress with rate and ETA on stderr for slow (diffusion) renders: at most one line per 20 s."""

    EVERY_S = 20.0

    def __init__(self, console: Any, user_id: str, total: int) -> None:
        self.console, self.user_id, self.total = console, user_id, total
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, k: int) -> None:
        self.done += k
        now = time.monotonic()
        if self.console is None or (now - self.last < self.EVERY_S and self.done < self.total):
            return
        self.last = now
        rate = (now - self.start) / max(self.done, 1)
        eta = rate * (self.total - self.done)
        self.console.print(f"synth {self.user_id}: {self.done}/{self.total} images, {rate:.1f} s/image, ETA {eta / 60:.1f} min")
