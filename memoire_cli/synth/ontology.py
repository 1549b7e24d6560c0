"""The simulator's priors over the tag vocabulary: relations, event types, locations, shot plans (S1.1.1–S1.1.7).

The vocabulary itself (relation labels, event-type names, tag types) and its spec readings are in
:mod:`memoire_cli.vocabulary`, shared with the real-photo path; here are only what ``memoire synth``
draws from. Everything here is a constant shared by every user; per-user choices are drawn in
:mod:`memoire_cli.synth.people`, :mod:`memoire_cli.synth.calendar` and :mod:`memoire_cli.synth.gallery`.
:data:`EVENT_TYPES` gives priors for every one of :data:`memoire_cli.vocabulary.EVENT_NAMES`, in its order
(checked by a test).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The relations (of :data:`memoire_cli.vocabulary.RELATIONS`) a social-graph node can have (S1.1.1);
#: "self" and "unknown" are not drawn.
GRAPH_RELATIONS: tuple[str, ...] = (
    "father", "mother", "spouse", "son", "daughter", "sibling",
    "friend", "colleague", "grandparent", "cousin",
)

#: Closeness of a relation to the user, in (0, 1]: drives edge probabilities (self–parent >
#: parent–child > friend > colleague, S1.1.1), how often a person is photographed, and views.
CLOSENESS: dict[str, float] = {
    "self": 1.0, "spouse": 0.95, "son": 0.95, "daughter": 0.95, "father": 0.9, "mother": 0.9,
    "sibling": 0.75, "grandparent": 0.7, "cousin": 0.5, "friend": 0.55, "colleague": 0.3,
    "unknown": 0.05,
}

#: Favourite probability p_t by relation (S1.1.3): 0.7 self/spouse/children, 0.45 parents/siblings,
#: 0.3 friends, 0.2 colleagues. Grandparents follow parents and cousins follow friends (our reading).
FAVOURITE_P: dict[str, float] = {
    "self": 0.7, "spouse": 0.7, "son": 0.7, "daughter": 0.7,
    "father": 0.45, "mother": 0.45, "sibling": 0.45, "grandparent": 0.45,
    "cousin": 0.3, "friend": 0.3, "colleague": 0.2, "unknown": 0.1,
}
#: p_t for location/event tags: 0.6 for travel landmarks and ceremonies (S1.1.3), else this base.
FAVOURITE_P_EVENT_BASE = 0.25
FAVOURITE_P_EVENT_SPECIAL = 0.6

#: Views v_t ~ N(μ, σ) by relation (S1.1.3: larger for close kin, lower for work).
VIEWS_BY_RELATION: dict[str, tuple[float, float]] = {
    "self": (110, 35), "spouse": (120, 35), "son": (130, 40), "daughter": (130, 40),
    "father": (100, 30), "mother": (100, 30), "sibling": (80, 25), "grandparent": (85, 25),
    "cousin": (55, 20), "friend": (60, 20), "colleague": (30, 10), "unknown": (20, 8),
}

SHOT_PLANS: tuple[str, ...] = ("wide establishing", "medium group", "intimate portrait", "detail close-up")
LIGHTING: tuple[str, ...] = ("daylight", "golden hour", "tungsten indoor")


@dataclass(frozen=True)
class EventType:
    """One of the S1.1.2 event types, with the generator's priors for it."""

    name: str
    category: str  # personal | social | travel | work
    locations: tuple[str, ...]  # location kinds it happens at (first = most likely)
    views: tuple[float, float]  # (μ, σ) of views for the event (S1.1.3)
    props: tuple[str, ...]  # what the procedural renderer draws (and the SD3 prompt's visual details)
    hours: float  # typical duration
    milestone: bool = False  # milestone events: larger views (S1.1.3)
    ceremony: bool = False  # ceremonies: favourite p 0.6 (S1.1.3)
    months: tuple[int, ...] = ()  # calendar months it is tied to (empty = any time)
    indoor: bool = True
    crowd: bool = False  # strangers appear


