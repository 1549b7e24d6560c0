"""``procedural``: the embedded CPU renderer of `memoire synth` (stands in for S1.1.4–S1.1.7 offline).

:class:`ProceduralRenderer` composes one shot: the backdrop of the location (panned), props behind,
the people (back row first), props in front, then the camera effects; or, for a *detail close-up*
(S1.1.7), one big hero prop on a surface with hands reaching in.

* **camera** (S1.1.5 pan, S1.1.6 blur/exposure heuristics): ``pan`` shifts the backdrop by up to 25 %
  and the foreground by up to 10 % of the width (parallax, left-to-right pan); ``exposure_ev`` is a
  gain/gamma LUT (with the lighting tint); ``blur_sigma`` a Gaussian blur, both applied last.

Ground truth (hidden, for ``memoire eval``): the label map drawn alongside every shape gives one
Region per person (kind "P": visible figure + head pixels; ``face_box`` = pasted face box, None when
less than half of it is visible), one for the event (kind "E": union of visible prop pixels) and one
for the location (kind "L": visible backdrop).

Everything is drawn from ``np.random.default_rng(shot.seed)``: same spec, same bytes. Backdrops
(rebuildable) and face photos are cached per instance; the caches never change the pixels.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from PIL import Image, ImageFilter

from memoire_cli.faces.bank import FaceBank
from memoire_cli.synth.ontology import EVENT_BY_NAME
from memoire_cli.synth.render.base import PersonSpec, Region, Rendered, Renderer, ShotSpec
from memoire_cli.synth.render.procedural.backdrops import (
    LIGHT_TINT,
    defocus,
    lighting_changes_backdrop,
    paint_backdrop,
)
from memoire_cli.synth.render.procedural.figures import (
    DrawnFigure,
    FaceHeads,
    Figure,
    draw_arms,
    draw_figure,
    draw_hand,
    draw_people,
)
from memoire_cli.synth.render.procedural.landmarks import landmark_name
from memoire_cli.synth.render.procedural.layout import layout
from memoire_cli.synth.render.procedural.pen import (
    LABEL_BACKGROUND,
    LABEL_EVENT,
    LABEL_PERSON0,
    Pen,
    jitter,
    to_rgb,
    vgradient,
)
from memoire_cli.synth.render.procedural.prop_placement import draw_props, prop_slots
from memoire_cli.synth.render.procedural.props import close_up_hero, prop_spec

PAN_BACKGROUND = 0.25  # backdrop shift at pan = 1, fraction of the width
PAN_FOREGROUND = 0.10  # people/props shift at pan = 1 (parallax)
BACKDROP_CACHE_BYTES = 160 * 2**20  # backdrop pixels kept per renderer instance (≈ 1 MB each at 512²)
FACE_VISIBLE = 0.5  # a face box counts as visible when this fraction of it shows the person


class ProceduralRenderer(Renderer):
    """CPU renderer: procedural scenes + real face photos from the face bank (see the package doc)."""

    name = "procedural"
    version = "1"

    def __init__(self, face_bank: FaceBank) -> None:
        self.bank = face_bank
        self.heads = FaceHeads(face_bank)
        self._backdrops: OrderedDict[tuple, Image.Image] = OrderedDict()  # LRU, bounded in bytes
        self._backdrop_bytes = 0

    def describe(self) -> str:
        return (f"renderer: procedural (CPU; faces from packaged photos {', '.join(self.bank.sources)}: "
                f"{len(self.bank)} identities)")

    # ---- backdrop cache (per instance) -----------------------------------------------------------

    def _backdrop(self, kind: str, tag: int, name: str, lighting: str, width: int, height: int,
                  blurred: bool) -> Image.Image:
        """The (cached) backdrop of a location; ``blurred`` = shallow depth of field for close-ups.

        Only ``landmark`` backdrops depend on the location name (which silhouette); they are cached
        per landmark drawn, the others regardless of the name.
        """
        lighting = lighting if lighting_changes_backdrop(kind) else "daylight"
        name = landmark_name(name, tag) if kind == "landmark" else ""
        key = (kind, tag, name, lighting, width, height, blurred)
        img = self._backdrops.get(key)
        if img is None:
            if blurred:
                img = defocus(self._backdrop(kind, tag, name, lighting, width, height, False))
            else:
                img = paint_backdrop(kind, tag, name, lighting, width, height)
            self._backdrops[key] = img
            self._backdrop_bytes += img.width * img.height * 3
            while self._backdrop_bytes > BACKDROP_CACHE_BYTES and len(self._backdrops) > 1:
                _, old = self._backdrops.popitem(last=False)
                self._backdrop_bytes -= old.width * old.height * 3
        else:
            self._backdrops.move_to_end(key)
        return img

    # ---- finishing (lighting, exposure, blur) ----------------------------------------------------

    @staticmethod
    def _finish(img: Image.Image, lighting: str, exposure_ev: float, blur_sigma: float) -> Image.Image:
        """Lighting tint × exposure gain/gamma in one LUT, then Gaussian blur (S1.1.6 heuristics)."""
        tint = LIGHT_TINT.get(lighting, (1.0, 1.0, 1.0))
        gain = 2.0 ** float(exposure_ev)
        gamma = 1.0 / (1.0 + 0.08 * float(exposure_ev))
        v = np.arange(256, dtype=np.float64) / 255.0
        lut: list[int] = []
        for t in tint:
            lut += list(np.clip(255.0 * np.clip(v * t * gain, 0, 1) ** gamma + 0.5, 0, 255).astype(np.int64))
        img = img.point(lut)
        if blur_sigma > 0:
            img = img.filter(ImageFilter.GaussianBlur(radius=float(blur_sigma)))
        return img

    # ---- regions ---------------------------------------------------------------------------------

    @staticmethod
    def _mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if len(rows) == 0:
            return (0, 0, 0, 0)
        return (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)

    def _regions(self, lab: np.ndarray, shot: ShotSpec, drawn: dict[int, DrawnFigure]) -> list[Region]:
        H, W = lab.shape
        regions = []
        for i, p in enumerate(shot.people):
            mask = lab == LABEL_PERSON0 + i
            face = None
            d = drawn.get(i)
            if d is not None:
                fb = (max(0, int(math.floor(d.face_box[0]))), max(0, int(math.floor(d.face_box[1]))),
                      min(W, int(math.ceil(d.face_box[2]))), min(H, int(math.ceil(d.face_box[3]))))
                full = max(1.0, (d.face_box[2] - d.face_box[0]) * (d.face_box[3] - d.face_box[1]))
                if fb[2] > fb[0] and fb[3] > fb[1]:
                    seen = float(mask[fb[1]:fb[3], fb[0]:fb[2]].sum())
                    if seen >= FACE_VISIBLE * full:
                        face = fb
            regions.append(Region(tag_id=p.tag_id, kind="P", box=self._mask_box(mask), mask=mask, face_box=face))
        ev = lab == LABEL_EVENT
        regions.append(Region(tag_id=shot.event_tag, kind="E", box=self._mask_box(ev), mask=ev))
        loc = lab == LABEL_BACKGROUND
        regions.append(Region(tag_id=shot.location_tag, kind="L", box=self._mask_box(loc), mask=loc))
        return regions

    # ---- public API ------------------------------------------------------------------------------

    def render(self, shot: ShotSpec) -> Rendered:
        """Draw one still or video frame (see the package and module docs for what is drawn where)."""
        if len(shot.people) > 255 - LABEL_PERSON0:
            raise ValueError("the procedural renderer draws at most 253 people per shot")
        rng = np.random.default_rng(shot.seed)
        W, H = shot.width, shot.height
        pan = min(max(float(shot.pan), 0.0), 1.0)
        close_up = shot.shot_plan == "detail close-up"
        bg_extra = int(math.ceil(PAN_BACKGROUND * W))
        backdrop = self._backdrop(shot.location_kind, shot.location_tag, shot.location_name, shot.lighting,
                                  W + bg_extra, H, close_up)
        bx = int(round(pan * PAN_BACKGROUND * W))
        img = backdrop.crop((bx, 0, bx + W, H))
        labels = Image.new("L", (W, H), LABEL_BACKGROUND)
        pen = Pen(img, labels)
        fg_shift = pan * PAN_FOREGROUND * W
        event = EVENT_BY_NAME.get(shot.event_type)
        props = event.props if event is not None else (shot.event_type,)
        if close_up:
            drawn = self._draw_close_up(pen, shot, rng, props, fg_shift)
        else:
            drawn = self._draw_scene(img, labels, pen, shot, rng, props, fg_shift)
        out = self._finish(img, shot.lighting, shot.exposure_ev, shot.blur_sigma)
        regions = self._regions(np.asarray(labels), shot, drawn)
        return Rendered(image=np.array(out), regions=regions)

    def _draw_scene(self, img, labels, pen, shot, rng, props, fg_shift) -> dict[int, DrawnFigure]:
        """Wide / medium / intimate shots: props behind, then people (back row first), then props in front."""
        figs, ppcm, floor = layout(shot, rng, fg_shift)
        slots = [(n, s, x - fg_shift) for n, s, x in prop_slots(shot, rng, props)]
        draw_props(pen, shot, rng, ppcm, floor, figs, {}, ("top", "ground", "back"), slots)
        drawn = draw_people(img, labels, pen, figs, self.heads)
        draw_props(pen, shot, rng, ppcm, floor, figs, drawn, ("worn", "held", "front"), slots)
        return drawn

    def _draw_close_up(self, pen: Pen, shot: ShotSpec, rng, props, fg_shift) -> dict[int, DrawnFigure]:
        """Detail close-up (S1.1.7): one big hero prop on a surface, people only as hands reaching in."""
        W, H = shot.width, shot.height
        R = math.sqrt(W * H)
        hero = close_up_hero(props)
        pen.label = LABEL_BACKGROUND
        pen.rect((-10, 0.72 * H, W + 10, H + 10), (120, 90, 64))
        pen.rect((-10, 0.72 * H, W + 10, 0.74 * H), (150, 116, 84))
        spec = prop_spec(hero)
        wc, hc = spec.size_cm
        s = min(0.62 * W / wc, 0.62 * H / hc)
        w, h = wc * s, hc * s
        cx = 0.5 * W + rng.uniform(-0.06, 0.06) * W - fg_shift
        base = 0.86 * H
        pen.label = LABEL_EVENT
        spec.fn(pen, (cx - w / 2, base - h, cx + w / 2, base), rng)
        for i, p in enumerate(shot.people):
            pen.label = LABEL_PERSON0 + i
            side = -1 if i % 2 == 0 else 1
            arm_w = 0.1 * R
            hx = cx + side * (0.5 * w - 0.02 * R) + rng.uniform(-0.02, 0.02) * W
            hy = base - rng.uniform(0.12, 0.45) * h
            start = (hx + side * rng.uniform(0.15, 0.3) * W, H + 0.12 * H)
            draw_hand(pen, start, (hx, hy), arm_w, to_rgb(p.clothing_rgb), self.bank.skin_rgb(p.face_key))
        return {}

    def render_anchor(self, person: PersonSpec, k: int, seed: int, size: int) -> np.ndarray:
        """The k-th enrolment portrait of a person: plain backdrop, frontal face, head and shoulders.

        (size, size, 3) uint8 RGB. The three anchors (k = 0, 1, 2) differ slightly in backdrop,
        framing and brightness (S1.1.4: 1–3 reference portraits per person).
        """
        rng = np.random.default_rng([abs(int(seed)), int(k), int(person.face_key), 0xA7C4])
        backdrops = (((200, 206, 214), (150, 158, 170)), ((214, 204, 190), (170, 156, 140)),
                     ((186, 204, 200), (130, 150, 150)))
        top, bottom = backdrops[k % 3]
        img = Image.fromarray(np.ascontiguousarray(vgradient(size, size, jitter(rng, top, 0.04),
                                                              jitter(rng, bottom, 0.04))).astype(np.uint8))
        pen = Pen(img, None)
        f = size * 0.36 * (1.0 + 0.04 * (k % 3 - 1)) * rng.uniform(0.98, 1.02)
        fig = Figure(index=0, person=person, cx=size * (0.5 + rng.uniform(-0.03, 0.03)), cy=size * 0.42, face_h=f,
                      flip=False, bright=1.0 + 0.04 * (k % 3 - 1))
        skin = self.bank.skin_rgb(person.face_key)
        _, shoulder, hip, sw, ppcm = draw_figure(pen, fig, skin)
        draw_arms(pen, fig, skin, shoulder, hip, sw, ppcm)
        self.heads.paste(img, None, person.face_key, fig.cx, fig.cy, f, 0, False, fig.bright)
        return np.array(img)
