"""The knobs of `memoire synth`, with their defaults (the spec's) and checks, in one place (S1.1).

The diffusion renderers' settings are :class:`memoire_cli.synth.render.diffusion.config.DiffusionConfig`.

Light: dataclasses only, so `memoire synth --help` imports it at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from memoire_cli.errors import ParameterError

#: Upper limits checked when the options are parsed (a typo of a few zeros fails at once, not after
#: minutes of allocation): users per run, stills per user, and the seed (a DuckDB BIGINT).
MAX_USERS = 100_000
MAX_IMAGES_PER_USER = 5_000
MAX_SEED = 2**63 - 1


def check_range(flag: str, value: float | None, lo: float, hi: float | None = None) -> None:
    """``lo ≤ value ≤ hi`` (None: not given; NaN never passes)."""
    if value is not None and (math.isnan(value) or value < lo or (hi is not None and value > hi)):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise ParameterError(f"{flag} must be {bound}, got {value}")


def parse_split(text: str) -> tuple[float, float, float]:
    """``"80/10/10"`` → (0.8, 0.1, 0.1): three non-negative numbers (any positive total), train/val/test."""
    parts = text.split("/")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 3 or any(not v >= 0 or v == float("inf") for v in values) or sum(values) <= 0:
        raise ValueError(f"--split must be three non-negative numbers train/val/test such as 80/10/10, got {text!r}")
    total = sum(values)
    return (values[0] / total, values[1] / total, values[2] / total)


def split_text(split: tuple[float, float, float]) -> str:
    """(0.8, 0.1, 0.1) → ``"80/10/10"`` (percentages), the inverse of :func:`parse_split`."""
    return "/".join(f"{share * 100:.12g}" for share in split)


@dataclass(frozen=True)
class SynthConfig:
    """Parameters of `memoire synth` (defaults: the spec's)."""

    users: int = 100
    seed: int = 0
    images_per_user: int | None = None  # total stills per user; None = n_e ~ U{20,40} per event
    image_size: int = 512
    anchor_size: int = 256  # side of enrolment portraits (capped at image_size by the command)
    anchors_per_person: int = 3
    max_frames_per_clip: int = 5
    face_bank_size: int = 24
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/val/test shares of the users (S1.1.1)
    composition_link: float = 1.0  # ℓ_c: events, venues and people photographed ∝ (hidden affinity)^ℓ_c
    views_link: float = 0.0  # ℓ_v: views ∝ exp(ℓ_v · z(utility)) (0 = S1.1.3, views by tag only)
    favourite_link: float = 0.0  # ℓ_q: favourite probability ∝ exp(ℓ_q · z(utility))

    def __post_init__(self) -> None:
        check_range("--user-count", self.users, 1, MAX_USERS)
        check_range("--images-per-user", self.images_per_user, 1, MAX_IMAGES_PER_USER)
        check_range("--seed", self.seed, 0, MAX_SEED)
        check_range("--image-size", self.image_size, 128, 4096)
        check_range("--frames-per-clip", self.max_frames_per_clip, 0, 5)
        check_range("--anchors", self.anchors_per_person, 1, 3)
        check_range("--composition-link", self.composition_link, 0.0, 3.0)
        check_range("--views-link", self.views_link, 0.0, 3.0)
        check_range("--favourite-link", self.favourite_link, 0.0, 3.0)
