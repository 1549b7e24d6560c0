"""Hidden preferences of a virtual user, and what they drive: behaviour and true impact (S1.1.3).

Each user has an archetype (family-centric, travel-centric, mixed) and, from it plus per-user noise,
affinities for each person, event type and place kind, and a weight on aesthetics. An image's
latent utility mixes the affinities of what it shows, weighted by how prominent the shot plan makes
them, with its aesthetic quality. From the utility:

* the true personal-impact score PIS = 100 · min–max(utility) per user (hidden; `eval` only);
* views v ~ N(μ · m, σ), μ and σ from the S1.1.3 tables for the image's people and event, with
  m = exp(ℓ_v · z(utility)) normalised to mean 1 per user; clamped ≥ 0 and normalised per user;
* favourites q ~ Bernoulli(p · m'), p = the S1.1.3 probability of its closest person or of its event
  (0.6 for landmarks and ceremonies), m' = exp(ℓ_q · z(utility)) with mean 1, clipped to [0.02, 0.95].

ℓ_v (``--views-link``) and ℓ_q (``--favourite-link``) tie behaviour to the hidden utility of the image.
S1.1.3 draws views and favourites *by tag* only (v_t ~ N(μ_t, σ_t), q_t ~ Bernoulli(p_t)), so both
default to 0: an image's views then say which people and events it shows, not how much this user
likes this shot. At ℓ_v = 0.6 (the default before synth code version 2) SRCC(views, PIS) is ≈ 0.87
and "most viewed" is close to an oracle; `benchmarks/quality.py` measures both worlds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from memoire_cli.synth.ontology import (
    CLOSENESS,
    EVENT_TYPES,
    FAVOURITE_P,
    LOCATION_KINDS,
    VIEWS_BY_RELATION,
    EventType,
    event_favourite_p,
)

ARCHETYPES = ("family-centric", "travel-centric", "mixed")
ARCHETYPE_P = (0.4, 0.3, 0.3)
FAMILY = frozenset({"self", "father", "mother", "spouse", "son", "daughter", "sibling", "grandparent", "cousin"})
TRAVEL_PLACES = frozenset({"landmark", "beach", "mountain", "highway", "hotel", "museum"})

#: Share of an image's salience that goes to people, its event and its place, by shot plan.
PROMINENCE = {
    "intimate portrait": (0.8, 0.1, 0.1),
    "medium group": (0.6, 0.2, 0.2),
    "wide establishing": (0.3, 0.2, 0.5),
    "detail close-up": (0.15, 0.7, 0.15),
}


@dataclass(frozen=True)
class Preferences:
    archetype: str
    person: dict[int, float]  # tag_id → affinity
    event: dict[str, float]  # event type → affinity
    place: dict[str, float]  # location kind → affinity
    aesthetic_weight: float

    def as_json(self) -> dict:
        return {
            "archetype": self.archetype,
            "person": {str(k): round(v, 4) for k, v in self.person.items()},
            "event": {k: round(v, 4) for k, v in self.event.items()},
            "place": {k: round(v, 4) for k, v in self.place.items()},
            "aesthetic_weight": round(self.aesthetic_weight, 4),
        }


def draw_preferences(rng: np.random.Generator, people: list) -> Preferences:
    archetype = str(rng.choice(ARCHETYPES, p=ARCHETYPE_P))
    kin_gain, travel_gain = {"family-centric": (1.6, 0.6), "travel-centric": (0.7, 1.8), "mixed": (1.0, 1.0)}[archetype]
    person = {}
    for p in people:
        base = CLOSENESS[p.relation] * (kin_gain if p.relation in FAMILY else 1.0)
        person[p.tag_id] = float(base * rng.lognormal(0, 0.3))
    event = {}
    for e in EVENT_TYPES:
        gain = {"personal": kin_gain, "travel": travel_gain, "social": 1.0, "work": 0.5}[e.category]
        base = 0.5 * gain * (1.4 if e.milestone else 1.0)
        event[e.name] = float(base * rng.lognormal(0, 0.35))
    place = {}
    for k in LOCATION_KINDS:
        gain = travel_gain if k.name in TRAVEL_PLACES else (kin_gain if k.name == "home" else 0.8)
        place[k.name] = float(0.5 * gain * rng.lognormal(0, 0.3))
    return Preferences(archetype, person, event, place, float(rng.uniform(0.15, 0.35)))


def tilts(prefs: Preferences, link: float) -> tuple[dict[str, float], dict[str, float], dict[int, float]]:
    """What a user photographs follows what they care about: factors (affinity / mean affinity)^ℓ_c.

    Returns factors by event type, by location kind and by person tag (ℓ_c = ``--composition-link``).
    They tilt the event-type weights and venues of :func:`memoire_cli.synth.calendar.draw_events` and who
    is cast in an event and framed in a shot (:mod:`memoire_cli.synth.gallery`). ℓ_c = 0 gives factors of 1
    (the gallery is independent of the preferences, as before synth code version 2).
    """
    def scaled(aff: dict) -> dict:
        mean = float(np.mean(list(aff.values()))) if aff else 1.0
        return {k: float((v / mean) ** link) if mean > 0 else 1.0 for k, v in aff.items()}

    return scaled(prefs.event), scaled(prefs.place), scaled(prefs.person)


def aesthetic(blur_sigma: np.ndarray, exposure_ev: np.ndarray) -> np.ndarray:
    """Quality in [0, 1] from the camera imperfections: sharp and well exposed is 1."""
    return np.exp(-np.asarray(blur_sigma) / 1.5) * np.exp(-np.abs(np.asarray(exposure_ev)))


def utility(prefs: Preferences, people_tags: list[tuple[int, ...]], events: list[EventType], place_kinds: list[str],
            shot_plans: list[str], quality: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Latent utility per image: (N,) float64."""
    u = np.empty(len(shot_plans))
    for i, (tags, etype, kind, plan) in enumerate(zip(people_tags, events, place_kinds, shot_plans)):
        w_people, w_event, w_place = PROMINENCE[plan]
        aff = sorted((prefs.person[t] for t in tags), reverse=True)
        people_term = (aff[0] + 0.3 * sum(aff[1:])) if aff else 0.0
        u[i] = w_people * people_term + w_event * prefs.event[etype.name] + w_place * prefs.place[kind]
    u = (1 - prefs.aesthetic_weight) * u + prefs.aesthetic_weight * quality
    return u + rng.normal(0, 0.03, size=len(u))


