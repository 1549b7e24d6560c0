"""What people call an image: the file it came from, and when it was taken in the photo's own time.

Inside a workspace an image is an id (``{user_id}/{hash}`` for an ingested photo, ``{user_id}/{idx:05d}``
for a synthetic one); people know their photos by file. Every output meant for a person names an
ingested image by its path relative to the ingested folder (``ingest_files.path``; a video's frames
by the video's path and the frame number) and shows its capture time as the photo's metadata says
it: EXIF ``DateTimeOriginal`` with ``OffsetTimeOriginal`` (or the XMP date and its offset) is shown
in that offset's local time, a time without an offset as the camera's wall-clock time, a UTC
instant without a local offset (Google Takeout, an MP4 ``mvhd``, an XMP date ending in ``Z``) with
"UTC". Synthetic images keep their id and their (time-zone-less) time.

:func:`image_names` builds the id → :class:`ImageName` lookup once per set of users;
:func:`resolve_image` turns what a person typed after ``--image`` (an id, a path relative to the
folder, or an absolute path inside it) into an image id.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from memoire_cli.errors import MemoireError


@dataclass(frozen=True)
class ImageName:
    """One image as people know it. ``path``: relative to the ingested folder (None: a synthetic image)."""

    image_id: str
    path: str | None = None
    frame: int | None = None  # a video's kept frame number (0-based); None for stills
    taken: datetime | None = None  # the capture time as the photo states it: local when tz/offset known, else as stored
    tz_minutes: int | None = None  # the stated offset, minutes east of UTC
    utc: bool = False  # ``taken`` is a UTC instant whose local offset is unknown

    @property
    def label(self) -> str:
        """The path (a video frame: ``path [frame k]``, 1-based), or the id of a synthetic image."""
        if self.path is None:
            return self.image_id
        return self.path if self.frame is None else f"{self.path} [frame {self.frame + 1}]"

    @property
    def file_name(self) -> str:
        """The last part of :attr:`label` (what fits under a thumbnail)."""
        if self.path is None:
            return self.image_id
        name = posixpath.basename(self.path)
        return name if self.frame is None else f"{name} [{self.frame + 1}]"

    def taken_text(self) -> str:
        """``YYYY-MM-DD HH:MM`` in the photo's local time ("… UTC" when only the instant is known); "" undated."""
        return taken_text(self.taken_iso())

    def taken_iso(self) -> str | None:
        """ISO 8601 of :attr:`taken`: with the stated offset (``+02:00``), ``Z`` for a bare UTC instant, else none."""
        if self.taken is None:
            return None
        if self.tz_minutes is not None:
            sign = "+" if self.tz_minutes >= 0 else "-"
            hours, minutes = divmod(abs(self.tz_minutes), 60)
            return f"{self.taken.isoformat()}{sign}{hours:02d}:{minutes:02d}"
        return self.taken.isoformat() + ("Z" if self.utc else "")


def taken_text(iso: str | None) -> str:
    """What people read of a :meth:`ImageName.taken_iso`: ``YYYY-MM-DD HH:MM`` ("… UTC" for a bare UTC instant)."""
    if not iso:
        return ""
    return iso[:16].replace("T", " ") + (" UTC" if iso.endswith("Z") else "")


def local_time(stored: datetime | None, utc: bool, tz_minutes: int | None) -> tuple[datetime | None, bool]:
    """(the time to show, whether it is a bare UTC instant) of a stored ``images.taken_at``.

    ``utc``: ingest converted it to UTC (``taken_offset``); ``tz_minutes``: the offset it stated
    (``taken_tz``, None when it stated none or only a UTC instant).
    """
    if stored is None:
        return None, False
    if utc and tz_minutes is not None:
        return stored + timedelta(minutes=tz_minutes), False
    return stored, utc


def _file_rows(ws: Any, users: list[str]) -> list[tuple]:
    marks = ", ".join("?" * len(users))
    return ws.query(
        "SELECT user_id, path, media, image_ids, json_extract_string(metadata, '$.taken_offset'), "
        f"json_extract_string(metadata, '$.taken_tz') FROM ingest_files WHERE status = 'ingested' AND user_id IN ({marks})", users)


