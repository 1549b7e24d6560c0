"""Prompts a diffusion renderer needs, filled from the plan (S1.1.4 template, S1.1.5 storyboard, S1.1.7 bank).

The procedural renderer does not read them; the SD3 and HunyuanVideo backends render from them.
"""

from __future__ import annotations

from memoire_cli.synth.calendar import Place
from memoire_cli.synth.ontology import EventType
from memoire_cli.synth.people import Person

NEGATIVE_PROMPT = "artefacts, extra fingers, deformed face, blurry face, watermark, text, logo"

CAMERA = {
    "wide establishing": ("24mm DSLR", "wide shot, deep focus"),
    "medium group": ("35mm DSLR", "mid-shot + shallow DOF"),
    "intimate portrait": ("85mm DSLR", "close portrait, shallow DOF"),
    "detail close-up": ("50mm macro", "detail close-up"),
}
LIGHT = {"daylight": "soft natural daylight", "golden hour": "warm golden-hour light", "tungsten indoor": "soft indoor evening light"}
MOOD = {"personal": "warm family tone", "social": "lively, joyful tone", "travel": "adventurous, airy tone", "work": "professional, friendly tone"}


def _location_phrase(place: Place) -> str:
    return f"{place.phrase} ({place.visual_anchor})" if place.visual_anchor else place.phrase


def _roles(people: list[Person]) -> str:
    return ", ".join(f"{p.relation.capitalize() if p.relation != 'unknown' else 'Bystander'}=[{p.name}]" for p in people)


def still_prompt(etype: EventType, place: Place, people: list[Person], shot_plan: str, lighting: str) -> str:
    """The S1.1.4 template with every placeholder filled."""
    camera, framing = CAMERA[shot_plan]
    roles = _roles(people) or "no people in frame"
    style = " ".join(p.style_sentence() for p in people if p.in_graph)
    return (
        f"A candid {etype.name.lower()} in {_location_phrase(place)}: {roles}. "
        f"Camera: {camera}, framing: {framing}, light: {LIGHT[lighting]}, mood: {MOOD[etype.category]}. "
        f"Visual details: {', '.join(etype.props)}, no watermark, photorealistic."
        + (f" STYLE: {style}" if style else "")
    )


def clip_prompt(etype: EventType, place: Place, people: list[Person]) -> str:
    """The S1.1.5 storyboard prompt of an event's clip."""
    roles = "; ".join(f"{p.relation.capitalize()} [{p.name}]" for p in people if p.in_graph) or "the scene"
    return (
        f"Wide shot of a {etype.name.lower()} in {_location_phrase(place)}; {roles}; slow left-to-right pan; "
        f"natural lighting; {', '.join(etype.props)}; maintain exact faces from reference portraits."
    )
