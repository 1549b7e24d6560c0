"""Tag cards (S1.1.10 "Input packing"): a one-line text summary of an image's tags.

``People: Daughter (Alice), Father (Raj); Event: Birthday; Location: Home living room``. People
are listed by decreasing α (the persona's importance), then by tag id; relations are capitalised;
``self`` reads "Self"; a person without a relation (or ``unknown``) is listed by name alone.
Sections with no tag are left out; an image without tags gets ``"(no tags)"``.
"""

from __future__ import annotations


def _person(name: str, relation: str | None) -> str:
    if not relation or relation == "unknown":
        return name
    return f"{relation.replace('_', ' ').capitalize()} ({name})"


def tag_card(tag_ids: list[int], tags: dict[int, tuple[str, str, str | None]], alpha: dict[int, float]) -> str:
    """The card of one image from its tag ids, ``tags[t] = (type, name, relation)`` and α."""
    order = sorted(tag_ids, key=lambda t: (-alpha.get(t, 0.0), t))
    people = [_person(tags[t][1], tags[t][2]) for t in order if tags[t][0] == "P"]
    events = [tags[t][1] for t in order if tags[t][0] == "E"]
    places = [tags[t][1] for t in order if tags[t][0] == "L"]
    parts = []
    for label, names in (("People", people), ("Event", events), ("Location", places)):
        if names:
            parts.append(f"{label}: {', '.join(names)}")
    return "; ".join(parts) if parts else "(no tags)"