def image_names(ws: Any, users: Iterable[str]) -> dict[str, ImageName]:
    """image id → :class:`ImageName` for every image of ``users`` (one query of ``images``, one of ``ingest_files``)."""
    users = list(dict.fromkeys(users))
    if not users:
        return {}
    marks = ", ".join("?" * len(users))
    taken = dict(ws.query(f"SELECT image_id, taken_at FROM images WHERE user_id IN ({marks})", users))
    out = {i: ImageName(i, taken=t) for i, t in taken.items()}
    for _, path, media, ids, utc, tz in _file_rows(ws, users):
        ids = json.loads(ids or "[]")
        tz_minutes = int(tz) if tz not in (None, "null") else None
        for k, image_id in enumerate(ids):
            if image_id not in out:
                continue
            shown, bare_utc = local_time(taken.get(image_id), utc == "true", tz_minutes)
            out[image_id] = ImageName(image_id, path, k if media == "video" else None, shown,
                                      tz_minutes if utc == "true" else None, bare_utc)
    return out


def image_name(ws: Any, image_id: str) -> ImageName:
    """The :class:`ImageName` of one image (its id alone when the workspace has no such image)."""
    found = ws.query("SELECT user_id FROM images WHERE image_id = ?", [image_id])
    if not found:
        return ImageName(image_id)
    return image_names(ws, [found[0][0]]).get(image_id, ImageName(image_id))


def ingested_folders(ws: Any) -> dict[str, Path]:
    """user → the folder its latest ingest read (``runs.params.folder``), for the users that came from ingest."""
    rows = ws.query("SELECT s.user_id, r.params FROM stage_users s JOIN runs r ON r.run_id = s.run_id WHERE s.stage = 'ingest'")
    out = {}
    for user_id, params in rows:
        folder = json.loads(params or "{}").get("folder")
        if folder:
            out[user_id] = Path(folder)
    return out


def _relative_candidates(ws: Any, text: str) -> list[tuple[str | None, str]]:
    """(user or None for any, path relative to that user's folder) that ``text`` may name."""
    out: list[tuple[str | None, str]] = []
    given = Path(text).expanduser()
    if not given.is_absolute():
        rel = posixpath.normpath(text.replace("\\", "/"))
        if not rel.startswith("../") and rel not in (".", ".."):
            out.append((None, rel))
    if given.is_absolute() or given.exists():
        try:
            full = given.resolve()
        except (OSError, RuntimeError):
            return out
        for user_id, folder in ingested_folders(ws).items():
            try:
                out.append((user_id, full.relative_to(folder.resolve()).as_posix()))
            except ValueError:
                continue
    return out


def resolve_image(ws: Any, text: str) -> str:
    """The image id that ``text`` names: an image id, or a file ingested into the workspace given by its
    path relative to the ingested folder, or its absolute path (or a path from here) inside that folder.
    A video names its first kept frame; a duplicate file the image of the file it duplicates.
    :class:`MemoireError` (one line, naming ``text``) when it names none."""
    text = text.strip()
    if not text:
        raise MemoireError("--image: an image id or a file path is needed")
    if ws.query("SELECT 1 FROM images WHERE image_id = ?", [text]):
        return text
    matches: dict[tuple[str, str], tuple] = {}
    for user_id, rel in _relative_candidates(ws, text):
        sql = "SELECT user_id, path, status, detail, image_ids, content_hash FROM ingest_files WHERE path = ?"
        for row in ws.query(sql + ("" if user_id is None else " AND user_id = ?"), [rel] if user_id is None else [rel, user_id]):
            matches[(row[0], row[1])] = row
    if not matches:
        raise MemoireError(f"no image {text!r} in the workspace: neither an image id nor a file ingested from the photo folder")
    if len(matches) > 1:
        users = sorted({u for u, _ in matches})
        raise MemoireError(f"{text!r} names a file of several ingested users ({', '.join(users)}): give its image id instead")
    ((user_id, path, status, detail, ids, content_hash),) = matches.values()
    ids = json.loads(ids or "[]")
    if status == "ingested" and ids:
        return ids[0]
    if status == "duplicate" and content_hash:
        same = ws.query("SELECT image_ids FROM ingest_files WHERE user_id = ? AND content_hash = ? AND status = 'ingested'",
                        [user_id, content_hash])
        if same and json.loads(same[0][0] or "[]"):
            return json.loads(same[0][0])[0]
    why = f": {detail}" if detail else ""
    raise MemoireError(f"{path} was not ingested ({status}{why})")
