"""Planning one virtual user's gallery: everything but the pixels (S1.1.1–S1.1.3, S1.1.5, S1.1.7).

:func:`plan_user` is a pure function of (run seed, user index, configuration): people, places,
events, every still and kept video frame with its tags, shot plan, lighting, camera imperfections,
capture time, seed and prompt, the hidden preferences and the behaviour and true scores drawn from
them. Rendering (:mod:`memoire_cli.synth.render`) turns the image plans into pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from memoire_cli.synth import preferences as prefs_mod
from memoire_cli.synth.calendar import Event, Gazetteer, Place, draw_events, photo_times
from memoire_cli.synth.config import SynthConfig, parse_split  # noqa: F401  (re-exported)
from memoire_cli.synth.ontology import SHOT_PLANS
from memoire_cli.synth.people import KIN, Person, draw_people, draw_social_edges
from memoire_cli.synth.preferences import Preferences
from memoire_cli.synth.prompts import clip_prompt, still_prompt

SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))
SHOT_PLAN_P = {"wide establishing": 0.25, "medium group": 0.35, "intimate portrait": 0.25, "detail close-up": 0.15}
CLIP_FPS = 8
CLIP_SECONDS = 5.0
CLIP_SIZE = (640, 360)
FRAME_SAMPLE_FPS = 1
MAX_PEOPLE_IN_SHOT = 6


@dataclass(frozen=True)
class ImagePlan:
    idx: int
    kind: str  # still | video_frame
    event: Event
    clip_id: str | None
    frame_index: int | None
    taken_at: datetime
    people: tuple[Person, ...]
    shot_plan: str
    lighting: str
    blur_sigma: float
    exposure_ev: float
    pan: float
    seed: int
    prompt: str
    width: int
    height: int


@dataclass
class ClipPlan:
    clip_id: str
    event: Event
    start: datetime
    kept_frames: int
    prompt: str


@dataclass
class UserPlan:
    user_id: str
    user_index: int
    split: str
    seed: int
    people: list[Person]
    edges: list[tuple[int, int, float]]
    places: list[Place]
    events: list[Event]
    event_tags: dict[str, int]  # event type → tag id
    images: list[ImagePlan]
    clips: list[ClipPlan]
    preferences: Preferences
    utility: np.ndarray  # (N,) float64
    pis: np.ndarray  # (N,) float64 in [0, 100]
    aesthetic: np.ndarray  # (N,) float64 in [0, 1]
    views: np.ndarray  # (N,) int32
    views_norm: np.ndarray  # (N,) float64
    favourite: np.ndarray  # (N,) bool
    notes: dict = field(default_factory=dict)

    def image_tags(self, plan: ImagePlan) -> list[int]:
        """P(I) ∪ L(I) ∪ E(I) of one image."""
        return [p.tag_id for p in plan.people] + [plan.event.place.tag_id, self.event_tags[plan.event.etype.name]]


def user_id_of(index: int) -> str:
    return f"u{index:04d}"


def split_of(index: int, n_users: int, seed: int, shares: tuple[float, float, float] = (0.8, 0.1, 0.1)) -> str:
    """train/val/test by user over a seeded permutation; ``shares`` default to S1.1.1's 80/10/10."""
    rank = int(np.argsort(np.random.default_rng([seed, 7919]).permutation(n_users))[index])
    bound = 0.0
    for (name, _), share in zip(SPLITS, shares):
        bound += share
        if rank < round(bound * n_users):
            return name
    return SPLITS[-1][0]


def _derive(seed: int, *keys: int) -> int:
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0] & 0x7FFFFFFF)


def _weighted_pick(rng: np.random.Generator, pool: list[Person], size: int, weight: dict[int, float]) -> list[Person]:
    """``size`` of ``pool`` without replacement, P ∝ weight[tag_id] (the composition tilt), in pool order."""
    p = np.array([weight.get(x.tag_id, 1.0) for x in pool], np.float64)
    return [pool[i] for i in sorted(rng.choice(len(pool), size=size, replace=False, p=p / p.sum()))]


def _cast(rng: np.random.Generator, event: Event, people: list[Person], weight: dict[int, float]) -> list[Person]:
    """Who attends an event: kin for personal events, colleagues for work, friends and kin otherwise."""
    graph = [p for p in people if p.in_graph and p.relation != "self"]
    wanted = {
        "personal": KIN,
        "work": {"colleague"},
        "social": {"friend", "sibling", "cousin", "spouse"},
        "travel": {"spouse", "son", "daughter", "friend", "sibling"},
    }[event.etype.category]
    pool = [p for p in graph if p.relation in wanted] or graph
    size = min(len(pool), int(rng.integers(2, 7)))
    return _weighted_pick(rng, pool, size, weight)


def _shot_people(rng: np.random.Generator, shot: str, cast: list[Person], me: Person, strangers: list[Person], crowd: bool,
                 weight: dict[int, float]) -> tuple[Person, ...]:
    lo, hi = {"intimate portrait": (1, 2), "medium group": (2, 4), "wide establishing": (1, 5), "detail close-up": (0, 1)}[shot]
    if shot == "detail close-up" and rng.random() < 0.6:
        return ()
    pool = cast + ([me] if rng.random() < 0.6 else [])
    n = min(len(pool), int(rng.integers(lo, hi + 1)))
    chosen = _weighted_pick(rng, pool, n, weight) if n else []
    if crowd and shot in ("medium group", "wide establishing") and rng.random() < 0.4:
        k = int(rng.integers(1, 3))
        chosen += [strangers[i] for i in sorted(rng.choice(len(strangers), size=k, replace=False))]
    return tuple(chosen[:MAX_PEOPLE_IN_SHOT])


