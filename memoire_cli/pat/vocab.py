"""PAT prompt vocabulary: the location templates of Table 2 and the event proxy catalogue of Table 3.

Location grounding (S1.3.3) queries CLIPSeg once per template of Table 2 with the location phrase filled
in; the three logit maps are averaged before σ(·). Event grounding (S1.3.4) queries CLIPSeg once per proxy
phrase r ∈ K(e) of the event's fixed proxy set and averages the soft masks uniformly. The sets are defined
once here and shared across users (S1.3.4, S1.3.7).

``EVENT_PROXY_CATALOGUE`` is Table 3 verbatim: every row, its event name and its phrases exactly as printed
(curly quotes and slashes included; all phrases are used). memoire's 33 event types
(``memoire_cli.vocabulary.EVENT_NAMES``) map onto a Table 3 row where one corresponds
(``CATALOGUE_ROW_FOR_TYPE``); the types with no corresponding row get a proxy set of 3–5 visual phrases
written for this toolkit (``EXTRA_PROXIES``), in the same style (concrete, segmentable things). Those extra
sets are memoire's, not the paper's.

Pure Python: no heavy imports.
"""

from __future__ import annotations

import re

#: Table 2: the location CLIPSeg templates ("{1}" is the location phrase), in the table's order.
LOCATION_TEMPLATES: tuple[str, str, str] = ("a photo of {1}", "the {1} region", "{1} in the scene")

#: Table 3 verbatim: (event, proxy phrases), every row in the table's order.
EVENT_PROXY_CATALOGUE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Birthday", ("birthday cake", "lit candles", "party hats", "balloons", "wrapped gifts", "“Happy Birthday” banner")),
    ("Wedding (generic)", ("bride in wedding dress", "groom in suit/sherwani", "wedding arch/mandap", "flower garlands", "exchanging rings")),
    ("Engagement", ("ring ceremony", "diamond ring close-up", "couple exchanging rings", "decorated stage")),
    ("Anniversary", ("anniversary cake", "number candles", "couple toasting", "bouquet of roses")),
    ("Graduation", ("cap and gown", "graduation cap toss", "diploma", "stage podium")),
    ("Convocation", ("academic regalia", "degree ceremony stage", "tassel", "convocation banner")),
    ("Baby shower", ("baby shower banner", "blue/pink balloons", "gift table", "diaper cake")),
    ("Newborn", ("infant crib", "swaddled baby", "hospital bassinet", "mother holding newborn")),
    ("First birthday", ("smash cake", "high chair", "big number “1”", "pastel balloons")),
    ("Housewarming", ("new home keys", "housewarming pooja/ceremony", "decorative lamp", "entryway decorations")),
    ("Festival (Diwali)", ("diyas (lamps)", "rangoli pattern", "firecrackers", "Lakshmi puja setup")),
    ("Festival (Holi)", ("colored powder on faces", "color splashes", "water guns")),
    ("Festival (Christmas)", ("decorated Christmas tree", "Santa hat", "wrapped presents", "string lights")),
    ("Festival (Eid)", ("crescent moon decor", "mosque backdrop", "iftar spread", "henna designs")),
    ("Raksha Bandhan", ("rakhi thread on wrist", "sweets plate", "sibling tying rakhi")),
    ("Ganesh Chaturthi", ("Ganesh idol", "pandal", "aarti plate", "marigold garlands")),
    ("Durga Puja", ("Durga idol", "pandal crowd", "dhaak drums", "sindoor khela")),
    ("Family reunion", ("family group photo", "dining table feast", "backyard gathering")),
    ("Picnic", ("picnic basket", "checkered blanket", "park lawn", "sandwiches/fruit")),
    ("Beach day", ("beach umbrella", "shoreline waves", "beach ball", "flip-flops")),
    ("Hiking/Trek", ("trail path", "hiking backpacks", "mountain ridge", "trekking poles")),
    ("Travel—Landmark", ("famous monument", "tourist viewpoint", "city skyline", "selfie stick")),
    ("Sports event", ("stadium crowd", "scoreboard", "players in jersey", "goalpost/court")),
    ("Concert", ("stage lights", "singer with microphone", "crowd hands up", "guitar/drum set")),
    ("Farewell party", ("farewell banner", "office cake", "group handshake/hug")),
    ("Office celebration", ("office cake cutting", "confetti poppers", "decorated workspace")),
    ("School function", ("school stage", "student performance", "auditorium seating")),
    ("Temple visit", ("temple entrance", "deity idol", "prayer hands", "diya plate")),
    ("Park outing", ("playground swings", "park bench", "green lawns", "jogging path")),
    ("Pre-wedding shoot", ("couple pose", "floral backdrop", "veil/dupatta flow shot", "ring close-up")),
    ("Sangeet/Mehendi", ("mehendi on hands", "dance floor", "dhol", "floral jewelry")),
    ("Engagement dinner", ("candlelit table", "toasting glasses", "couple at head table")),
    ("Sports victory", ("trophy lift", "medal ceremony", "team huddle")),
    ("Cultural parade", ("parade floats", "traditional costumes", "marching band")),
)

CATALOGUE: dict[str, tuple[str, ...]] = dict(EVENT_PROXY_CATALOGUE)

