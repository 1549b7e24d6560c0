"""Unknown faces → unnamed people: agglomerative clustering on cosine distance, with stable cluster ids.

Faces that match no enrolled person (cos < τ_match with all of them) are grouped by scikit-learn's
:class:`~sklearn.cluster.AgglomerativeClustering` with average linkage on the cosine distance
1 − cos between ArcFace embeddings, cut at ``distance_threshold`` (default 1 − τ_match: two groups
merge while their faces are, on average, as alike as a face and the reference it would be matched
to). Two faces of one image are two people: their distance is set to :data:`CANNOT_LINK`, so large
that an average containing it stays above any threshold (a cannot-link constraint; without it the
tiny faces of a team photo merged pairwise). Average linkage needs no random start, so the clusters
are a pure function of the embeddings and their order (faces are ordered as the images, then by
their order in the image).

A cluster's id is ``c`` + 8 hex digits of the SHA-256 of the user and its first face (smallest
image id, then position): adding photos that do not join a cluster keeps its id, so a name given
to it (`memoire people name`) stays attached.
"""

from __future__ import annotations

import hashlib

import numpy as np

from memoire_cli.pat.config import TAU_MATCH

#: Default cut of the dendrogram (cosine distance): 1 − τ_match.
CLUSTER_DISTANCE = 1.0 - TAU_MATCH
#: Distance between two faces of the same image: an average over n·m pairs that contains it stays
#: above 2 (the largest cosine distance) while n·m < 5·10⁸.
CANNOT_LINK = 1e9


def cluster_labels(embeddings: np.ndarray, images: list[str] | None = None, distance: float = CLUSTER_DISTANCE) -> np.ndarray:
    """(F,) int cluster label per face of ``embeddings`` (F, D), labels 0… in order of first appearance.

    ``images``: the image of each face (faces of one image never share a cluster); None: no constraint.
    """
    emb = np.asarray(embeddings, np.float64)
    if len(emb) == 0:
        return np.zeros(0, np.int64)
    if len(emb) == 1:
        return np.zeros(1, np.int64)
    from sklearn.cluster import AgglomerativeClustering

    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    dist = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)  # (F, F) cosine distance
    if images is not None:
        codes = np.unique(np.asarray(images, dtype=object), return_inverse=True)[1]
        dist[codes[:, None] == codes[None, :]] = CANNOT_LINK
    np.fill_diagonal(dist, 0.0)
    raw = AgglomerativeClustering(n_clusters=None, distance_threshold=float(distance), metric="precomputed",
                                  linkage="average").fit_predict(dist)
    first: dict[int, int] = {}
    for label in raw.tolist():  # relabel by first appearance: independent of sklearn's label numbering
        first.setdefault(int(label), len(first))
    return np.array([first[int(label)] for label in raw], np.int64)


def cluster_id(user_id: str, image_id: str, k: int) -> str:
    """The stable id of the cluster whose first face is face ``k`` of ``image_id``."""
    return "c" + hashlib.sha256(f"{user_id}\x1f{image_id}\x1f{k}".encode()).hexdigest()[:8]
