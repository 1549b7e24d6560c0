"""Virtual users' people: self, a social graph of 8–12 people, strangers (S1.1.1).

Each person gets a relation, a name, physical attributes (age band, height, weight, body type,
build, baked into prompts) and a distinct face from the renderer's face bank. Person–person edges
are drawn with probability by closeness (self–parent > parent–child > friend > colleague).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memoire_cli.synth.ontology import CLOSENESS, GRAPH_RELATIONS

KIN = frozenset({"father", "mother", "spouse", "son", "daughter", "sibling", "grandparent", "cousin"})
MALE_RELATIONS = frozenset({"father", "son"})
FEMALE_RELATIONS = frozenset({"mother", "daughter"})
#: Relations that can appear at most once in a social graph.
SINGLE_RELATIONS = frozenset({"father", "mother", "spouse"})
STRANGERS_PER_USER = 4

MALE_NAMES = ("Raj", "Arjun", "Liam", "Kenji", "Omar", "Mateo", "Noah", "Ravi", "Tomas", "Kwame", "Ivan", "Diego", "Sam", "Hugo", "Ali", "Chen")
FEMALE_NAMES = ("Nita", "Alice", "Priya", "Sofia", "Aiko", "Fatima", "Emma", "Lucia", "Amara", "Mei", "Olga", "Zara", "Maya", "Ines", "Leila", "Hana")


@dataclass(frozen=True)
class Person:
    tag_id: int
    name: str
    relation: str
    in_graph: bool
    age: int
    age_band: str
    height_cm: float
    weight_kg: float
    body_type: str
    build: str
    face_key: int
    clothing_rgb: tuple[int, int, int]

    def style_sentence(self) -> str:
        """The STYLE clause of the S1.1.4 prompt for this person."""
        feet, inches = divmod(round(self.height_cm / 2.54), 12)
        article = "an" if self.body_type[0] in "aeiou" else "a"
        return (
            f"The {'user' if self.relation == 'self' else self.relation} is {self.age} years old, has a height of {feet}'{inches}\", weighs "
            f"{round(self.weight_kg)} kg, has {article} {self.body_type} body type, and a {self.build} build."
        )


def age_band(age: int) -> str:
    for limit, band in ((12, "child"), (19, "teen"), (30, "young adult"), (45, "adult"), (65, "middle-aged")):
        if age < limit:
            return band
    return "senior"


def _relative_age(rng: np.random.Generator, relation: str, self_age: int) -> int:
    offsets = {
        "father": (24, 34), "mother": (22, 32), "grandparent": (48, 60), "spouse": (-4, 5),
        "sibling": (-7, 8), "cousin": (-9, 10), "friend": (-5, 6), "son": (-36, -22), "daughter": (-36, -22),
    }
    if relation == "colleague":
        return int(rng.integers(23, 62))
    lo, hi = offsets[relation]
    return int(np.clip(self_age + rng.integers(lo, hi + 1), 2, 95))


def _body(rng: np.random.Generator, age: int) -> tuple[float, float, str, str]:
    if age < 16:
        height = 80 + age * 5.5 + rng.normal(0, 6)
    else:
        height = rng.normal(170, 9)
    body_type = str(rng.choice(["slim", "average", "athletic", "heavy"], p=[0.25, 0.45, 0.15, 0.15]))
    bmi = {"slim": 19.5, "average": 23.0, "athletic": 24.0, "heavy": 29.0}[body_type] + rng.normal(0, 1.2)
    weight = bmi * (height / 100) ** 2
    build = {"slim": "slender", "average": "medium", "athletic": "medium", "heavy": "stocky"}[body_type]
    return float(round(height, 1)), float(round(weight, 1)), body_type, build


def draw_relations(rng: np.random.Generator, self_age: int) -> list[str]:
    """8–12 relations from the S1.1.1 set; parents/spouse at most once, children only if plausible."""
    n = int(rng.integers(8, 13))
    pool = [r for r in GRAPH_RELATIONS if not (r in ("son", "daughter") and self_age < 24)]
    weights = np.array([CLOSENESS[r] for r in pool])
    chosen: list[str] = []
    while len(chosen) < n:
        r = str(rng.choice(pool, p=weights / weights.sum()))
        if r in SINGLE_RELATIONS and r in chosen:
            continue
        chosen.append(r)
    order = {r: i for i, r in enumerate(GRAPH_RELATIONS)}
    return sorted(chosen, key=lambda r: order[r])


def draw_people(rng: np.random.Generator, face_bank_size: int) -> list[Person]:
    """Self (tag 0), the social graph, then strangers; faces are distinct within the user."""
    self_age = int(rng.integers(24, 52))
    relations = ["self", *draw_relations(rng, self_age)]
    relations += ["unknown"] * STRANGERS_PER_USER
    if face_bank_size < len(relations):
        raise ValueError(f"face bank has {face_bank_size} identities, a user needs {len(relations)}")
    faces = rng.permutation(face_bank_size)[: len(relations)]
    used: set[str] = set()
    people: list[Person] = []
    stranger = 0
    for tag_id, (relation, face) in enumerate(zip(relations, faces)):
        age = self_age if relation == "self" else (int(rng.integers(18, 70)) if relation == "unknown" else _relative_age(rng, relation, self_age))
        male = relation in MALE_RELATIONS or (relation not in FEMALE_RELATIONS and rng.random() < 0.5)
        names = [n for n in (MALE_NAMES if male else FEMALE_NAMES) if n not in used]
        if relation == "unknown":
            stranger += 1
            name = f"Unknown {stranger}"
        else:
            name = str(rng.choice(names))
            used.add(name)
        height, weight, body_type, build = _body(rng, age)
        people.append(
            Person(
                tag_id=tag_id, name=name, relation=relation, in_graph=relation != "unknown", age=age,
                age_band=age_band(age), height_cm=height, weight_kg=weight, body_type=body_type, build=build,
                face_key=int(face), clothing_rgb=tuple(int(c) for c in rng.integers(30, 226, size=3)),
            )
        )
    return people


def edge_probability(a: str, b: str) -> float:
    """P(edge) between two people by closeness (S1.1.1)."""
    if "self" in (a, b):
        other = b if a == "self" else a
        return CLOSENESS[other]
    if a in KIN and b in KIN:
        return 0.8
    if a == b == "friend":
        return 0.45
    if a == b == "colleague":
        return 0.5
    return 0.1


def draw_social_edges(rng: np.random.Generator, people: list[Person]) -> list[tuple[int, int, float]]:
    """(tag_a, tag_b, closeness) with tag_a < tag_b, over the graph members and self."""
    members = [p for p in people if p.in_graph]
    edges = []
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            p = edge_probability(a.relation, b.relation)
            if rng.random() < p:
                edges.append((a.tag_id, b.tag_id, round(p, 3)))
    return edges
