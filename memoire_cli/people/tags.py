"""The person tags downstream stages see once `memoire people` has run for a user.

`memoire people` writes, per image, the full set of its people (``people_image_tags``: the gallery's
person tags it kept, with their provenance region | keyword, and the people found by face) and the
people named by `memoire people name` (``people_tags``). ``graph`` and ``pat`` (and, downstream of
them, ``label`` and ``rank``) read them in place of the gallery's person tags *when the user's people
output is current*: computed from the gallery the
user holds now (``people_users.gallery_digest``). Otherwise (people never ran, or the gallery changed
since) they read the gallery exactly as before, and their input digests are unchanged.
"""

from __future__ import annotations

from typing import Any

from memoire_cli.workspace import GALLERY_STAGES

#: The user's tags: the gallery's, and the people named in `memoire people` (never the same ids).
TAGS_SQL = ("SELECT tag_id, type, name, relation FROM tags WHERE user_id = $user "
            "UNION ALL SELECT tag_id, 'P', name, relation FROM people_tags WHERE user_id = $user")
#: The user's (image, tag) pairs: the gallery's places and events, and the people `memoire people` kept or found.
IMAGE_TAGS_SQL = ("SELECT it.image_id, it.tag_id FROM image_tags it WHERE it.user_id = $user AND it.tag_id NOT IN "
                  "(SELECT tag_id FROM tags WHERE user_id = $user AND type = 'P') "
                  "UNION ALL SELECT image_id, tag_id FROM people_image_tags WHERE user_id = $user")


def gallery_digests(snapshot: dict[str, dict[str, tuple[str, str]]]) -> dict[str, str]:
    """user → ``"{stage}:{digest}"`` of the gallery it holds (synth or ingest), from ``ws.stage_users()``."""
    out: dict[str, str] = {}
    for stage in GALLERY_STAGES:
        out.update({u: f"{stage}:{d}" for u, (_, d) in snapshot.get(stage, {}).items()})
    return out


def current_people(ws: Any, snapshot: dict[str, dict[str, tuple[str, str]]] | None = None) -> dict[str, str]:
    """user → its committed people digest, for the users whose people output was computed from their current gallery."""
    snapshot = ws.stage_users() if snapshot is None else snapshot
    people = snapshot.get("people", {})
    if not people:
        return {}
    galleries = gallery_digests(snapshot)
    made_from = dict(ws.query("SELECT user_id, gallery_digest FROM people_users"))
    return {u: d for u, (_, d) in people.items() if u in galleries and made_from.get(u) == galleries[u]}


def with_people(ws: Any, inputs: dict[str, str], snapshot: dict[str, dict[str, tuple[str, str]]] | None = None) -> dict[str, str]:
    """Input digests (user → digest) extended by the user's current people output; unchanged for the others."""
    from memoire_cli.stage import inputs_digest

    current = current_people(ws, snapshot)
    return {u: inputs_digest([d, f"people:{current[u]}"]) if u in current else d for u, d in inputs.items()}



def people_current_for(db: Any, user_id: str) -> bool:
    """Whether the user's people output is current, on anything with ``query(sql, params)`` (a workspace, an open reader)."""
    rows = db.query(
        "SELECT p.gallery_digest, g.stage, g.digest FROM people_users p "
        "JOIN stage_users s ON s.stage = 'people' AND s.user_id = p.user_id "
        f"JOIN stage_users g ON g.user_id = p.user_id AND g.stage IN ({', '.join(repr(s) for s in GALLERY_STAGES)}) "
        "WHERE p.user_id = ?", [user_id])
    return any(made == f"{stage}:{digest}" for made, stage, digest in rows)


def user_tags(db: Any, user_id: str, people: bool) -> list[tuple]:
    """(tag_id, type, name, relation) of the user's tags: the gallery's, and with ``people`` the people named there."""
    if people:
        return db.query(TAGS_SQL, {"user": user_id})
    return db.query("SELECT tag_id, type, name, relation FROM tags WHERE user_id = ?", [user_id])


def user_image_tags(db: Any, user_id: str, people: bool) -> list[tuple]:
    """(image_id, tag_id) pairs ordered by image and tag: the gallery's, or with ``people`` people's person tags."""
    if people:
        return db.query(f"SELECT image_id, tag_id FROM ({IMAGE_TAGS_SQL}) ORDER BY image_id, tag_id", {"user": user_id})
    return db.query("SELECT image_id, tag_id FROM image_tags WHERE user_id = ? ORDER BY image_id, tag_id", [user_id])
