"""The knobs of `memoire label`, with their defaults and checks, in one place (S1.1.10).

S1.1.10 labels at most 20k pairs per user. The judges themselves (their names, their own settings) are
in :mod:`memoire_cli.label`.

Light: dataclasses only, so `memoire label --help` imports it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from memoire_cli.errors import ParameterError
from memoire_cli.recorded import FromParams


@dataclass(frozen=True)
class LabelConfig(FromParams):
    """Parameters of one `memoire label` run (the stage records them with its judge's name and version)."""

    max_pairs: int = 20000  # pairs per user (S1.1.10: 20k)
    seed: int = 0  # seed of the pair sampling
    judge: str = "offline"  # offline (deterministic, no model) | qwen-vl

    def __post_init__(self) -> None:
        if self.max_pairs < 1:
            raise ParameterError(f"--max-pairs must be at least 1, got {self.max_pairs}")
