"""Who is who: the relations file, and keyword hierarchies read as people, events and places.

**Relations file** (``--relations FILE``), YAML or CSV, name → relation ρ_t, one of the labels of
S1.2.1/S1.1.1 that ``synth`` and ``graph`` use (:data:`memoire_cli.vocabulary.RELATIONS`;
common synonyms such as mom, dad, wife, brother, grandma are accepted)::

    Alice: self
    Bob: spouse
    Carol: {relation: mother, reference: 2023/carol.jpg}   # reference face override

    name,relation,reference            # CSV: a header row is optional, reference may be empty
    Alice,self,

``reference`` names a photo (relative to the photo folder, or absolute): the person's enrolment
face is taken from it (their named region there, else the whole photo) instead of being chosen.

**Keyword hierarchies** (``lr:hierarchicalSubject`` ``A|B|C``, ``digiKam:TagsList`` ``A/B/C``):

* under a people root (People, Persons, Person, Family, Friends, Faces): the leaf is a person's
  name; the deepest level naming a relation gives ρ_t (``People/Family/Mother/Ann`` → Ann,
  mother; ``People/Family/Mother`` → a person called Mother, mother); a relation from the file wins;
* under an event root (Events, Event, Occasions): the leaf is an event's name;
* under a place root (Places, Place, Locations, Location): the leaf is a place's name.

Flat keywords (``dc:subject``, IPTC 2:25) naming one of the 33 event types (:data:`memoire_cli.vocabulary.EVENT_NAMES`) (case-insensitive)
are read as that event. Everything else is left alone.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from memoire_cli.bounded import MAX_LIST_BYTES, BoundedReadError, read_text_capped
from memoire_cli.errors import UsageError
from memoire_cli.vocabulary import EVENT_NAMES, RELATIONS

PEOPLE_ROOTS = frozenset({"people", "persons", "person", "family", "friends", "faces"})
EVENT_ROOTS = frozenset({"events", "event", "occasions"})
PLACE_ROOTS = frozenset({"places", "place", "locations", "location"})

#: Words people use for a relation → the label (every label maps to itself, plurals too).
SYNONYMS = {
    "me": "self", "myself": "self", "self": "self",
    "dad": "father", "daddy": "father", "papa": "father", "mom": "mother", "mum": "mother", "mommy": "mother",
    "mummy": "mother", "mama": "mother", "parents": None,
    "wife": "spouse", "husband": "spouse", "partner": "spouse", "spouse/partner": "spouse",
    "brother": "sibling", "sister": "sibling", "brothers": "sibling", "sisters": "sibling", "siblings": "sibling",
    "sons": "son", "daughters": "daughter", "children": None, "kids": None,
    "grandma": "grandparent", "grandpa": "grandparent", "grandmother": "grandparent", "grandfather": "grandparent",
    "grandparents": "grandparent", "granny": "grandparent",
    "cousins": "cousin", "friends": "friend", "colleagues": "colleague", "coworker": "colleague",
    "co-worker": "colleague", "coworkers": "colleague", "work": "colleague", "strangers": "unknown",
}


def relation_labels() -> tuple[str, ...]:
    return RELATIONS


def relation_of(word: str) -> str | None:
    """The relation label a word names, or None."""
    w = word.strip().lower()
    if w in relation_labels():
        return w
    return SYNONYMS.get(w)


@dataclass(frozen=True)
class Person:
    relation: str
    reference: Path | None = None


def load_relations(path: Path, photos: Path) -> dict[str, Person]:
    """Parse a relations file (YAML or CSV by extension; YAML otherwise). Raises :class:`UsageError`."""
    if not path.is_file():
        raise UsageError(f"--relations {path}: no such file")
    try:
        text = read_text_capped(path, MAX_LIST_BYTES)
    except OSError as exc:
        raise UsageError(f"--relations {path}: cannot read it ({exc.strerror or exc.__class__.__name__})") from None
    except BoundedReadError as exc:
        raise UsageError(f"--relations {path}: {exc}") from None
    rows: list[tuple[str, str, str | None]] = []
    if path.suffix.lower() in (".csv", ".tsv"):
        reader = csv.reader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
        for i, rec in enumerate(reader):
            rec = [c.strip() for c in rec]
            if not rec or not any(rec) or rec[0].startswith("#"):
                continue
            if i == 0 and rec[0].lower() == "name":
                continue
            if len(rec) < 2:
                raise UsageError(f"--relations {path}: line {i + 1}: expected name,relation[,reference]")
            rows.append((rec[0], rec[1], rec[2] if len(rec) > 2 and rec[2] else None))
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"--relations {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise UsageError(f"--relations {path}: expected a mapping of name → relation")
        for name, value in data.items():
            if isinstance(value, str):
                rows.append((str(name), value, None))
            elif isinstance(value, dict) and isinstance(value.get("relation"), str):
                ref = value.get("reference")
                if ref is not None and not isinstance(ref, str):
                    raise UsageError(f"--relations {path}: {name}: reference must be a path")
                rows.append((str(name), value["relation"], ref))
            else:
                raise UsageError(f"--relations {path}: {name}: expected a relation or {{relation: …, reference: …}}")
    out: dict[str, Person] = {}
    for name, rel, ref in rows:
        label = relation_of(rel)
        if not name.strip():
            raise UsageError(f"--relations {path}: an empty name")
        if label is None:
            raise UsageError(f"--relations {path}: {name}: unknown relation {rel!r} (one of {', '.join(relation_labels())})")
        reference = None
        if ref:
            reference = Path(ref) if Path(ref).is_absolute() else photos / ref
            if not reference.is_file():
                raise UsageError(f"--relations {path}: {name}: reference photo {ref} not found")
        out[name.strip()] = Person(label, reference)
    selves = [n for n, p in out.items() if p.relation == "self"]
    if len(selves) > 1:
        raise UsageError(f"--relations {path}: more than one person is self ({', '.join(selves)})")
    return out


@dataclass(frozen=True)
class KeywordMeaning:
    """What a photo's keywords say: people (name → relation or None), events, places."""

    people: dict[str, str | None]
    events: tuple[str, ...]
    places: tuple[str, ...]


def interpret_keywords(paths: tuple[tuple[str, ...], ...], flat: tuple[str, ...]) -> KeywordMeaning:
    """Read hierarchical keyword paths (root first) and flat keywords (module docstring)."""
    people: dict[str, str | None] = {}
    events: list[str] = []
    places: list[str] = []
    for path in paths:
        root = path[0].strip().lower()
        if len(path) < 2:
            continue
        if root in PEOPLE_ROOTS:
            relation = None
            for level in path[1:]:
                relation = relation_of(level) or relation
            if relation is None and root != "people":
                relation = relation_of(root)
            people[path[-1]] = relation
        elif root in EVENT_ROOTS:
            events.append(path[-1])
        elif root in PLACE_ROOTS:
            places.append(path[-1])
    names = {name.lower(): name for name in EVENT_NAMES}
    for word in flat:
        hit = names.get(word.strip().lower())
        if hit and hit not in events:
            events.append(hit)
    return KeywordMeaning(people, tuple(dict.fromkeys(events)), tuple(dict.fromkeys(places)))
