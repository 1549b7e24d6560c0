"""``procedural``: the embedded CPU renderer of `memoire synth` (stands in for S1.1.4–S1.1.7 offline).

The spec renders stills with SD3 + InstantID (S1.1.4) and clips with HunyuanVideo (S1.1.5), from a
composition bank of shot plans × lighting variants per event and location (S1.1.7). This backend
draws the same shot specifications with numpy + PIL in a few milliseconds per image, so that a
whole synthetic population renders on one CPU core without any download. Its modules:

* :mod:`.renderer` — :class:`ProceduralRenderer`: composition of a shot, camera effects (S1.1.5
  pan, S1.1.6 blur/exposure), ground-truth regions, enrolment anchors;
* :mod:`.layout` — where the people stand per shot plan (S1.1.7);
* :mod:`.figures` — people: bodies after age, height and build (S1.1.1), real face photos as heads
  (S1.1.4), hands of detail close-ups;
* :mod:`.backdrops` — one scene per location kind and the lighting variants (S1.1.7);
  :mod:`.landmarks` — the landmark silhouettes, chosen by the shot's ``location_name``;
* :mod:`.props` — the Prop catalogue of event props (S1.1.2); drawings in :mod:`.props_celebrations`
  and :mod:`.props_activities`; :mod:`.prop_placement` — where props go in a shot;
* :mod:`.pen` — the drawing pen (colour + label map), colour helpers and gradients.

Everything is drawn from ``np.random.default_rng(shot.seed)``: same spec, same bytes.
"""

from __future__ import annotations

from memoire_cli.synth.render.procedural.backdrops import BACKDROP_REFERENCE_HEIGHT, paint_backdrop
from memoire_cli.synth.render.procedural.landmarks import LANDMARK_PAINTERS, landmark_index, landmark_name
from memoire_cli.synth.render.procedural.props import PROPS, Prop, close_up_hero, prop_spec
from memoire_cli.synth.render.procedural.renderer import (
    FACE_VISIBLE,
    PAN_BACKGROUND,
    PAN_FOREGROUND,
    ProceduralRenderer,
)

__all__ = [
    "BACKDROP_REFERENCE_HEIGHT",
    "FACE_VISIBLE",
    "LANDMARK_PAINTERS",
    "PAN_BACKGROUND",
    "PAN_FOREGROUND",
    "PROPS",
    "ProceduralRenderer",
    "Prop",
    "close_up_hero",
    "landmark_index",
    "landmark_name",
    "paint_backdrop",
    "prop_spec",
]
