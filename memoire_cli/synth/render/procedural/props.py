"""Event props of the procedural renderer: the Prop catalogue (S1.1.2 ``props``, S1.1.7 close-ups).

* **event** (S1.1.2 props of :data:`~memoire_cli.synth.ontology.EVENT_BY_NAME`): every prop of the
  event drawn as a recognisable simple shape (cake with candles, balloons, christmas tree, cap on a
  graduate, stage lights, beach umbrella, trophy, …; a generic fallback for unknown names). The
  drawings live in :mod:`~memoire_cli.synth.render.procedural.props_celebrations` and
  :mod:`~memoire_cli.synth.render.procedural.props_activities`; :data:`PROPS` says how each is
  placed (layer) and how large it is in the scene; where a prop goes in a shot is
  :mod:`~memoire_cli.synth.render.procedural.prop_placement`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from memoire_cli.synth.render.procedural import props_activities as act
from memoire_cli.synth.render.procedural import props_celebrations as cel
from memoire_cli.synth.render.procedural.pen import Box, Pen, box_dims, mix, stable_hash, to_rgb

PropFn = Callable[[Pen, Box, np.random.Generator], None]


def draw_generic(pen, b, rng, name: str = ""):
    """Fallback for props without a dedicated drawing: a bright boxed object in a colour of its name."""
    x0, y0, x1, y1, w, h = box_dims(b)
    g = np.random.default_rng(stable_hash(name))
    col = to_rgb(g.uniform(60, 240, 3))
    pen.rounded((x0, y0 + 0.2 * h, x1, y1), 0.1 * min(w, h), col)
    pen.ellipse((x0 + 0.3 * w, y0, x1 - 0.3 * w, y0 + 0.4 * h), mix(col, (255, 255, 255), 0.5))


@dataclass(frozen=True)
class Prop:
    """How a prop is drawn and placed.

    ``layer``: "back" (scene furniture behind the people), "top" (upper part of the frame, behind
    the people), "ground" (floor band behind the people), "front" (objects in front of the people,
    below their faces), "worn" (on a person's head), "held" (in a person's hand).
    ``size_cm``: (width, height) in the scene, converted with the shot's pixels per centimetre.
    """

    fn: PropFn
    layer: str
    size_cm: tuple[float, float]
    tabletop: bool = False  # stands on a table in front of the people
    span: bool = False  # a surface across the whole frame (tables): tabletop objects stand on it


PROPS: dict[str, Prop] = {
    "cake": Prop(cel.draw_cake, "front", (34, 30), True),
    "candles": Prop(cel.draw_candles, "front", (18, 20), True),
    "balloons": Prop(cel.draw_balloons, "top", (110, 160)),
    "gifts": Prop(cel.draw_gifts, "front", (46, 34)),
    "wedding arch": Prop(cel.draw_wedding_arch, "back", (260, 270)),
    "flowers": Prop(cel.draw_flowers, "front", (34, 46), True),
    "rings": Prop(cel.draw_rings, "front", (14, 12), True),
    "roses": Prop(cel.draw_roses, "front", (32, 46), True),
    "glasses": Prop(cel.draw_glasses, "front", (22, 20), True),
    "cap and gown": Prop(cel.draw_cap_and_gown, "worn", (30, 20)),
    "diploma": Prop(cel.draw_diploma, "front", (34, 8), True),
    "podium": Prop(cel.draw_podium, "back", (70, 115)),
    "dining table": Prop(cel.draw_dining_table, "front", (220, 75), span=True),
    "plates": Prop(cel.draw_plates, "front", (60, 10), True),
    "suitcase": Prop(act.draw_suitcase, "front", (45, 72)),
    "sun hat": Prop(act.draw_sun_hat, "worn", (46, 20)),
    "picnic basket": Prop(act.draw_picnic_basket, "front", (50, 38)),
    "checkered blanket": Prop(act.draw_checkered_blanket, "ground", (260, 60)),
    "backpack": Prop(act.draw_backpack, "front", (36, 48)),
    "trekking poles": Prop(act.draw_trekking_poles, "held", (30, 120)),
    "scoreboard": Prop(act.draw_scoreboard, "top", (320, 120)),
    "ball": Prop(act.draw_ball, "front", (24, 24)),
    "goalpost": Prop(act.draw_goalpost, "back", (500, 240)),
    "stage lights": Prop(act.draw_stage_lights, "top", (500, 200)),
    "microphone": Prop(act.draw_microphone, "back", (34, 160)),
    "guitar": Prop(act.draw_guitar, "back", (38, 100)),
    "string lights": Prop(cel.draw_string_lights, "top", (500, 60)),
    "lamps": Prop(cel.draw_lamps, "back", (50, 165)),
    "colour powder": Prop(cel.draw_colour_powder, "top", (300, 120)),
    "idol": Prop(cel.draw_idol, "back", (80, 150)),
    "banner": Prop(cel.draw_banner, "top", (400, 40)),
    "whiteboard": Prop(act.draw_whiteboard, "back", (200, 120)),
    "laptop": Prop(act.draw_laptop, "front", (34, 24), True),
    "projector screen": Prop(act.draw_projector_screen, "back", (300, 190)),
    "trophy": Prop(cel.draw_trophy, "front", (26, 44), True),
    "medal": Prop(cel.draw_medal, "front", (12, 22), True),
    "keys": Prop(cel.draw_keys, "front", (12, 10), True),
    "fireworks": Prop(cel.draw_fireworks, "top", (500, 200)),
    "confetti": Prop(cel.draw_confetti, "top", (400, 160)),
    "christmas tree": Prop(cel.draw_christmas_tree, "back", (130, 210)),
    "santa hat": Prop(cel.draw_santa_hat, "worn", (30, 28)),
    "pumpkin": Prop(cel.draw_pumpkin, "front", (40, 34)),
    "costume": Prop(cel.draw_costume, "worn", (36, 36)),
    "parade float": Prop(cel.draw_parade_float, "back", (500, 300)),
    "drums": Prop(cel.draw_drums, "front", (60, 55)),
    "painting": Prop(act.draw_painting, "back", (110, 80)),
    "sculpture": Prop(act.draw_sculpture, "back", (60, 170)),
    "beach umbrella": Prop(act.draw_beach_umbrella, "back", (200, 230)),
    "beach ball": Prop(act.draw_beach_ball, "front", (40, 40)),
    "waves": Prop(act.draw_waves, "ground", (600, 50)),
    "car": Prop(act.draw_car, "back", (420, 145)),
    "map": Prop(act.draw_map, "front", (60, 44), True),
    "monument": Prop(act.draw_monument, "back", (200, 420)),
    "selfie stick": Prop(act.draw_selfie_stick, "held", (60, 90)),
    "coffee cups": Prop(act.draw_coffee_cups, "front", (26, 12), True),
    "pastries": Prop(act.draw_pastries, "front", (30, 10), True),
    "sofa": Prop(act.draw_sofa, "back", (210, 90)),
    "park bench": Prop(act.draw_park_bench, "back", (170, 85)),
    "trees": Prop(act.draw_trees, "back", (300, 480)),
    "street lamps": Prop(act.draw_street_lamps, "back", (40, 420)),
    "shop signs": Prop(act.draw_shop_signs, "top", (360, 60)),
}

#: Back props that stand centred behind the people (others go to the sides).
CENTRE_PROPS = frozenset({"wedding arch", "projector screen", "whiteboard", "idol", "sofa", "goalpost",
                          "parade float", "monument", "painting"})

#: Layers whose props can be the hero of a detail close-up, in order of preference (S1.1.7: cake,
#: ring, trophy: objects first).
CLOSE_UP_LAYERS = ("front", "worn", "back", "held", "top", "ground")
CLOSE_UP_ASPECT = (0.35, 6.5)  # width/height of a hero prop: thin poles and stands make poor close-ups


def close_up_hero(props: tuple[str, ...]) -> str:
    """The prop a detail close-up shows large: the first compact one in layer preference order."""
    ranked = [nm for layer in CLOSE_UP_LAYERS for nm in props if prop_spec(nm).layer == layer]
    lo, hi = CLOSE_UP_ASPECT
    compact = [nm for nm in ranked if lo <= prop_spec(nm).size_cm[0] / prop_spec(nm).size_cm[1] <= hi]
    return (compact or ranked or list(props))[0]


def prop_spec(name: str) -> Prop:
    """The drawing of a prop; unknown names get the generic fallback."""
    found = PROPS.get(name)
    if found is not None:
        return found
    return Prop(lambda pen, b, rng, _n=name: draw_generic(pen, b, rng, _n), "front", (40, 40))

