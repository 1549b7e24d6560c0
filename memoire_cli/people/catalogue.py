"""`memoire people list` and `memoire people name`: who the faces are, and naming an unnamed person.

``list`` reports, per user, the people (gallery person tags and people named here) with the number
of images they are in and how many of those were found by face alone, the unnamed clusters with
their face and image counts, and the flagged names; ``--crops DIR`` writes one face crop per person
and per cluster (``{user}-{tag or cluster}.png``).

``name CLUSTER --as NAME --relation REL`` records the name in ``people_names`` (a new person tag,
id ≥ :data:`NAMED_TAG_BASE`, enrolled with the mean ArcFace embedding of the cluster's faces) and
re-runs the people stage for the cluster's user with the parameters of its last run: its faces now
match the named person, so the photos carry the new tag; ``graph`` and ``pat`` see a new people
digest and recompute that user on their next run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.workspace import Workspace, utcnow

#: Tags of people named here start at this id, far above any gallery's (a re-ingest may add people).
NAMED_TAG_BASE = 100000


def list_people(ws: Workspace, users: list[str] | None = None, crops: Path | None = None) -> dict[str, Any]:
    """A JSON-able catalogue of the people and unnamed clusters of each user people ran for."""
    ran = [u for (u,) in ws.query("SELECT user_id FROM people_users ORDER BY user_id")]
    if users:
        missing = sorted(set(users) - set(ran))
        if missing:
            raise MemoireError(f"`memoire people` has not run for user(s) {', '.join(missing[:5])}: run it first")
        ran = [u for u in ran if u in set(users)]
    if not ran:
        raise MemoireError(f"`memoire people` has not run in {ws.root}: run it first")
    out: dict[str, Any] = {"workspace": str(ws.root), "stage": "people list", "users": {}}
    for user_id in ran:
        out["users"][user_id] = _user_catalogue(ws, user_id, crops)
    return out


def _user_catalogue(ws: Workspace, user_id: str, crops: Path | None) -> dict[str, Any]:
    people = ws.query(
        "SELECT t.tag_id, t.name, t.relation, t.origin, count(p.image_id), count(*) FILTER (WHERE p.source = 'face') "
        "FROM (SELECT tag_id, name, relation, 'gallery' AS origin FROM tags WHERE user_id = $u AND type = 'P' "
        "      UNION ALL SELECT tag_id, name, relation, 'named' FROM people_tags WHERE user_id = $u) t "
        "LEFT JOIN people_image_tags p ON p.user_id = $u AND p.tag_id = t.tag_id "
        "GROUP BY ALL ORDER BY count(p.image_id) DESC, t.tag_id", {"u": user_id})
    best = {int(t): f for t, f in ws.query(
        "SELECT tag_id, arg_max(face_idx, cos) FROM people_faces WHERE user_id = ? AND tag_id IS NOT NULL GROUP BY tag_id", [user_id])}
    clusters = ws.query("SELECT cluster_id, faces, images, sample_face FROM people_clusters WHERE user_id = ? "
                        "ORDER BY faces DESC, cluster_id", [user_id])
    flags = ws.query("SELECT image_id, path, tag_id, best_cos, face_tag_id, face_cos, action FROM people_flags "
                     "WHERE user_id = ? ORDER BY image_id, tag_id", [user_id])
    faces = {int(r[0]): r[1:] for r in ws.query(
        "SELECT face_idx, image_id, x0, y0, x1, y1 FROM people_faces WHERE user_id = ?", [user_id])}
    entry: dict[str, Any] = {
        "people": [{"tag_id": int(t), "name": n, "relation": r, "origin": o, "images": int(k), "by_face": int(f),
                    "sample_face": best.get(int(t))} for t, n, r, o, k, f in people],
        "clusters": [{"cluster_id": c, "faces": int(f), "images": int(i), "sample_face": int(s),
                      "sample_image": faces[int(s)][0]} for c, f, i, s in clusters],
        "flags": [{"image_id": i, "path": p, "tag_id": int(t), "best_cos": round(float(b), 4),
                   "face_tag_id": None if q is None else int(q), "face_cos": None if c is None else round(float(c), 4), "action": a}
                  for i, p, t, b, q, c, a in flags],
    }
    if crops is not None:
        wanted = {f"p{p['tag_id']}": p["sample_face"] for p in entry["people"] if p["sample_face"] is not None}
        wanted.update({c["cluster_id"]: c["sample_face"] for c in entry["clusters"]})
        written = write_crops(ws, user_id, {k: faces[f] for k, f in wanted.items()}, crops)
        for p in entry["people"]:
            p["crop"] = written.get(f"p{p['tag_id']}")
        for c in entry["clusters"]:
            c["crop"] = written.get(c["cluster_id"])
    return entry


def write_crops(ws: Workspace, user_id: str, boxes: dict[str, tuple], folder: Path, size: int = 112) -> dict[str, str]:
    """One PNG per key: the face box (image_id, x0, y0, x1, y1) with a margin, ``size`` px square; returns key → path."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    idx = dict(ws.query("SELECT image_id, idx FROM images WHERE user_id = ?", [user_id]))
    pixels = ws.read_array("images", user_id)
    out: dict[str, str] = {}
    for key, (image_id, x0, y0, x1, y1) in sorted(boxes.items()):
        image = np.asarray(pixels[idx[image_id]])
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.75 * max(x1 - x0, y1 - y0)
        left, top = max(0, int(cx - half)), max(0, int(cy - half))
        crop = image[top:max(top + 1, int(cy + half)), left:max(left + 1, int(cx + half))]
        path = folder / f"{user_id.replace('/', '_')}-{key}.png"
        tmp = path.with_suffix(".png.part")
        Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR).save(tmp, format="PNG")
        tmp.replace(path)  # written whole or not at all
        out[key] = str(path)
    return out


