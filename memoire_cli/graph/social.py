"""Social boost social_uv for person–person edges (S1.2.2, equation (2)).

Relations ρ are relative to the *user* (synth's 12 labels: self, father, mother, spouse, son,
daughter, sibling, grandparent, cousin, friend, colleague, unknown), while (2) classifies the relation
*between two people*. We map an unordered pair of user-relative labels to a class, first rule wins:

1. **unknown** (ω_unk): either person is ``unknown`` (a stranger, an unlabelled face) or has no
   or an unrecognised relation.
2. **work** (ω_work): either person is a ``colleague`` ("colleagues"; a colleague's tie to anyone
   in the user's gallery is a work tie).
3. **kin** (ω_kin), "close kin (self–parent, parent–child)":

   * both are in the close family C = {self, father, mother, spouse, son, daughter}, except two
     children (son/daughter with son/daughter: they are siblings, rule 4). This covers self–parent,
     self–child and self–spouse, parent–parent and spouse–child (the couples of the household and
     their children) and, as the worked example of S1.2.2 requires, Father–Daughter and
     Father–Mother (the family roles of one household);
   * a parent of the user with a sibling of the user (their child), and a grandparent with a parent
     of the user (their child).
4. **friend/sibling** (ω_friend): any other pair inside the family F = C ∪ {sibling, grandparent,
   cousin} (self–sibling, siblings, children together, extended family: self–grandparent,
   cousins …), and self–friend, friend–friend.
5. **weak** (ω_unk): the rest, i.e. a friend with a family member other than the user (two
   circles of the user who are not tied to each other).

Non-person edges get 0. The ``social_edges`` table is deliberately not used: the boost depends on
relation labels alone, so galleries without a drawn social graph (``memoire ingest``) get the same
treatment, and a pair's boost never depends on a random draw.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.vocabulary import RELATIONS

KIN, FRIEND, WORK, UNK = 0, 1, 2, 3
CLASS_NAMES = ("kin", "friend", "work", "unknown")

CLOSE_FAMILY = frozenset({"self", "father", "mother", "spouse", "son", "daughter"})
CHILDREN = frozenset({"son", "daughter"})
PARENTS = frozenset({"father", "mother"})
FAMILY = CLOSE_FAMILY | {"sibling", "grandparent", "cousin"}
#: Relations b (7) favours: the user, and close kin.
BIAS_KIN = frozenset({"father", "mother", "spouse", "son", "daughter"})


def relation_class(a: str | None, b: str | None) -> int:
    """Class (KIN, FRIEND, WORK, UNK) of a pair of people given their relations to the user."""
    if a not in RELATIONS or b not in RELATIONS or "unknown" in (a, b):
        return UNK
    if "colleague" in (a, b):
        return WORK
    pair = {a, b}
    if pair <= CLOSE_FAMILY and not (a in CHILDREN and b in CHILDREN):
        return KIN
    if (a in PARENTS and b == "sibling") or (b in PARENTS and a == "sibling"):
        return KIN
    if (a in PARENTS and b == "grandparent") or (b in PARENTS and a == "grandparent"):
        return KIN
    if pair <= FAMILY or pair <= {"self", "friend"}:
        return FRIEND
    return UNK


def class_table() -> np.ndarray:
    """(R, R) int8 class of every pair of relation labels, R = len(RELATIONS); symmetric."""
    return np.array([[relation_class(a, b) for b in RELATIONS] for a in RELATIONS], dtype=np.int8)


def relation_index(relations: np.ndarray) -> np.ndarray:
    """(T,) object/str relations → (T,) int64 index into RELATIONS; unknown or missing → 'unknown'."""
    lookup = {r: i for i, r in enumerate(RELATIONS)}
    unk = lookup["unknown"]
    return np.fromiter((lookup.get(r, unk) for r in relations), dtype=np.int64, count=len(relations))


def social_boost(rel_u: np.ndarray, rel_v: np.ndarray, person_pair: np.ndarray, omegas: tuple[float, float, float, float]) -> np.ndarray:
    """social_uv (2) for E edges.

    rel_u, rel_v: (E,) int indices into RELATIONS; person_pair: (E,) bool, both ends people.
    Returns (E,) float64: ω of the pair's class for person–person edges, 0 otherwise.
    """
    values = np.asarray(omegas, dtype=np.float64)[class_table()]  # (R, R)
    return np.where(person_pair, values[rel_u, rel_v], 0.0)
