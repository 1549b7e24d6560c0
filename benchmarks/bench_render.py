"""Throughput of the procedural renderer (goal: ≥ 50 images/s at 512×512 on one core), with a peer.

    .venv/bin/python benchmarks/bench_render.py [--n 200] [--size 512] [--no-pin]

Renders N shots with varied specs (all 33 event types, the 4 shot plans, 3 lightings, 0–6 people,
some blur / exposure error / video pan) on one thread (the process is pinned to one CPU unless
--no-pin), and, in the same run, a peer: plain ``PIL.Image.new`` + ``ImageDraw`` of the same number
of shapes per image, without faces, masks or backdrops. Prints one line per measure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from memoire_cli.faces.bank import FaceBank
from memoire_cli.synth.ontology import EVENT_TYPES, LANDMARKS, LIGHTING, LOCATION_KINDS, SHOT_PLANS
from memoire_cli.synth.render.base import PersonSpec, ShotSpec
from memoire_cli.synth.render.procedural import ProceduralRenderer
from memoire_cli.vocabulary import RELATIONS

SHAPE_METHODS = ("ellipse", "rectangle", "rounded_rectangle", "polygon", "line", "pieslice", "chord", "arc")
PEOPLE_BY_PLAN = {"intimate portrait": (1, 3), "medium group": (2, 6), "wide establishing": (3, 7),
                  "detail close-up": (0, 2)}


def varied_shots(n: int, size: int, bank_size: int, seed: int = 0) -> list[ShotSpec]:
    """N shot specs cycling through events, plans and lightings; a gazetteer of 2 places per location kind."""
    rng = np.random.default_rng(seed)
    kinds = [k.name for k in LOCATION_KINDS]

    def place_name(kind: str, tag: int) -> str:  # the gazetteer phrase; for landmarks the landmark's name
        if kind == "landmark":
            return LANDMARKS[tag % len(LANDMARKS)][0]
        phrases = LOCATION_KINDS[kinds.index(kind)].phrases
        return phrases[tag % len(phrases)]

    shots = []
    for i in range(n):
        event = EVENT_TYPES[i % len(EVENT_TYPES)]
        plan = SHOT_PLANS[i % len(SHOT_PLANS)]
        lo, hi = PEOPLE_BY_PLAN[plan]
        keys = rng.permutation(bank_size)[: int(rng.integers(lo, hi))]
        people = tuple(
            PersonSpec(tag_id=j, face_key=int(k), relation=str(rng.choice(RELATIONS)), age=int(rng.integers(4, 80)),
                       height_cm=float(rng.uniform(110, 192)), build=str(rng.choice(["slender", "medium", "stocky"])),
                       clothing_rgb=tuple(int(c) for c in rng.integers(30, 226, 3)))
            for j, k in enumerate(keys))
        video = i % 10 == 9
        shots.append(ShotSpec(
            seed=int(rng.integers(0, 2**31)), width=size, height=size, event_type=event.name, event_tag=1,
            location_kind=(kind := event.locations[i % len(event.locations)]),
            location_tag=(tag := 2 * kinds.index(kind) + int(rng.integers(2))), location_name=place_name(kind, tag),
            people=people, shot_plan="medium group" if video else plan, lighting=LIGHTING[i % len(LIGHTING)],
            blur_sigma=float(rng.choice([0.0, 0.0, 0.0, 1.5])),
            exposure_ev=float(np.clip(rng.normal(0, 0.35), -1.5, 1.5)),
            pan=float(rng.uniform()) if video else 0.0))
    return shots


@contextmanager
def counting_shapes():
    """Count ImageDraw shape calls on RGB images (colour) and on "L" images (label maps)."""
    counts = {"RGB": 0, "L": 0}
    originals = {m: getattr(ImageDraw.ImageDraw, m) for m in SHAPE_METHODS}

    def wrap(fn):
        def counted(self, *args, **kwargs):
            counts[self.mode if self.mode in counts else "RGB"] += 1
            return fn(self, *args, **kwargs)
        return counted

    for name, fn in originals.items():
        setattr(ImageDraw.ImageDraw, name, wrap(fn))
    try:
        yield counts
    finally:
        for name, fn in originals.items():
            setattr(ImageDraw.ImageDraw, name, fn)


def peer(n: int, size: int, shapes_per_image: int, seed: int = 1) -> float:
    """Seconds to make n images with Image.new + ImageDraw shapes (no faces) and read them as arrays."""
    rng = np.random.default_rng(seed)
    boxes = rng.uniform(0, size, (n, shapes_per_image, 4))
    colours = [tuple(int(c) for c in rgb) for rgb in rng.integers(0, 256, (64, 3))]
    t0 = time.perf_counter()
    for i in range(n):
        img = Image.new("RGB", (size, size), (200, 200, 200))
        d = ImageDraw.Draw(img)
        for j in range(shapes_per_image):
            x0, y0, x1, y1 = boxes[i, j]
            b = (min(x0, x1), min(y0, y1), min(x0, x1) + abs(x1 - x0) * 0.15, min(y0, y1) + abs(y1 - y0) * 0.15)
            c = colours[(i + j) % 64]
            kind = j % 3
            if kind == 0:
                d.ellipse(b, fill=c)
            elif kind == 1:
                d.rectangle(b, fill=c)
            else:
                d.polygon([(b[0], b[3]), ((b[0] + b[2]) / 2, b[1]), (b[2], b[3])], fill=c)
        np.array(img)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=200, help="shots to render (default 200)")
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (default 512)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    args = parser.parse_args()
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        FaceBank.load(Path(cache))
        build = time.perf_counter() - t0
        t0 = time.perf_counter()
        bank = FaceBank.load(Path(cache))
        cached = time.perf_counter() - t0
    print(f"face bank: {len(bank)} identities, built in {build:.2f} s, cached load {cached * 1000:.1f} ms")

    renderer = ProceduralRenderer(bank)
    shots = varied_shots(args.n, args.size, len(bank))
    t0 = time.perf_counter()
    for s in shots:
        renderer.render(s)
    cold = time.perf_counter() - t0
    print(f"procedural cold (first pass, paints the backdrops): {args.n / cold:7.1f} images/s "
          f"({args.size}x{args.size}, 1 thread)")

    with counting_shapes() as counts:
        for s in shots:
            renderer.render(s)
    rgb_shapes = counts["RGB"] / args.n
    print(f"shapes per image: {rgb_shapes:.1f} in colour + {counts['L'] / args.n:.1f} on the label map "
          f"(+ {sum(len(s.people) for s in shots) / args.n:.1f} pasted face photos)")

    t0 = time.perf_counter()
    for s in shots:
        renderer.render(s)
    warm = time.perf_counter() - t0
    print(f"procedural warm (backdrops cached): {args.n / warm:7.1f} images/s ({args.size}x{args.size}, 1 thread)")

    peer_s = peer(args.n, args.size, max(1, int(round(rgb_shapes))))
    print(f"peer Image.new + ImageDraw, {round(rgb_shapes)} shapes, no faces: {args.n / peer_s:7.1f} images/s")
    print(f"ratio procedural warm / peer time: {warm / peer_s:.2f}x")


if __name__ == "__main__":
    main()
