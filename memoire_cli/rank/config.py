"""The knobs of `memoire rank`, with their defaults and checks, in one place (S1.2.8, S2.2–S2.4, Table 8).

λ = 0.4 is the spec's MMR diversity weight (S2.3 Table 8, S2.4 A3/B1); k = 20 picks (S2.2). The
checks here are the only ones: the command takes its defaults from :class:`RankOptions` and lets it
reject bad values (:class:`~memoire_cli.errors.ParameterError`, one line, exit code 2);
:func:`check_lambda` also guards :func:`memoire_cli.rank.mmr.mmr_select`.

Light: dataclasses only, so `memoire rank --help` imports it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from memoire_cli.errors import ParameterError
from memoire_cli.table1 import BLUR_SIGMA
from memoire_cli.vocabulary import TAG_TYPES

ALPHA_MODES = ("persona", "uniform")
RUNTIMES = ("torch", "onnx")


def check_lambda(lam: float, name: str = "--lambda") -> None:
    """λ ∈ [0, 1] (NaN is not)."""
    if not 0.0 <= lam <= 1.0:
        raise ParameterError(f"{name} must be in [0, 1], got {lam}")


@dataclass(frozen=True)
class RankOptions:
    """Parameters of one `memoire rank` run (``params()`` enters the cache fingerprint)."""

    k: int = 20
    lam: float = 0.4  # MMR λ (S2.4 A3/B1)
    rho: float | None = None  # None = eq. (17); 0.0 = A4 No-Session; a number = B2 sweep
    alpha: str = "persona"  # "persona" | "uniform" (A1 No-Persona)
    tag_types: tuple[str, ...] = TAG_TYPES  # which masks enter A(I) (Table 9's people-only/event-only/location-only)
    model: str = "default"
    runtime: str = "torch"
    blur_sigma: float = BLUR_SIGMA  # Table 1's σ of A*(I)'s Gaussian blur, px (S2.4 B5 scales it)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ParameterError(f"--k must be at least 1, got {self.k}")
        check_lambda(self.lam)
        if self.rho is not None and not 0.0 <= self.rho <= 1.0:
            raise ParameterError(f"--rho must be in [0, 1], got {self.rho}")
        if self.alpha not in ALPHA_MODES:
            raise ParameterError(f"--tag-weights must be one of {', '.join(ALPHA_MODES)}, got {self.alpha!r}")
        if not self.tag_types or any(t not in TAG_TYPES for t in self.tag_types):
            raise ParameterError(f"--tag-types must be letters among {', '.join(TAG_TYPES)}, got {''.join(self.tag_types)!r}")
        if self.runtime not in RUNTIMES:
            raise ParameterError(f"--runtime must be {' or '.join(RUNTIMES)}, got {self.runtime!r}")
        if not self.blur_sigma > 0:
            raise ParameterError(f"blur σ must be positive, got {self.blur_sigma}")

    def params(self) -> dict[str, Any]:
        out = {"k": self.k, "lam": self.lam, "rho": self.rho, "alpha": self.alpha, "tag_types": "".join(self.tag_types),
               "model": self.model, "runtime": self.runtime}
        if self.blur_sigma != BLUR_SIGMA:  # only when changed: default runs keep their fingerprints
            out["blur_sigma"] = self.blur_sigma
        return out
