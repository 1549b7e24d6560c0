"""Reading one user's graph inputs from the workspace (S1.2.1): four set-wise DuckDB queries.

Tables read (written by ``synth`` or ``ingest``; never ``truth.*``): ``users.now``,
``tags(tag_id, type, relation)``, ``images(image_id, taken_at)``, ``usage(views_norm, favourite)``
and ``image_tags``. Images are identified by DuckDB's ``rowid`` inside one read snapshot (integer
keys: no string sort), so the (image, tag) pairs become integer rows of the incidence matrix.

Missing metadata is not an error: a NULL ``users.now`` falls back to the latest capture time, a NULL
``taken_at`` leaves the image undated, and a missing ``usage`` row or NULL/NaN ``views_norm`` or
``favourite`` is unknown (NaN here). An ``image_tags`` row naming an image absent from ``images``
or a tag absent from ``tags`` is inconsistent input and raises a one-line :class:`MemoireError`.

With ``people`` (the user's `memoire people` output is current, :mod:`memoire_cli.people.tags`), the
people named there join ``tags`` and the person pairs come from ``people_image_tags`` (the gallery's
person tags it kept, and the people it found by face) instead of ``image_tags``.
"""

from __future__ import annotations

import numpy as np

from memoire_cli.errors import MemoireError
from memoire_cli.graph.build import GraphInputs
from memoire_cli.people.tags import IMAGE_TAGS_SQL, TAGS_SQL
from memoire_cli.workspace import Workspace

_NOW = "SELECT epoch_us(now) FROM users WHERE user_id = ?"
_TAGS = "SELECT tag_id, type, relation FROM tags WHERE user_id = ? ORDER BY tag_id"
#: Every image with its rowid, capture time (µs; dated: known) and usage (NaN: unknown).
_IMAGES = """
SELECT i.rowid AS rid, coalesce(epoch_us(i.taken_at), 0) AS t, i.taken_at IS NOT NULL AS dated,
       coalesce(u.views_norm, 'NaN'::DOUBLE) AS views, coalesce(u.favourite::DOUBLE, 'NaN'::DOUBLE) AS fav
FROM images i LEFT JOIN (SELECT image_id, views_norm, favourite FROM usage WHERE user_id = ?) u ON u.image_id = i.image_id
WHERE i.user_id = ?
"""
#: Every (image, tag) pair with its image's rowid (−1: not in images).
_PAIRS = """
SELECT coalesce(i.rid, -1) AS rid, it.tag_id FROM image_tags it
LEFT JOIN (SELECT rowid AS rid, image_id FROM images WHERE user_id = ?) i ON i.image_id = it.image_id
WHERE it.user_id = ?
"""

#: The same with `memoire people`'s tags and person pairs ($user: the user).
_TAGS_PEOPLE = f"SELECT tag_id, type, relation FROM ({TAGS_SQL}) ORDER BY tag_id"
_PAIRS_PEOPLE = f"""
SELECT coalesce(i.rid, -1) AS rid, it.tag_id FROM ({IMAGE_TAGS_SQL}) it
LEFT JOIN (SELECT rowid AS rid, image_id FROM images WHERE user_id = $user) i ON i.image_id = it.image_id
"""


def _rows_of(image_rids: np.ndarray, pair_rids: np.ndarray) -> np.ndarray:
    """(P,) row of each pair's image in the (N,) ascending ``rowid``s of the user's images."""
    if len(image_rids) and image_rids[-1] - image_rids[0] + 1 == len(image_rids):  # one contiguous block
        return pair_rids - image_rids[0]
    return np.searchsorted(image_rids, pair_rids)


def _tag_rows(tag_ids: np.ndarray, pair_tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P,) row of each pair's tag in the (T,) ascending tag ids, and whether it is there at all."""
    if not len(tag_ids) or not len(pair_tags):
        return np.zeros(len(pair_tags), np.int64), np.zeros(len(pair_tags), bool)
    lo, hi = int(min(tag_ids[0], pair_tags.min())), int(max(tag_ids[-1], pair_tags.max()))
    if hi - lo <= 4 * len(tag_ids) + 1024:  # small id range (the usual 0…T−1): a lookup table
        table = np.full(hi - lo + 1, -1, dtype=np.int64)
        table[tag_ids - lo] = np.arange(len(tag_ids))
        pos = table[pair_tags - lo]
        return np.maximum(pos, 0), pos >= 0
    pos = np.minimum(np.searchsorted(tag_ids, pair_tags), len(tag_ids) - 1)
    return pos, tag_ids[pos] == pair_tags


def load_user(ws: Workspace, user_id: str, people: bool = False) -> GraphInputs:
    """One user's inputs, read in one short read-only connection (no lock is held while computing).

    ``people``: read the person tags `memoire people` kept and found (see the module doc).

    DuckDB admits no writer process while a read-only connection is open, so the ``rowid``s of the
    queries below are one consistent snapshot.
    """
    with ws.connect(read_only=True) as con:
        now = con.execute(_NOW, [user_id]).fetchall()
        tags = (con.execute(_TAGS_PEOPLE, {"user": user_id}) if people else con.execute(_TAGS, [user_id])).fetchnumpy()
        images = con.execute(_IMAGES, [user_id] * 2).fetchnumpy()
        pairs = (con.execute(_PAIRS_PEOPLE, {"user": user_id}) if people else con.execute(_PAIRS, [user_id] * 2)).fetchnumpy()
    tag_ids = np.asarray(tags["tag_id"], dtype=np.int64)
    pair_rids = np.asarray(pairs["rid"], dtype=np.int64)
    pair_tags = np.asarray(pairs["tag_id"], dtype=np.int64)
    if (pair_rids < 0).any():
        raise MemoireError(f"user {user_id}: {int((pair_rids < 0).sum())} image_tags row(s) name images missing from images")
    order = np.argsort(np.asarray(images["rid"], dtype=np.int64), kind="stable")  # images by rowid
    image_rids = np.asarray(images["rid"], dtype=np.int64)[order]
    image_k = _rows_of(image_rids, pair_rids)  # (P,)
    pos, known = _tag_rows(tag_ids, pair_tags)
    if not known.all():
        unknown = sorted(set(pair_tags[~known].tolist()))
        raise MemoireError(f"user {user_id}: image_tags names tag id(s) {', '.join(map(str, unknown[:5]))} missing from tags")

    def column(name: str) -> np.ndarray:
        col = tags[name]
        out = np.empty(len(col), dtype=object)
        out[:] = np.ma.filled(col.astype(object), None) if np.ma.isMaskedArray(col) else col.astype(object)
        return out

    return GraphInputs(
        user_id=user_id,
        now_us=int(now[0][0]) if now and now[0][0] is not None else None,
        tag_ids=tag_ids,
        tag_types=column("type"),
        relations=column("relation"),
        times_us=np.asarray(images["t"], dtype=np.int64)[order],
        dated=np.asarray(images["dated"], dtype=bool)[order],
        views=np.asarray(images["views"], dtype=np.float64)[order],
        favourite=np.asarray(images["fav"], dtype=np.float64)[order],
        pair_image=image_k,
        pair_tag=pos.astype(np.int64),
    )
