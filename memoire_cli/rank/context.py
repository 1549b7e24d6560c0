"""Everything ``rank`` needs for one user and one session, read once and reused across variants.

:class:`UserContext` is the session's :class:`~memoire_cli.session.context.SessionContext` (its images,
their stored per-tag masks and tags, the global persona α with the nodes' types and relations, capture
times and usage, rejected images, the graph stage's constants) plus the predictor's inputs: the
model-input RGB (S1.4.1 preprocessing at ``image_size``) and the image embeddings (MMR similarity,
Redundancy@k). No model runs here except the embedder when no embeddings are given or stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.session.context import Reader, SessionContext, read_session
from memoire_cli.session.selection import Session


@dataclass(kw_only=True)
class UserContext(SessionContext):
    """One user's session, ready to rank: a :class:`SessionContext` (arrays over the session's N images in
    ascending idx) with the predictor's inputs."""

    image_size: int
    rgb: np.ndarray  # (N, S, S, 3) uint8 model input (S1.4.1)
    embeddings: np.ndarray  # (N, D) float32 L2-normalised
    embedder: str = ""

    @classmethod
    def load(cls, ws: Any, user_id: str, session: Session, *, image_size: int, embeddings: np.ndarray | None = None,
             embedder: Any = None, model_inputs: bool = True) -> UserContext:
        """Read the user's session. ``embeddings``: (n_images_of_user, D) rows by images.idx (default: the
        stored ``rank_embeddings`` array when present, else computed with ``embedder`` or the default one).
        ``model_inputs=False`` skips the predictor's RGB and the embeddings (``rgb`` is (0, S, S, 3) and
        ``embeddings`` (N, 0))."""
        from memoire_cli.train.predictor import preprocess

        with ws.connect(read_only=True) as con:  # one connection for every read (each open costs ~10 ms)
            return cls._load(ws, Reader(con), user_id, session, image_size, embeddings, embedder, preprocess, model_inputs)

    @classmethod
    def _load(cls, ws: Any, db: Any, user_id: str, session: Session, image_size: int, embeddings: np.ndarray | None,
              embedder: Any, preprocess: Any, model_inputs: bool = True) -> UserContext:
        found, n_rows = read_session(ws, db, user_id, session)
        images, idxs = found["images"], found["idxs"]
        rgb = np.zeros((len(images) if model_inputs else 0, image_size, image_size, 3), np.uint8)
        for k, image in enumerate(images if model_inputs else []):
            rgb[k], _ = preprocess(image, np.zeros(image.shape[:2], np.float32), image_size)
        name = ""
        if embeddings is None and model_inputs:
            embeddings, name = stored_embeddings(ws, user_id, n_rows, db)
        if not model_inputs:  # α* and re-fusion only: no model input, no embedding
            emb = np.zeros((len(images), 0), np.float32)
        elif embeddings is None:
            from memoire_cli.embed import load_embedder
            from memoire_cli.embed.resize import squares

            embedder = embedder or load_embedder()
            if isinstance(embedder, PredictorEmbedder):  # the predictor's frozen backbone on its own inputs
                emb = embedder.embed_inputs(rgb) if len(rgb) else np.zeros((0, 1), np.float32)
            else:
                emb = embedder.embed(squares(images, 224)) if images else np.zeros((0, 1), np.float32)
            name = embedder.name
        else:
            embeddings = np.asarray(embeddings, np.float32)
            if embeddings.shape[0] != n_rows:
                raise ValueError(f"embeddings have {embeddings.shape[0]} rows, user {user_id} has {n_rows} images")
            emb = embeddings[idxs]
            name = name or getattr(embedder, "name", "")
        return cls(**found, image_size=int(image_size), rgb=rgb, embeddings=np.asarray(emb, np.float32), embedder=name)


class PredictorEmbedder:
    """The impact predictor's frozen backbone as the image embedder (``rank``, ``eval``).

    When the predictor is the `cpu` preset's — the packaged ImageNet EfficientNet-Lite0, frozen, at 224
    px — its pooled last map *is* the offline default embedding (``efficientnet-lite0-imagenet-gap``):
    the same network, weights and input size; only the resize differs (the predictor's S1.4.1
    preprocessing instead of the embedder's, both a 224-px shortest-side centre crop). Taken from the
    maps the predictor computes anyway, the backbone runs once per image instead of twice.
    """

    def __init__(self, predictor: Any):
        from memoire_cli.embed.backbone import BackboneEmbedder

        self.predictor = predictor
        self.name = BackboneEmbedder.name

    def embed_inputs(self, rgb: np.ndarray) -> np.ndarray:
        """(N, 224, 224, 3) uint8 predictor inputs → (N, 1280) float32, L2-normalised."""
        return self.predictor.pooled_features(rgb)

    @staticmethod
    def fits(predictor: Any, kind: str = "auto", clip: str | None = None) -> bool:
        """Whether ``predictor`` can stand in for the embedder ``kind`` resolves to here."""
        from memoire_cli.embed import resolve_kind
        from memoire_cli.imagenet_backbone import WEIGHTS_FILE

        return (predictor.runtime == "torch" and predictor.frozen and predictor.backbone == "efficientnet_lite0"
                and predictor.init.startswith(WEIGHTS_FILE) and predictor.image_size == 224
                and resolve_kind(kind, clip)[0] == "efficientnet-lite0")


def stored_embeddings(ws: Any, user_id: str, n_images: int, db: Any = None) -> tuple[np.ndarray | None, str]:
    """The user's ``rank_embeddings`` (rows by images.idx) and their embedder, when rank stored a full set."""
    try:
        found = (db or ws).query("SELECT embedder FROM sessions WHERE user_id = ?", [user_id])
    except Exception:  # noqa: BLE001 - an older workspace without the rank tables
        return None, ""
    if not found:
        return None, ""
    try:
        arr = np.asarray(ws.read_array("rank_embeddings", user_id)[...], np.float32)
    except MemoireError:
        return None, ""
    return (arr, found[0][0]) if arr.shape[0] == n_images else (None, "")
