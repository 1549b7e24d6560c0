"""One-to-one assignment of detected faces to enrolled people (S1.3.2(2), Table 1).

Cost C_{j,p} = 1 − cos(e_j^face, e_p^tag) over L2-normalised ArcFace embeddings; a rectangular
Hungarian assignment minimises Σ_j C_{j,π(j)}; assigned pairs with cos < τ_match = 0.35 are
rejected. Each person tag is matched at most once per image.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.pat.config import TAU_MATCH


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1.0)


def assign_faces(faces: np.ndarray, people: np.ndarray, tau_match: float = TAU_MATCH) -> list[tuple[int, int, float]]:
    """Matches (face index j, person index p, cosine), sorted by face index.

    Args:
        faces: (F, D) face embeddings of one image (normalised here).
        people: (P, D) one reference embedding per person tag of the image (normalised here).
        tau_match: assignments with a lower cosine are rejected.
    """
    from scipy.optimize import linear_sum_assignment

    if len(faces) == 0 or len(people) == 0:
        return []
    cos = _unit(np.asarray(faces, np.float64)) @ _unit(np.asarray(people, np.float64)).T  # (F, P)
    rows, cols = linear_sum_assignment(1.0 - cos)
    return [(int(j), int(p), float(cos[j, p])) for j, p in zip(rows, cols) if cos[j, p] >= tau_match]