def plan_user(cfg: SynthConfig, index: int) -> UserPlan:
    """The whole gallery of user ``index`` (pixels excepted), deterministic in (cfg, index)."""
    seed = _derive(cfg.seed, index)
    rng = np.random.default_rng(seed)
    people = draw_people(rng, cfg.face_bank_size)
    edges = draw_social_edges(rng, people)
    gazetteer = Gazetteer(rng, first_tag=len(people))
    # the hidden preferences come first, from their own stream: what a user photographs follows them (ℓ_c)
    prefs = prefs_mod.draw_preferences(np.random.default_rng(_derive(seed, 77)), people)
    event_tilt, place_tilt, person_weight = prefs_mod.tilts(prefs, cfg.composition_link)
    events = draw_events(rng, gazetteer, cfg.images_per_user, event_tilt, place_tilt)
    places = gazetteer.places
    event_types = sorted({e.etype.name for e in events}, key=[e.etype.name for e in events].index)
    first_event_tag = len(people) + len(places)
    event_tags = {name: first_event_tag + i for i, name in enumerate(event_types)}
    me = people[0]
    strangers = [p for p in people if not p.in_graph]
    user_id = user_id_of(index)

    drafts: list[dict] = []
    clips: list[ClipPlan] = []
    for event in events:
        erng = np.random.default_rng(_derive(seed, 1000 + event.event_id))
        event_seed = _derive(seed, 2000 + event.event_id)
        cast = _cast(erng, event, people, person_weight)
        times = photo_times(erng, event.start, event.etype.hours, event.n_stills)
        lights = ("tungsten indoor", "daylight") if event.etype.indoor else ("daylight", "golden hour")
        for k, taken in enumerate(times):
            shot = str(erng.choice(SHOT_PLANS, p=[SHOT_PLAN_P[s] for s in SHOT_PLANS]))
            who = _shot_people(erng, shot, cast, me, strangers, event.etype.crowd, person_weight)
            blur = float(erng.uniform(1.0, 3.0)) if erng.random() < 0.2 else 0.0
            drafts.append(dict(kind="still", event=event, clip_id=None, frame_index=None, taken_at=taken, people=who,
                               shot_plan=shot, lighting=str(erng.choice(lights, p=[0.6, 0.4])), blur_sigma=round(blur, 3),
                               exposure_ev=round(float(np.clip(erng.normal(0, 0.35), -1.5, 1.5)), 3), pan=0.0,
                               seed=(event_seed + k) & 0x7FFFFFFF, width=cfg.image_size, height=cfg.image_size))
        if cfg.max_frames_per_clip > 0:
            clip_id = f"{user_id}/c{event.event_id:03d}"
            start = times[int(erng.integers(len(times)))] if times else event.start
            clip_people = tuple(([me] if erng.random() < 0.6 else []) + cast[:3])[:MAX_PEOPLE_IN_SHOT]
            n_frames = int(CLIP_FPS * CLIP_SECONDS)
            sampled = list(range(0, n_frames, CLIP_FPS // FRAME_SAMPLE_FPS))[: cfg.max_frames_per_clip]
            prompt = clip_prompt(event.etype, event.place, list(clip_people))
            clips.append(ClipPlan(clip_id, event, start, len(sampled), prompt))
            frame_w = cfg.image_size
            frame_h = int(round(cfg.image_size * CLIP_SIZE[1] / CLIP_SIZE[0]))
            for f in sampled:
                drafts.append(dict(kind="video_frame", event=event, clip_id=clip_id, frame_index=f,
                                   taken_at=start + timedelta(seconds=f / CLIP_FPS), people=clip_people,
                                   shot_plan="medium group", lighting=lights[0], blur_sigma=0.5, exposure_ev=0.0,
                                   pan=f / n_frames, seed=(event_seed + 100_000) & 0x7FFFFFFF, width=frame_w, height=frame_h))

    drafts.sort(key=lambda d: (d["taken_at"], d["kind"], d["frame_index"] or 0))
    images = []
    for idx, d in enumerate(drafts):
        if d["kind"] == "still":
            prompt = still_prompt(d["event"].etype, d["event"].place, list(d["people"]), d["shot_plan"], d["lighting"])
        else:
            prompt = next(c.prompt for c in clips if c.clip_id == d["clip_id"])
        images.append(ImagePlan(idx=idx, prompt=prompt, **d))

    quality = prefs_mod.aesthetic(np.array([i.blur_sigma for i in images]), np.array([i.exposure_ev for i in images]))
    u = prefs_mod.utility(
        prefs,
        [tuple(p.tag_id for p in i.people) for i in images],
        [i.event.etype for i in images],
        [i.event.place.kind for i in images],
        [i.shot_plan for i in images],
        quality,
        rng,
    )
    views, views_norm, favourite = prefs_mod.behaviour(rng, u, [tuple(p.relation for p in i.people) for i in images], [i.event.etype for i in images],
                                                     cfg.views_link, cfg.favourite_link)
    return UserPlan(
        user_id=user_id, user_index=index, split=split_of(index, cfg.users, cfg.seed, cfg.split), seed=seed, people=people,
        edges=edges, places=places, events=events, event_tags=event_tags, images=images, clips=clips,
        preferences=prefs, utility=u, pis=prefs_mod.pis_from_utility(u), aesthetic=quality, views=views,
        views_norm=views_norm, favourite=favourite,
    )


