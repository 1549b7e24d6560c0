"""Events, places and time: the per-user gazetteer and the 18-month calendar (S1.1.2, S1.1.3, S1.1.7).

* Event types: Dirichlet(α = 0.4) weights over the event types, 8–14 event instances drawn from
  them (so a few types dominate), n_e ~ U{20, 40} stills each plus one clip.
* Event starts: a non-homogeneous Poisson process over 18 months with weekly (weekend) and seasonal
  (summer for outdoor/travel, December for family) boosts, sampled by thinning; holidays tied to
  their month (Christmas, Halloween, New Year …).
* Inside an event, photos are bursty: log-normal inter-arrival times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from memoire_cli.synth.ontology import EVENT_TYPES, LANDMARKS, LOCATION_BY_NAME, EventType

CALENDAR_MONTHS = 18
#: The gallery's "today" (users.now). Fixed so that galleries are reproducible.
GALLERY_NOW = datetime(2025, 7, 1, 12, 0, 0)
DIRICHLET_ALPHA = 0.4
STILLS_PER_EVENT = (20, 40)
EVENTS_PER_USER = (8, 14)
#: Log-normal inter-arrival of photos inside a burst: median 90 s.
BURST_LOG_MU = float(np.log(90.0))
BURST_LOG_SIGMA = 1.0


@dataclass(frozen=True)
class Place:
    tag_id: int
    kind: str
    phrase: str
    visual_anchor: str | None


@dataclass(frozen=True)
class Event:
    event_id: int
    etype: EventType
    place: Place
    start: datetime
    end: datetime
    n_stills: int


class Gazetteer:
    """The user's places (S1.1.7): one home and one office, then venues created as events need them."""

    def __init__(self, rng: np.random.Generator, first_tag: int):
        self._rng = rng
        self._next_tag = first_tag
        self.places: list[Place] = []
        self._landmarks = [LANDMARKS[i] for i in rng.permutation(len(LANDMARKS))]
        self.get("home")
        self.get("office")

    def get(self, kind: str) -> Place:
        """A place of this kind: personal places are unique, public venues are reused or added."""
        existing = [p for p in self.places if p.kind == kind]
        spec = LOCATION_BY_NAME[kind]
        reuse = 1.0 if spec.personal else 0.6
        if existing and (self._rng.random() < reuse or kind == "landmark" and not self._landmarks):
            return existing[int(self._rng.integers(len(existing)))]
        if kind == "landmark":
            name, anchor = self._landmarks.pop()
            phrase, visual = name, anchor
        else:
            used = {p.phrase for p in existing}
            options = [ph for ph in spec.phrases if ph not in used] or list(spec.phrases)
            phrase, visual = str(self._rng.choice(options)), None
        place = Place(self._next_tag, kind, phrase, visual)
        self._next_tag += 1
        self.places.append(place)
        return place


