"""Parameters of `memoire ingest` (they enter the stage's fingerprint)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from memoire_cli.errors import UsageError
from memoire_cli.ingest.media import MAX_PIXELS

#: A user id: letters, digits, ``_ . -``, starting with a letter or digit (it names Zarr folders).
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class IngestConfig:
    image_size: int = 512  # side of the square image buffer (synth's default)
    anchor_size: int = 256  # side of the enrolment portraits (synth's default), ≤ image_size
    event_gap_h: float = 3.0  # a gap longer than this starts a new burst (event)
    place_radius_km: float = 1.0  # GPS single-linkage radius
    favourite_rating: float = 4.0  # stars from which an image is a favourite
    max_pixels: int = MAX_PIXELS  # larger stills are refused as decompression bombs

    def check(self) -> None:
        if not 32 <= self.image_size <= 4096:
            raise UsageError(f"--image-size must be in 32…4096, got {self.image_size}")
        if not 16 <= self.anchor_size <= self.image_size:
            raise UsageError(f"--anchor-size must be in 16…--image-size ({self.image_size}), got {self.anchor_size}")
        if not self.event_gap_h > 0:
            raise UsageError(f"--event-gap must be > 0 hours, got {self.event_gap_h}")
        if not self.place_radius_km > 0:
            raise UsageError(f"--place-radius must be > 0 km, got {self.place_radius_km}")
        if not 1 <= self.favourite_rating <= 5:
            raise UsageError(f"--favourite-rating must be in 1…5 stars, got {self.favourite_rating}")
        if self.max_pixels < 1:
            raise UsageError(f"--max-pixels must be at least 1, got {self.max_pixels}")


def check_user_id(user: str) -> str:
    if not USER_ID.match(user):
        raise UsageError(f"--user {user!r}: use 1–64 letters, digits, '_', '.', '-' (starting with a letter or digit)")
    return user
