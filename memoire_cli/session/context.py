"""One user's session read from the workspace: its images, their stored masks and tags, and the persona.

:func:`load_session` reads, for the session's images (rows of ``images``, ascending idx; the
session resolved by :func:`memoire_cli.session.selection.session_indices`): the valid region of each
image and of its stored per-tag masks (``pat_masks``, uint8, S1.3.5), the tags each image carries
(``image_tags`` with ``tags``, or ``memoire people``'s people), the user's global persona α
(``persona``, in ``graph_nodes.node`` order) with the nodes' types and relations, capture times and
usage (for the session prior, S1.2.8), the images the owner rejected (``ratings`` −1, ingested
galleries only) and the graph stage's constants (its ``runs.params``). No model runs here.

It is everything α* (:func:`memoire_cli.session.blend.session_alpha`, from :meth:`SessionContext.evidence`)
and re-fusion (:func:`memoire_cli.session.refusion.refuse`) need: ``pat --session`` uses it as is, and
``rank``'s :class:`memoire_cli.rank.context.UserContext` extends it with the predictor's inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.session.blend import SessionEvidence
from memoire_cli.session.selection import Session, session_indices


@dataclass
class ImageMasks:
    """One image's stored per-tag masks, in pat_masks order (= the image's tag order, S1.3.7)."""

    tag_ids: np.ndarray  # (m,) int64
    types: np.ndarray  # (m,) object P/L/E
    masks: np.ndarray  # (m, h, w) uint8, the image's valid region


@dataclass
class SessionContext:
    """One user's session (arrays over the session's N images in ascending idx, K graph nodes)."""

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
    membership: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # (N, K) image carries node's tag
    # (N,) bool: rejected by the owner (ratings.rating −1: a −1 rating or a reject flag, `memoire ingest`);
    # never in a top-k. Empty (the default) = none rejected: synthetic galleries have none.
    rejected: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        if not len(self.rejected) and len(self.image_ids):  # the default: none rejected
            self.rejected = np.zeros(len(self.image_ids), bool)

    def __len__(self) -> int:
        return len(self.image_ids)

    def evidence(self) -> SessionEvidence:
        """What α* (S1.2.8 (15)–(17)) is computed from: :func:`memoire_cli.session.blend.session_alpha`'s input."""
        return SessionEvidence(alpha=self.alpha, membership=self.membership, node_types=self.node_types,
                               node_relations=self.node_relations, n_images=len(self), graph_params=self.graph_params,
                               taken_at=self.taken_at, views=self.views, favourite=self.favourite)



def load_session(ws: Any, user_id: str, session: Session) -> SessionContext:
    """The user's session read from the workspace (see the module docstring)."""
    with ws.connect(read_only=True) as con:  # one connection for every read (each open costs ~10 ms)
        found, _ = read_session(ws, Reader(con), user_id, session)
    return SessionContext(**found)


def read_session(ws: Any, db: Any, user_id: str, session: Session) -> tuple[dict[str, Any], int]:
    """The fields of a :class:`SessionContext` of ``session`` (keyword arguments) and the number of the
    user's images (all of them, not only the session's). ``db``: a :class:`Reader` or the workspace."""
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
    mask_array: Any = ws.read_array("pat_masks", user_id) if mask_rows else None
    images, masks = [], []
    for k, (_, idx, width, height, _, _) in enumerate(sel):
        images.append(np.asarray(pixels[idx])[:height, :width])
        found = by_image[k]
        stack = (np.stack([np.asarray(mask_array[m])[:height, :width] for m, _, _ in found])
                 if found else np.zeros((0, height, width), np.uint8))
        masks.append(ImageMasks(np.array([t for _, t, _ in found], np.int64), np.array([c for _, _, c in found], object), stack))
    fields = {
        "user_id": user_id, "session": session, "image_ids": image_ids, "idxs": idxs,
        "event_ids": np.array([-1 if r[4] is None else int(r[4]) for r in sel], np.int64),
        "taken_at": np.array([np.datetime64(r[5], "us") if r[5] is not None else np.datetime64("NaT", "us") for r in sel],
                             "datetime64[us]"),
        "views": views, "favourite": fav, "image_tags": per_image, "tags": tags, "node_tags": node_tags,
        "node_types": np.array([r[3] for r in persona], object), "node_relations": np.array([r[4] for r in persona], object),
        "alpha": np.array([r[2] for r in persona], np.float64), "graph_params": graph_params(db, user_id),
        "images": images, "masks": masks, "membership": membership, "rejected": rejected,
    }
    return fields, len(rows)


class Reader:
    """``query(sql, params)`` on an open DuckDB connection (the workspace's ``query`` without reopening)."""

    def __init__(self, con: Any):
        self.con = con

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        return self.con.execute(sql, params or []).fetchall()


def graph_params(ws: Any, user_id: str) -> dict[str, Any]:
    """The parameters of the `memoire graph` run that built the user's graph (``{}`` → the defaults)."""
    rows = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id "
                    "WHERE s.stage = 'graph' AND s.user_id = ?", [user_id])
    try:
        params = json.loads(rows[0][0]) if rows and rows[0][0] else {}
    except json.JSONDecodeError:
        params = {}
    return params if isinstance(params, dict) else {}