#: memoire event type → the Table 3 row whose proxies it uses (types whose event the table covers).
CATALOGUE_ROW_FOR_TYPE: dict[str, str] = {
    "Birthday": "Birthday",
    "Wedding": "Wedding (generic)",
    "Anniversary": "Anniversary",
    "Graduation": "Graduation",
    "Picnic": "Picnic",
    "Hiking": "Hiking/Trek",
    "Sports Match": "Sports event",
    "Music Concert": "Concert",
    "Baby Shower": "Baby shower",
    "Farewell Party": "Farewell party",
    "Reunion": "Family reunion",
    "Housewarming": "Housewarming",
    "Christmas": "Festival (Christmas)",
    "Cultural Parade": "Cultural parade",
    "Beach Day": "Beach day",
    "Travel Landmark": "Travel—Landmark",
    "Park Stroll": "Park outing",
}

#: Proxy sets written for memoire's event types that Table 3 does not cover (memoire's, not the paper's).
EXTRA_PROXIES: dict[str, tuple[str, ...]] = {
    "Family Dinner": ("dining table with dishes", "family seated around a table", "plates of home-cooked food", "serving bowls"),
    "Vacation": ("suitcase", "sun hat", "resort swimming pool", "hotel room", "tourists sightseeing"),
    # a generic festival (spring/autumn, street or home): phrases drawn from the Diwali and Holi rows
    "Festival": ("festive string lights", "diyas (lamps)", "colored powder on faces", "rangoli pattern", "festival crowd"),
    "Religious Ceremony": ("deity idol", "lit oil lamps", "flower offerings", "altar", "prayer hands"),
    "Office Meeting": ("whiteboard", "laptop on a conference table", "meeting room table", "people seated in a meeting"),
    "Conference Talk": ("speaker at a podium", "projector screen with slides", "conference audience seating", "lanyard badges"),
    "Award Ceremony": ("trophy", "medal ceremony", "award podium", "stage under spotlight", "certificate presentation"),
    "Team Outing": ("group of colleagues at a table", "raised glasses", "shared plates of food", "group photo outdoors"),
    "New Year Celebration": ("fireworks in the night sky", "champagne glasses", "confetti", "party hats"),
    "Halloween": ("carved pumpkin", "halloween costume", "spider web decorations", "candy bowl"),
    "Public Lecture": ("lecturer at a podium", "lecture hall seating", "projector screen", "audience listening"),
    "Museum Visit": ("framed painting on a wall", "sculpture on a pedestal", "museum gallery hall", "glass display case"),
    "Road Trip": ("car on an open road", "highway stretching ahead", "road map", "car dashboard"),
    "Coffee Shop Gathering": ("coffee cups", "pastries on a plate", "cafe table", "espresso machine"),
    "Casual Home Scene": ("sofa", "living room lamp", "cushions", "coffee table"),
    "City Night Walk": ("street lamps at night", "illuminated shop signs", "neon lights", "night city street"),
}


def _type_proxies() -> dict[str, tuple[str, ...]]:
    table = {name: CATALOGUE[row] for name, row in CATALOGUE_ROW_FOR_TYPE.items()}
    overlap = set(table) & set(EXTRA_PROXIES)
    if overlap:  # pragma: no cover - a definition error
        raise AssertionError(f"event types with two proxy sets: {sorted(overlap)}")
    return {**table, **EXTRA_PROXIES}


#: K(e) for each of memoire's event types (S1.3.4).
EVENT_PROXIES: dict[str, tuple[str, ...]] = _type_proxies()


def event_proxies(event_type: str) -> tuple[str, ...]:
    """K(e), the fixed proxy phrases of an event (S1.3.4, Table 3).

    Accepts memoire's event-type names (``vocabulary.EVENT_NAMES``) and, failing that, a Table 3 row name
    (e.g. ``"Engagement"``). Raises ``ValueError`` naming the unknown event otherwise.
    """
    proxies = EVENT_PROXIES.get(event_type) or CATALOGUE.get(event_type)
    if proxies is None:
        raise ValueError(
            f"unknown event type {event_type!r}: no proxy set (S1.3.4); known types: {', '.join(sorted(EVENT_PROXIES))}"
        )
    return proxies


#: Names ``memoire ingest`` gives events found by time clustering alone ("event 2024-05-01", "… #2"):
#: they say nothing about what happened, so such an event has no phrase to ground.
UNNAMED_EVENT = re.compile(r"^event \d{4}-\d{2}-\d{2}( #\d+)?$")


def event_phrases(event: str) -> tuple[str, ...]:
    """The phrases that ground an event: K(e) for memoire's event types and Table 3's rows
    (:func:`event_proxies`); for any other event name (a photo manager's keyword such as "Trip to Rome",
    from ``memoire ingest``) the name itself, as one open-vocabulary phrase; none for the time-cluster
    names of unnamed events (:data:`UNNAMED_EVENT`), whose event then contributes no mask (S1.3.6).
    """
    known = EVENT_PROXIES.get(event) or CATALOGUE.get(event)
    if known is not None:
        return known
    name = event.strip()
    if not name or UNNAMED_EVENT.match(name):
        return ()
    return (name,)


def location_prompts(phrase: str) -> tuple[str, str, str]:
    """The three Table 2 prompts for a location phrase (S1.3.3), in the table's order."""
    phrase = phrase.strip()
    if not phrase:
        raise ValueError("empty location phrase")
    a, b, c = (template.replace("{1}", phrase) for template in LOCATION_TEMPLATES)
    return a, b, c