EVENT_TYPES: tuple[EventType, ...] = (
    EventType("Birthday", "personal", ("home", "restaurant"), (120, 35), ("cake", "candles", "balloons", "gifts"), 4, milestone=True),
    EventType("Wedding", "social", ("banquet hall", "place of worship", "garden"), (150, 40), ("wedding arch", "flowers", "rings"), 10,
              milestone=True, ceremony=True, crowd=True),
    EventType("Anniversary", "personal", ("restaurant", "home"), (110, 30), ("cake", "roses", "glasses"), 4, milestone=True),
    EventType("Graduation", "personal", ("university", "school"), (150, 40), ("cap and gown", "diploma", "podium"), 5,
              milestone=True, ceremony=True, months=(5, 6), crowd=True),
    EventType("Family Dinner", "personal", ("home", "restaurant"), (70, 20), ("dining table", "plates"), 3),
    EventType("Vacation", "travel", ("beach", "landmark", "mountain", "hotel"), (90, 30), ("suitcase", "sun hat"), 96,
              months=(6, 7, 8, 12), indoor=False),
    EventType("Picnic", "social", ("park",), (60, 20), ("picnic basket", "checkered blanket"), 4, months=(4, 5, 6, 7, 8, 9), indoor=False),
    EventType("Hiking", "travel", ("mountain", "park"), (60, 20), ("backpack", "trekking poles"), 6, indoor=False),
    EventType("Sports Match", "social", ("stadium",), (50, 15), ("scoreboard", "ball", "goalpost"), 3, indoor=False, crowd=True),
    EventType("Music Concert", "social", ("concert hall", "stadium"), (60, 20), ("stage lights", "microphone", "guitar"), 4, crowd=True),
    EventType("Festival", "social", ("city street", "home"), (80, 25), ("string lights", "lamps", "colour powder"), 8,
              months=(3, 10, 11), crowd=True),
    EventType("Religious Ceremony", "personal", ("place of worship",), (90, 25), ("idol", "lamps", "flowers"), 3, ceremony=True, crowd=True),
    EventType("Baby Shower", "personal", ("home",), (110, 30), ("balloons", "gifts", "banner"), 4, milestone=True),
    EventType("Farewell Party", "work", ("office", "restaurant"), (40, 12), ("banner", "cake"), 3),
    EventType("Office Meeting", "work", ("office",), (30, 10), ("whiteboard", "laptop"), 1),
    EventType("Conference Talk", "work", ("conference hall",), (35, 12), ("podium", "projector screen"), 2, crowd=True),
    EventType("Award Ceremony", "work", ("conference hall", "banquet hall"), (90, 25), ("trophy", "podium", "medal"), 3,
              milestone=True, ceremony=True, crowd=True),
    EventType("Team Outing", "work", ("restaurant", "park"), (40, 12), ("glasses", "plates"), 5),
    EventType("Reunion", "personal", ("home", "garden"), (100, 30), ("dining table", "banner"), 6),
    EventType("Housewarming", "personal", ("home",), (80, 25), ("keys", "lamps", "flowers"), 4),
    EventType("New Year Celebration", "social", ("home", "city street"), (70, 20), ("fireworks", "glasses", "confetti"), 5, months=(12, 1)),
    EventType("Christmas", "personal", ("home",), (100, 30), ("christmas tree", "gifts", "santa hat", "string lights"), 6, months=(12,)),
    EventType("Halloween", "social", ("home", "city street"), (60, 20), ("pumpkin", "costume"), 4, months=(10,)),
    EventType("Cultural Parade", "social", ("city street",), (50, 15), ("parade float", "costume", "drums"), 3, indoor=False, crowd=True),
    EventType("Public Lecture", "work", ("conference hall", "university"), (25, 8), ("podium", "projector screen"), 2, crowd=True),
    EventType("Museum Visit", "travel", ("museum",), (50, 15), ("painting", "sculpture"), 3),
    EventType("Beach Day", "travel", ("beach",), (70, 20), ("beach umbrella", "beach ball", "waves"), 6, months=(5, 6, 7, 8, 9), indoor=False),
    EventType("Road Trip", "travel", ("highway", "mountain"), (60, 20), ("car", "map"), 30, indoor=False),
    EventType("Travel Landmark", "travel", ("landmark",), (110, 35), ("monument", "selfie stick"), 6, ceremony=False, indoor=False),
    EventType("Coffee Shop Gathering", "social", ("cafe",), (35, 12), ("coffee cups", "pastries"), 2),
    EventType("Casual Home Scene", "personal", ("home",), (40, 15), ("sofa", "lamps"), 3),
    EventType("Park Stroll", "social", ("park",), (35, 12), ("park bench", "trees"), 2, indoor=False),
    EventType("City Night Walk", "social", ("city street",), (40, 12), ("street lamps", "shop signs"), 3, indoor=False),
)

