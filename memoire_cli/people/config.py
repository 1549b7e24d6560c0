"""The knobs of `memoire people`, with their defaults and checks, in one place (defaults: PAT's, Table 1).

Light: dataclasses only, so `memoire people --help` imports it at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from memoire_cli.errors import ParameterError
from memoire_cli.pat.config import (
    NMS_IOU,
    PACKAGED_THETA_DET,
    TAU_MATCH,
    THETA_DET,
    check_unit,
)
from memoire_cli.recorded import FromParams


@dataclass(frozen=True)
class PeopleConfig(FromParams):
    """Detection, matching and clustering constants (defaults: PAT's, Table 1; all enter the fingerprint)."""

    theta_det: float | None = None  # None: as PAT (0.50 for the packaged SCRFD, 0.80 with a --faces pack)
    nms_iou: float = NMS_IOU
    tau_match: float = TAU_MATCH
    cluster_distance: float | None = None  # None: 1 − τ_match
    fix_names: bool = False
    faces: str | None = None  # another insightface model pack; None: the packaged SCRFD + ArcFace

    def __post_init__(self) -> None:
        check_unit("--theta-det", self.theta_det)
        check_unit("--tau-match", self.tau_match)
        if self.cluster_distance is not None and not 0.0 < self.cluster_distance <= 2.0:
            raise ParameterError(f"--cluster-distance must be in (0, 2], got {self.cluster_distance:g}")

    def detection_threshold(self) -> float:
        if self.theta_det is not None:
            return self.theta_det
        return THETA_DET if self.faces else PACKAGED_THETA_DET

    def distance(self) -> float:
        return 1.0 - self.tau_match if self.cluster_distance is None else self.cluster_distance

    def detector_key(self) -> str:
        """What the found faces depend on (besides the pixels): the models and the detection constants."""
        from memoire_cli.stage import canonical_json

        return canonical_json({"faces": self.faces or "packaged", "theta_det": self.detection_threshold(), "nms_iou": self.nms_iou})