def pis_from_utility(u: np.ndarray) -> np.ndarray:
    """PIS in [0, 100]: per-user min–max of the utility (the spec's per-participant normalisation, S2.1)."""
    span = u.max() - u.min()
    return np.clip(100.0 * (u - u.min()) / span, 0.0, 100.0) if span > 0 else np.full_like(u, 50.0)


def _zscore(u: np.ndarray) -> np.ndarray:
    sd = u.std()
    return np.clip((u - u.mean()) / sd, -2.5, 2.5) if sd > 0 else np.zeros_like(u)


def behaviour(rng: np.random.Generator, u: np.ndarray, relations: list[tuple[str, ...]], events: list[EventType],
              views_link: float = 0.0, favourite_link: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (int), normalised views and favourites per image (S1.1.3), tied to the utility by the links."""
    z = _zscore(u)
    mu = np.empty(len(u))
    sigma = np.empty(len(u))
    p_fav = np.empty(len(u))
    for i, (rels, etype) in enumerate(zip(relations, events)):
        known = [r for r in rels if r != "unknown"]
        candidates = [VIEWS_BY_RELATION[r] for r in known] + [etype.views]
        mu[i], sigma[i] = max(candidates)
        p_fav[i] = max([FAVOURITE_P[r] for r in known] + [event_favourite_p(etype)])
    m_views = np.exp(views_link * z) / np.exp(views_link * z).mean()  # mean 1: S1.1.3's μ holds on average
    m_fav = np.exp(favourite_link * z) / np.exp(favourite_link * z).mean()
    views = np.maximum(0.0, rng.normal(mu * m_views, sigma)).round().astype(np.int32)
    top = views.max()
    views_norm = views / top if top > 0 else np.zeros(len(u))
    favourite = rng.random(len(u)) < np.clip(p_fav * m_fav, 0.02, 0.95)
    return views, views_norm.astype(np.float64), favourite
