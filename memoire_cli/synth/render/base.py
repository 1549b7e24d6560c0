"""The renderer interface of `memoire synth` (S1.1.4–S1.1.7).

A renderer turns a *shot specification* (what the generator decided an image shows: event, location,
people and their roles, shot plan, lighting, camera imperfections) into pixels, and reports what it
drew where. Those regions are hidden ground truth: only `memoire eval` may read them.

Backends register in :mod:`memoire_cli.synth.render` by name. ``procedural`` (CPU, no downloads) is
the embedded default; diffusion backends (SD3 + identity adapter for stills, HunyuanVideo for clips,
S1.1.4–S1.1.5) implement the same interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PersonSpec:
    """One person drawn in a shot (a member of the user's social graph, the user, or a stranger)."""

    tag_id: int  # the person's tag in the user's tag vocabulary
    face_key: int  # index into the face bank: which real face photo is this identity's face
    relation: str  # self, father, mother, spouse, son, daughter, sibling, grandparent, cousin, friend, colleague, unknown
    age: int  # years
    height_cm: float
    build: str  # slender | medium | stocky
    clothing_rgb: tuple[int, int, int]  # a stable colour per identity, so figures look consistent
    name: str = ""  # the person's name (diffusion prompts name people to disambiguate roles, S1.1.4)
    style: str = ""  # the S1.1.4 STYLE sentence (age, height, weight, body type, build); "" for strangers


@dataclass(frozen=True)
class ShotSpec:
    """Everything a renderer needs to draw one still or one sampled video frame.

    Coordinates are pixels of the output image, origin top-left, x to the right.
    """

    seed: int  # all randomness of the drawing derives from this
    width: int
    height: int
    event_type: str  # one of ontology.EVENT_TYPES
    event_tag: int
    location_kind: str  # one of ontology.LOCATION_KINDS (home, office, school, park, beach, landmark, ...)
    location_tag: int
    location_name: str  # the gazetteer phrase: "home living room", or a landmark's name ("Colosseum")
    people: tuple[PersonSpec, ...]  # in role order; may be empty (detail close-ups, landscapes)
    shot_plan: str  # wide establishing | medium group | intimate portrait | detail close-up
    lighting: str  # daylight | golden hour | tungsten indoor
    blur_sigma: float = 0.0  # camera shake / focus miss, pixels (0 = sharp)
    exposure_ev: float = 0.0  # exposure error in stops (negative = under-exposed)
    pan: float = 0.0  # horizontal camera pan in [0, 1] for video frames (left-to-right), 0 for stills
    # --- what diffusion renderers read (the procedural renderer ignores these) ---
    prompt: str = ""  # the S1.1.4 prompt (S1.1.5 storyboard for video frames)
    negative_prompt: str = ""  # the S1.1.4 negative prompt
    clip_id: str | None = None  # video frames: the clip (frames of one clip come from one generated video)
    frame_index: int | None = None  # video frames: index in the clip at its fps
    qc_level: int = 0  # 0 = first render; k > 0 = k-th QC re-render (stronger identity, tighter crops, S1.1.6)
    #: per depicted, enrolled person: (tag_id, (h, w, 3) uint8 enrolment anchor, its face box (x0, y0, x1, y1) or None)
    references: tuple[tuple[int, np.ndarray, tuple[float, float, float, float] | None], ...] = ()


def identity_weight(base: float, qc_level: int, step: float = 0.1) -> float:
    """λ_id of a QC re-render (S1.1.4, S1.1.6): ``base`` raised by ``step`` per level, at most 1."""
    return float(min(1.0, base + step * max(0, qc_level)))


@dataclass
class Region:
    """What the renderer drew for one tag in one image.

    ``mask`` is a boolean (H, W) array; ``box`` is (x0, y0, x1, y1) in pixels, inclusive-exclusive.
    For people ``face_box`` is the pasted face photo's box (where a face detector should fire).
    """

    tag_id: int
    kind: str  # "P" person, "L" location, "E" event (prop)
    box: tuple[int, int, int, int]
    mask: np.ndarray  # (H, W) bool
    face_box: tuple[int, int, int, int] | None = None


@dataclass
class Rendered:
    image: np.ndarray  # (H, W, 3) uint8 RGB
    regions: list[Region] = field(default_factory=list)
    raw: np.ndarray | None = None  # (H, W, 3) uint8 before the planned camera effects (diffusion renderers; QC reads it)


class Renderer(ABC):
    """A synth backend. Implementations must be deterministic: same spec, same pixels."""

    name: str = ""
    version: str = ""
    #: True for generative backends whose output must be verified (S1.1.6 QC: ArcFace identity, crowd,
    #: exposure/blur, NSFW); the procedural renderer draws exactly what it is told and only gets the pHash check.
    generative: bool = False

    @abstractmethod
    def describe(self) -> str:
        """One line for stderr: which model or default this backend uses."""

    @abstractmethod
    def render(self, shot: ShotSpec) -> Rendered:
        """Draw one still or video frame."""

    @abstractmethod
    def render_anchor(self, person: PersonSpec, k: int, seed: int, size: int) -> np.ndarray:
        """The k-th enrolment anchor portrait of a person: (size, size, 3) uint8 RGB."""
