"""The picks to act on: a user's latest ranking (``rankings``, written by `memoire rank`) joined to
the files `memoire ingest` read them from (``ingest_files``, and the folder of the user's ingest run).

A video's kept frames are images of their own; a clip with several picked frames is one file, taken
at its best frame's place. The star rule is :func:`stars_for`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from memoire_cli.errors import MemoireError, UsageError


@dataclass(frozen=True)
class Pick:
    """One file of the selection, in pick order."""

    order: int  # 0-based place among the exported files
    pick: int  # the MMR pick (rankings.pick) of its best image
    image_id: str  # that image (a video: its best frame)
    rel: str  # the file, relative to the ingested folder (ingest_files.path)
    path: Path  # the file on disk
    media: str  # still | video
    stars: int
    impact: float
    score: float
    reasons: list[dict[str, Any]] = field(default_factory=list)
    known: dict[str, str] = field(default_factory=dict)  # rating and label ingest read ({"xmp:Rating": "4", "xmp:Label": …})


@dataclass(frozen=True)
class Selection:
    user_id: str
    session: str
    folder: Path
    picks: list[Pick]
    n_images: int  # images in the ranked session


def stars_for(position: int, n: int) -> int:
    """Stars for the pick at 0-based ``position`` of ``n`` picks (MMR order): the first ⌈n/3⌉ 5★,
    the next ⌈n/3⌉ 4★, the rest 3★ (20 picks: 7, 7 and 6; 2 picks: 5★ and 4★). A pick is never
    below 3★, so a "rating ≥ 3" filter in a photo manager shows the picks."""
    third = max(1, math.ceil(n / 3))
    return 5 - min(2, position // third)


def choose_user(ws: Any, user: str | None) -> str:
    """``--user``, else the only user with a ranking; a clear error otherwise."""
    ranked = [u for (u,) in ws.query("SELECT DISTINCT user_id FROM sessions ORDER BY user_id")]
    if user is not None:
        if user not in ranked:
            raise UsageError(f"user {user!r} has no ranking in {ws.root}: run `memoire rank --users {user}` first"
                             + (f" (ranked: {', '.join(ranked)})" if ranked else ""))
        return user
    if not ranked:
        raise MemoireError(f"no ranking in {ws.root}: run `memoire rank` first (export acts on its picks)")
    if len(ranked) > 1:
        raise UsageError(f"{len(ranked)} users are ranked ({', '.join(ranked[:5])}{' …' if len(ranked) > 5 else ''}): choose one with --user")
    return ranked[0]


def ingested_folder(ws: Any, user_id: str) -> Path:
    """The photo folder of the user's committed ingest run."""
    rows = ws.query("SELECT r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id "
                    "WHERE s.stage = 'ingest' AND s.user_id = ?", [user_id])
    if not rows:
        raise MemoireError(f"user {user_id}'s gallery was not ingested from a photo folder (memoire synth?): "
                           "export acts on the files `memoire ingest` read")
    return Path(json.loads(rows[0][0])["folder"])


def load_selection(ws: Any, user_id: str) -> Selection:
    """The user's picks, each with its file (see the module docstring)."""
    folder = ingested_folder(ws, user_id)
    session = ws.query("SELECT session, n_images FROM sessions WHERE user_id = ?", [user_id])
    rows = ws.query("SELECT image_id, pick, impact, score, reasons FROM rankings WHERE user_id = ? AND pick IS NOT NULL "
                    "ORDER BY pick", [user_id])
    files: dict[str, tuple[str, str, dict[str, str]]] = {}
    for path, media, image_ids, metadata in ws.query(
            "SELECT path, media, image_ids, metadata FROM ingest_files WHERE user_id = ? AND status = 'ingested'", [user_id]):
        for image_id in json.loads(image_ids or "[]"):
            files[image_id] = (path, media, known_values(json.loads(metadata or "{}")))
    picks: list[Pick] = []
    seen: set[str] = set()
    for image_id, pick, impact, score, reasons in rows:
        found = files.get(image_id)
        if found is None:
            raise MemoireError(f"picked image {image_id} has no file in ingest_files: the ranking is older than the last "
                               "ingest; run `memoire rank` again")
        rel, media, known = found
        if rel in seen:  # another frame of a clip already taken
            continue
        seen.add(rel)
        picks.append(Pick(len(picks), int(pick), image_id, rel, folder / os_path(rel), media, 0,
                          float(impact), float(score), json.loads(reasons or "[]"), known))
    picks = [replace(p, stars=stars_for(p.order, len(picks))) for p in picks]
    return Selection(user_id, session[0][0] if session else "all", folder, picks, int(session[0][1]) if session else 0)


def known_values(meta: dict[str, Any]) -> dict[str, str]:
    """The rating and colour label ``memoire ingest`` read for a file (embedded XMP, EXIF or the
    sidecar), as the XMP values export would compare them with (stars as whole numbers)."""
    out: dict[str, str] = {}
    rating = meta.get("rating")
    if isinstance(rating, (int, float)) and rating != 0:
        out["xmp:Rating"] = str(int(rating)) if rating == int(rating) else str(rating)
    if meta.get("label"):
        out["xmp:Label"] = str(meta["label"])
    return out


def os_path(rel: str) -> str:
    """A stored relative path (``/`` separated, undecodable bytes as ``\\xNN``) as the operating system names it."""
    if "\\x" in rel:
        import re

        raw = re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), rel.encode("utf-8"))
        return os.fsdecode(raw).replace("/", os.sep)
    return rel.replace("/", os.sep)
