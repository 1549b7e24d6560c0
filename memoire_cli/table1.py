"""Table 1 of the specification: PAT's constants, the one place they are written.

``pat`` (detection, matching, fusion), ``people`` (matching), ``session`` (re-fusion) and ``rank``
(A*(I)'s blur) read them from here; :mod:`memoire_cli.pat.config` re-exports them beside ``PatConfig``.
No imports: the command modules read defaults from here for ``--help``.
"""

THETA_DET = 0.80  # Table 1: face detection confidence threshold (for the spec's RetinaFace)
NMS_IOU = 0.40  # Table 1: NMS IoU
TAU_MATCH = 0.35  # Table 1: ArcFace cosine threshold τ_match (S1.3.2(2), S1.1.6)
CLOSE_SIZE = 3  # Table 1: 3×3 morphological close, 1 iteration
BLUR_SIGMA = 1.0  # Table 1: Gaussian blur σ, pixels
EPSILON = 1e-6  # Table 1: min–max epsilon