def find_cluster(ws: Workspace, cluster: str) -> tuple[str, int, int]:
    """(user_id, faces, images) of an unnamed cluster; a one-line error when there is none."""
    found = ws.query("SELECT user_id, faces, images FROM people_clusters WHERE cluster_id = ?", [cluster])
    if not found:
        named = ws.query("SELECT name FROM people_names WHERE cluster_id = ?", [cluster])
        if named:
            raise MemoireError(f"cluster {cluster} is already named {named[0][0]!r}")
        raise MemoireError(f"no unnamed person {cluster!r} in {ws.root} (see `memoire people list`)")
    if len(found) > 1:  # ids hash the user in, so this would be a corrupt workspace
        raise MemoireError(f"cluster id {cluster} is held by several users")
    user_id, faces, images = found[0]
    return user_id, int(faces), int(images)


def name_cluster(ws: Workspace, cluster: str, name: str, relation: str) -> dict[str, Any]:
    """Record the name of an unnamed cluster (a new person tag of its user); returns the new row."""
    from memoire_cli.ingest.relations import relation_labels, relation_of

    name = name.strip()
    if not name or any(ch in name for ch in "\n\r\t"):
        raise UsageError("--as needs a name (one line, not empty)")
    label = relation_of(relation)
    if label is None:
        raise UsageError(f"--relation {relation!r} is not a relation (one of: {', '.join(relation_labels())})")
    user_id, _, _ = find_cluster(ws, cluster)
    taken = _taken(ws, user_id, name)
    if taken:
        raise MemoireError(f"user {user_id} already has a person called {name!r} (tag {taken[0]}): choose another name")
    idx = [int(f) for (f,) in ws.query("SELECT face_idx FROM people_faces WHERE user_id = ? AND cluster_id = ? ORDER BY face_idx",
                                       [user_id, cluster])]
    emb = np.asarray(ws.read_array("people_faces", user_id)[...], np.float64)[idx]  # (F, 512)
    mean = emb.mean(axis=0)
    reference = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)

    def insert(con: Any) -> int:
        top = con.execute("SELECT max(tag_id) FROM people_names WHERE user_id = ?", [user_id]).fetchone()[0]
        tag_id = NAMED_TAG_BASE if top is None else int(top) + 1
        con.execute("INSERT INTO people_names VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [user_id, tag_id, name, label, cluster, reference.tolist(), utcnow()])
        return tag_id

    tag_id = ws.transaction(insert)
    return {"user_id": user_id, "tag_id": tag_id, "name": name, "relation": label, "cluster_id": cluster, "faces": len(idx)}


def _taken(ws: Workspace, user_id: str, name: str) -> list[int]:
    """Tag ids of the user's people (gallery or named here) called ``name`` (case-insensitive)."""
    return [int(t) for (t,) in ws.query(
        "SELECT tag_id FROM tags WHERE user_id = ? AND type = 'P' AND lower(name) = lower(?) "
        "UNION ALL SELECT tag_id FROM people_names WHERE user_id = ? AND lower(name) = lower(?)", [user_id, name, user_id, name])]


def last_config(ws: Workspace, user_id: str) -> dict[str, Any]:
    """The parameters of the people run that wrote the user's current output."""
    found = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id WHERE s.stage = 'people' AND s.user_id = ?",
                     [user_id])
    return json.loads(found[0][0]) if found else {}
