"""Parameters of `memoire ingest` (they enter the stage's fingerprint), with their defaults and checks.

Light: no heavy imports, so `memoire ingest --help` imports it at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from memoire_cli.errors import UsageError
from memoire_cli.recorded import FromParams

#: Largest still decoded, in pixels (about a 100-megapixel frame).
MAX_PIXELS = 100_000_000
#: A user id: letters, digits, ``_ . -``, starting with a letter or digit (it names Zarr folders).
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class IngestConfig(FromParams):
    image_size: int = 512  # side of the square image buffer (synth's default)
    anchor_size: int = 256  # side of the enrolment portraits (synth's default), ≤ image_size
    event_gap_h: float = 3.0  # a gap longer than this starts a new burst (event)
    place_radius_km: float = 1.0  # GPS single-linkage radius
    # Opt-in: stars from which a rated image also counts as a favourite. None (default): favourites come
    # only from explicit marks (pick/accept flags, Takeout favorited), never from the ratings `eval` scores.
    favourites_from_rating: float | None = None
    max_pixels: int = MAX_PIXELS  # larger stills are refused as decompression bombs

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise :class:`UsageError` on impossible values (run on construction)."""
        if not 32 <= self.image_size <= 4096:
            raise UsageError(f"--image-size must be in 32…4096, got {self.image_size}")
        if not 16 <= self.anchor_size <= self.image_size:
            raise UsageError(f"--anchor-size must be in 16…--image-size ({self.image_size}), got {self.anchor_size}")
        if not self.event_gap_h > 0:
            raise UsageError(f"--event-gap must be > 0 hours, got {self.event_gap_h}")
        if not self.place_radius_km > 0:
            raise UsageError(f"--place-radius must be > 0 km, got {self.place_radius_km}")
        if self.favourites_from_rating is not None and not 1 <= self.favourites_from_rating <= 5:
            raise UsageError(f"--favourites-from-rating must be in 1…5 stars, got {self.favourites_from_rating}")
        if self.max_pixels < 1:
            raise UsageError(f"--max-pixels must be at least 1, got {self.max_pixels}")


def favourites_rating_threshold(params: dict[str, Any] | None) -> float | None:
    """From an ingest run's ``runs.params``: the stars from which that run made rated images favourites,
    or None when its favourites came from explicit marks only.

    ``memoire eval`` uses it to flag ``usage.favourite`` as derived from its own ground truth (the
    ratings). Runs before ``favourites_from_rating`` existed (ingest code version 1) always derived
    favourites from ``favourite_rating`` stars, so that key counts too.
    """
    if not isinstance(params, dict):
        return None
    for key in ("favourites_from_rating", "favourite_rating"):
        value = params.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def favourites_from_ratings(ws: Any, user_id: str) -> float | None:
    """:func:`favourites_rating_threshold` of the ingest run that wrote ``user_id``'s gallery (None when
    the user was not ingested, e.g. a synthetic user, or its favourites are explicit marks only)."""
    import json

    rows = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id "
                    "WHERE s.stage = 'ingest' AND s.user_id = ?", [user_id])
    if not rows or not rows[0][0]:
        return None
    try:
        return favourites_rating_threshold(json.loads(rows[0][0]))
    except (TypeError, ValueError):
        return None


def check_user_id(user: str) -> str:
    if not USER_ID.match(user):
        raise UsageError(f"--user {user!r}: use 1–64 letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return user