def _intensity(t: np.ndarray, etype: EventType) -> np.ndarray:
    """λ(t) of event starts (t in days since the epoch): weekend and seasonal boosts."""
    weekday = np.floor(t + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    weekend = (weekday >= 5).astype(float)
    day_of_year = np.mod(t, 365.25)
    summer = 0.5 * (1 + np.cos(2 * np.pi * (day_of_year - 196) / 365.25))  # peaks mid-July
    december = np.exp(-(((day_of_year - 350) / 12.0) ** 2))
    seasonal = summer if (etype.category == "travel" or not etype.indoor) else 0.4 * december
    return 1.0 + 1.5 * weekend + 1.2 * seasonal


def _start_time(rng: np.random.Generator, etype: EventType, lo: datetime, hi: datetime) -> datetime:
    epoch = datetime(1970, 1, 1)
    t0, t1 = (lo - epoch).total_seconds() / 86400, (hi - epoch).total_seconds() / 86400
    if etype.months:
        days = np.arange(np.ceil(t0), np.floor(t1))
        months = np.array([(epoch + timedelta(days=float(d))).month for d in days])
        ok = days[np.isin(months, etype.months)]
        if etype.name == "Christmas":
            ok = ok[[20 <= (epoch + timedelta(days=float(d))).day <= 26 for d in ok]] if len(ok) else ok
        if etype.name == "Halloween":
            ok = ok[[(epoch + timedelta(days=float(d))).day >= 25 for d in ok]] if len(ok) else ok
        day = float(rng.choice(ok)) if len(ok) else float(rng.uniform(t0, t1 - 1))
    else:
        bound = 1.0 + 1.5 + 1.2
        while True:  # thinning
            day = float(np.floor(rng.uniform(t0, t1 - 1)))
            if rng.random() * bound <= _intensity(np.array([day]), etype)[0]:
                break
    hour = {"work": 9.0}.get(etype.category, 10.0) + rng.uniform(0, 8)
    if etype.name in ("Family Dinner", "Music Concert", "City Night Walk", "New Year Celebration", "Anniversary"):
        hour = 18.0 + rng.uniform(0, 3)
    return epoch + timedelta(days=day, hours=float(hour))


def photo_times(rng: np.random.Generator, start: datetime, hours: float, n: int) -> list[datetime]:
    """n capture times inside an event: log-normal bursts; multi-day events burst once per day."""
    days = max(1, int(hours // 24))
    day_of = np.sort(rng.integers(0, days, size=n))
    times: list[datetime] = []
    for d in range(days):
        k = int((day_of == d).sum())
        if not k:
            continue
        gaps = rng.lognormal(BURST_LOG_MU, BURST_LOG_SIGMA, size=k)
        offsets = np.cumsum(gaps) - gaps[0]
        span = min(hours, 10.0) * 3600
        if offsets[-1] > span:
            offsets *= span / offsets[-1]
        day_start = start + timedelta(days=d) if d else start
        if d:
            day_start = day_start.replace(hour=9) + timedelta(hours=float(rng.uniform(0, 3)))
        times += [day_start + timedelta(seconds=float(o)) for o in offsets]
    return times


def allocate(counts: np.ndarray, total: int) -> np.ndarray:
    """Scale integer counts to sum to ``total`` (largest remainder), at least 1 each when possible."""
    if total >= len(counts):
        share = counts / counts.sum() * (total - len(counts))
        base = np.floor(share).astype(int)
        rest = total - len(counts) - base.sum()
        order = np.argsort(-(share - base), kind="stable")
        base[order[:rest]] += 1
        return base + 1
    keep = np.zeros(len(counts), dtype=int)
    keep[np.argsort(-counts, kind="stable")[:total]] = 1
    return keep


def draw_events(rng: np.random.Generator, gazetteer: Gazetteer, stills_total: int | None,
                event_tilt: dict[str, float] | None = None, place_tilt: dict[str, float] | None = None) -> list[Event]:
    """The user's event instances in time order, with places and still counts (S1.1.2).

    ``event_tilt`` (event type → factor) multiplies the Dirichlet(0.4) weights and ``place_tilt`` (location
    kind → factor) the venue probabilities before they are renormalised: the hidden preferences' share in
    what a user photographs (:func:`memoire_cli.synth.preferences.tilts`). None leaves S1.1.2 as written.
    """
    weights = rng.dirichlet(np.full(len(EVENT_TYPES), DIRICHLET_ALPHA))
    if event_tilt is not None:
        weights = weights * np.array([event_tilt[e.name] for e in EVENT_TYPES])
        weights = weights / weights.sum()
    n_events = int(rng.integers(EVENTS_PER_USER[0], EVENTS_PER_USER[1] + 1))
    types = [EVENT_TYPES[i] for i in rng.choice(len(EVENT_TYPES), size=n_events, p=weights)]
    counts = rng.integers(STILLS_PER_EVENT[0], STILLS_PER_EVENT[1] + 1, size=n_events)
    if stills_total is not None:
        counts = allocate(counts.astype(float), stills_total)
    hi = GALLERY_NOW - timedelta(days=1)
    lo = GALLERY_NOW - timedelta(days=int(CALENDAR_MONTHS * 30.44))
    drafts = []
    for etype, n in zip(types, counts):
        kinds = etype.locations
        kind_p = np.array([0.6 ** i * (place_tilt[k] if place_tilt is not None else 1.0) for i, k in enumerate(kinds)])
        place = gazetteer.get(str(rng.choice(kinds, p=kind_p / kind_p.sum())))
        start = _start_time(rng, etype, lo, hi)
        hours = float(etype.hours * rng.uniform(0.6, 1.4))
        drafts.append((start, etype, place, hours, int(n)))
    kept = sorted((d for d in drafts if d[4] > 0), key=lambda d: d[0])
    return [
        Event(i, etype, place, start, min(start + timedelta(hours=hours), GALLERY_NOW), n)
        for i, (start, etype, place, hours, n) in enumerate(kept)
    ]