EVENT_BY_NAME: dict[str, EventType] = {e.name: e for e in EVENT_TYPES}


def event_favourite_p(event: EventType) -> float:
    """p_t of an event tag (S1.1.3): 0.6 for travel landmarks and ceremonies."""
    special = event.ceremony or event.name == "Travel Landmark"
    return FAVOURITE_P_EVENT_SPECIAL if special else FAVOURITE_P_EVENT_BASE


@dataclass(frozen=True)
class LocationKind:
    """A kind of place in a user's gazetteer (S1.1.7), with the phrases its prompts use."""

    name: str
    phrases: tuple[str, ...]  # location phrases for prompts; one is picked per gazetteer entry
    indoor: bool
    personal: bool  # belongs to the user (home, office, school) rather than a public venue


LOCATION_KINDS: tuple[LocationKind, ...] = (
    LocationKind("home", ("home living room", "home kitchen", "home backyard", "home dining room"), True, True),
    LocationKind("office", ("open-plan office", "office meeting room"), True, True),
    LocationKind("school", ("school auditorium", "school courtyard"), True, True),
    LocationKind("university", ("university auditorium", "university lawn"), True, False),
    LocationKind("park", ("city park", "lakeside park", "botanical garden"), False, False),
    LocationKind("garden", ("backyard garden", "rose garden"), False, False),
    LocationKind("beach", ("sandy beach", "rocky beach cove"), False, False),
    LocationKind("mountain", ("mountain trail", "alpine meadow"), False, False),
    LocationKind("highway", ("coastal highway", "desert road"), False, False),
    LocationKind("restaurant", ("family restaurant", "rooftop restaurant"), True, False),
    LocationKind("cafe", ("corner coffee shop", "bookstore cafe"), True, False),
    LocationKind("banquet hall", ("banquet hall", "wedding hall"), True, False),
    LocationKind("place of worship", ("temple courtyard", "church nave", "mosque courtyard"), True, False),
    LocationKind("stadium", ("football stadium", "cricket ground"), False, False),
    LocationKind("concert hall", ("concert hall", "open-air stage"), True, False),
    LocationKind("conference hall", ("conference hall", "lecture theatre"), True, False),
    LocationKind("museum", ("art museum gallery", "history museum hall"), True, False),
    LocationKind("hotel", ("hotel lobby", "resort poolside"), True, False),
    LocationKind("city street", ("old town street", "downtown avenue"), False, False),
    LocationKind("landmark", ("landmark",), False, False),  # phrases come from LANDMARKS
)

LOCATION_BY_NAME: dict[str, LocationKind] = {k.name: k for k in LOCATION_KINDS}

#: Landmarks and the visual anchors added to prompts when one is chosen (S1.1.7).
LANDMARKS: tuple[tuple[str, str], ...] = (
    ("Arc de Triomphe", "arc de triomphe stone texture"),
    ("Red Fort", "red sandstone fort walls"),
    ("Colosseum", "weathered travertine arches"),
    ("Eiffel Tower", "wrought-iron lattice tower"),
    ("Taj Mahal", "white marble dome and minarets"),
    ("Golden Gate Bridge", "international orange suspension cables"),
    ("Sydney Opera House", "white sail-shaped shells"),
    ("Gateway of India", "basalt arch by the harbour"),
)
