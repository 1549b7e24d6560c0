"""The shared vocabulary of tags: tag types, relations ρ_t and event types (S1.1.1, S1.1.2, S1.2.1).

Every stage that reads tags — real photos (``ingest``) as well as simulated ones (``synth``), and
``graph``, ``persona``, ``pat``, ``rank`` downstream — speaks this vocabulary; the simulator's priors
over it (closeness, favourite probabilities, views, props, locations) live in the simulator
(``synth/ontology.py``).

Spec readings written down here (and in ``schemas/README.md``):

* S1.1.2 says "32 event types" but names 33; all 33 named types are kept.
* S1.1.1 draws the social graph from {father, mother, spouse/partner, son, daughter, sibling, friend,
  colleague, grandparent, cousin} while S1.2.1's relation label ρ has {self, father, mother, son,
  daughter, sibling, friend, colleague, unknown}. The relation vocabulary is the union (12 labels):
  ``spouse``, ``grandparent`` and ``cousin`` are kept as their own labels rather than folded into
  another one.

Pure Python: no imports.
"""

from __future__ import annotations

#: Tag types: person, location, event (the ``tags.type`` column), in the order of one-hot encodings.
TAG_TYPES: tuple[str, ...] = ("P", "L", "E")

#: ρ_t: the relation vocabulary of person tags (S1.1.1 ∪ S1.2.1), in the order of one-hot encodings.
RELATIONS: tuple[str, ...] = (
    "self", "father", "mother", "spouse", "son", "daughter", "sibling",
    "grandparent", "cousin", "friend", "colleague", "unknown",
)

#: The 33 event types of S1.1.2, in the spec's order.
EVENT_NAMES: tuple[str, ...] = (
    "Birthday", "Wedding", "Anniversary", "Graduation", "Family Dinner", "Vacation", "Picnic", "Hiking",
    "Sports Match", "Music Concert", "Festival", "Religious Ceremony", "Baby Shower", "Farewell Party",
    "Office Meeting", "Conference Talk", "Award Ceremony", "Team Outing", "Reunion", "Housewarming",
    "New Year Celebration", "Christmas", "Halloween", "Cultural Parade", "Public Lecture", "Museum Visit",
    "Beach Day", "Road Trip", "Travel Landmark", "Coffee Shop Gathering", "Casual Home Scene", "Park Stroll",
    "City Night Walk",
)
