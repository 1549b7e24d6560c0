"""Everything ``rank`` needs for one user and one session, read once and reused across variants.

:meth:`UserContext.load` reads, for the session's images (rows of ``images``, ascending idx): the
valid region of each image and of its stored per-tag masks (``pat_masks``, uint8, S1.3.5), the tags
each image carries (``image_tags`` with ``tags``), the user's global persona α (``persona``, in
``graph_nodes.node`` order) with the nodes' types and relations, capture times and usage (for the
session prior, S1.2.8), the images the owner rejected (``ratings`` −1, ingested galleries only), the graph stage's constants (its ``runs.params``), the model-input RGB
(S1.4.1 preprocessing at ``image_size``) and the image embeddings (MMR similarity, Redundancy@k).
No model runs here except the embedder when no embeddings are given or stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.rank.session import Session, session_indices


@dataclass
class ImageMasks:
    """One image's stored per-tag masks, in pat_masks order (= the image's tag order, S1.3.7)."""

    tag_ids: np.ndarray  # (m,) int64
    types: np.ndarray  # (m,) object P/L/E
    masks: np.ndarray  # (m, h, w) uint8, the image's valid region


@dataclass
class UserContext:
    """One user's session, ready to rank (arrays over the session's N images in ascending idx)."""

    user_id: str
    session: Session
    image_ids: list[str]
    idxs: np.ndarray  # (N,) images.idx
    event_ids: np.ndarray  # (N,) int64, −1 when none
    taken_at: np.ndarray  # (N,) datetime64[us], NaT when unknown
    views: np.ndarray  # (N,) views_norm, NaN when unknown
    favourite: np.ndarray  # (N,) 1/0, NaN when unknown
    image_tags: list[list[int]]  # per image: its tag ids
    tags: dict[int, tuple[str, str, str | None]]  # tag_id → (type, name, relation)
    node_tags: np.ndarray  # (K,) tag id of each graph node
    node_types: np.ndarray  # (K,) P/L/E
    node_relations: np.ndarray  # (K,) relation or None
    alpha: np.ndarray  # (K,) global persona α
    graph_params: dict[str, Any]
    images: list[np.ndarray]  # (h, w, 3) uint8 each, valid region
    masks: list[ImageMasks]
    image_size: int
    rgb: np.ndarray  # (N, S, S, 3) uint8 model input (S1.4.1)
    embeddings: np.ndarray  # (N, D) float32 L2-normalised
    embedder: str = ""
    membership: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # (N, K) image carries node's tag
    # (N,) bool: rejected by the owner (ratings.rating −1: a −1 rating or a reject flag, `memoire ingest`);
    # never in a top-k. Empty (the default) = none rejected: synthetic galleries have none.
    rejected: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        if not len(self.rejected) and len(self.image_ids):  # the default: none rejected
            self.rejected = np.zeros(len(self.image_ids), bool)

    def __len__(self) -> int:
        return len(self.image_ids)

    @classmethod
    def load(cls, ws: Any, user_id: str, session: Session, *, image_size: int, embeddings: np.ndarray | None = None,
             embedder: Any = None, model_inputs: bool = True) -> UserContext:
        """Read the user's session. ``embeddings``: (n_images_of_user, D) rows by images.idx (default: the
        stored ``rank_embeddings`` array when present, else computed with ``embedder`` or the default one).
        ``model_inputs=False`` skips the predictor's RGB and the embeddings (``rgb`` is (0, S, S, 3) and
        ``embeddings`` (N, 0)): enough for α* and re-fusion (``memoire pat --session``)."""
        from memoire_cli.train.predictor import preprocess

        with ws.connect(read_only=True) as con:  # one connection for every read (each open costs ~10 ms)
            return cls._load(ws, _Reader(con), user_id, session, image_size, embeddings, embedder, preprocess, model_inputs)

    @classmethod
    def _load(cls, ws: Any, db: Any, user_id: str, session: Session, image_size: int, embeddings: np.ndarray | None,
              embedder: Any, preprocess: Any, model_inputs: bool = True) -> UserContext:
        idxs = session_indices(db, user_id, session)
        rows = {r[1]: r for r in db.query(
            "SELECT image_id, idx, width, height, event_id, taken_at FROM images WHERE user_id = ? ORDER BY idx", [user_id])}
        sel = [rows[int(i)] for i in idxs]
        image_ids = [r[0] for r in sel]
        position = {iid: k for k, iid in enumerate(image_ids)}
        from memoire_cli.people.tags import people_current_for, user_image_tags, user_tags

        people = people_current_for(db, user_id)  # `memoire people` ran on this gallery: its people per image
        tags = {t: (k, n, r) for t, k, n, r in user_tags(db, user_id, people)}
        persona = db.query("SELECT p.node, p.tag_id, p.alpha, g.type, g.relation FROM persona p JOIN graph_nodes g "
                           "ON g.user_id = p.user_id AND g.node = p.node WHERE p.user_id = ? ORDER BY p.node", [user_id])
        if not persona:
            raise MemoireError(f"user {user_id} has no persona: run `memoire persona`")
        node_tags = np.array([r[1] for r in persona], np.int64)
        node_of = {int(t): k for k, t in enumerate(node_tags)}
        per_image: list[list[int]] = [[] for _ in sel]
        membership = np.zeros((len(sel), len(node_tags)), bool)
        for image_id, tag_id in user_image_tags(db, user_id, people):
            k = position.get(image_id)
            if k is not None:
                per_image[k].append(int(tag_id))
                if tag_id in node_of:
                    membership[k, node_of[tag_id]] = True
        usage = {r[0]: r[1:] for r in db.query("SELECT image_id, views_norm, favourite FROM usage WHERE user_id = ?", [user_id])}
        views = np.array([np.nan if usage.get(i, (None,))[0] is None else float(usage[i][0]) for i in image_ids], np.float64)
        fav = np.array([np.nan if usage.get(i, (None, None))[1] is None else float(usage[i][1]) for i in image_ids], np.float64)
        rejected_ids = {r[0] for r in db.query("SELECT image_id FROM ratings WHERE user_id = ? AND rating < 0", [user_id])}
        rejected = np.array([i in rejected_ids for i in image_ids], bool)  # (N,) rating −1 or a reject flag (ingest)
        if not db.query("SELECT 1 FROM stage_users WHERE stage = 'pat' AND user_id = ?", [user_id]):
            raise MemoireError(f"user {user_id} has no attention maps: run `memoire pat`")
        mask_rows = db.query("SELECT mask_idx, image_id, tag_id, type FROM pat_masks WHERE user_id = ? ORDER BY mask_idx", [user_id])
        by_image: list[list[tuple[int, int, str]]] = [[] for _ in sel]
        for m, image_id, tag_id, kind in mask_rows:
            k = position.get(image_id)
            if k is not None:
                by_image[k].append((int(m), int(tag_id), kind))
        pixels = ws.read_array("images", user_id)
        mask_array = ws.read_array("pat_masks", user_id) if mask_rows else None
        images, masks = [], []
        for k, (_, idx, width, height, _, _) in enumerate(sel):
            images.append(np.asarray(pixels[idx])[:height, :width])
            found = by_image[k]
            stack = (np.stack([np.asarray(mask_array[m])[:height, :width] for m, _, _ in found])
                     if found else np.zeros((0, height, width), np.uint8))
            masks.append(ImageMasks(np.array([t for _, t, _ in found], np.int64), np.array([c for _, _, c in found], object), stack))
        rgb = np.zeros((len(sel) if model_inputs else 0, image_size, image_size, 3), np.uint8)
        for k, image in enumerate(images if model_inputs else []):
            rgb[k], _ = preprocess(image, np.zeros(image.shape[:2], np.float32), image_size)
        name = ""
        if embeddings is None and model_inputs:
            embeddings, name = stored_embeddings(ws, user_id, len(rows), db)
        if not model_inputs:  # re-fusion only (`memoire pat --session`): no model input, no embedding
            emb = np.zeros((len(sel), 0), np.float32)
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
            if embeddings.shape[0] != len(rows):
                raise ValueError(f"embeddings have {embeddings.shape[0]} rows, user {user_id} has {len(rows)} images")
            emb = embeddings[idxs]
            name = name or getattr(embedder, "name", "")
        return cls(
            user_id=user_id, session=session, image_ids=image_ids, idxs=idxs,
            event_ids=np.array([-1 if r[4] is None else int(r[4]) for r in sel], np.int64),
            taken_at=np.array([np.datetime64(r[5], "us") if r[5] is not None else np.datetime64("NaT", "us") for r in sel], "datetime64[us]"),
            views=views, favourite=fav, image_tags=per_image, tags=tags, node_tags=node_tags,
            node_types=np.array([r[3] for r in persona], object), node_relations=np.array([r[4] for r in persona], object),
            alpha=np.array([r[2] for r in persona], np.float64), graph_params=graph_params(db, user_id),
            images=images, masks=masks, image_size=int(image_size), rgb=rgb, embeddings=np.asarray(emb, np.float32),
            embedder=name, membership=membership, rejected=rejected)


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


class _Reader:
    """``query(sql, params)`` on an open DuckDB connection (the workspace's ``query`` without reopening)."""

    def __init__(self, con: Any):
        self.con = con

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()


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


def graph_params(ws: Any, user_id: str) -> dict[str, Any]:
    """The parameters of the `memoire graph` run that built the user's graph (``{}`` → the defaults)."""
    rows = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id "
                    "WHERE s.stage = 'graph' AND s.user_id = ?", [user_id])
    try:
        params = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    except json.JSONDecodeError:
        params = {}
    return params if isinstance(params, dict) else {}
