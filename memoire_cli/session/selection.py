"""Sessions: which of a user's images a ranking is for (S1.2.8: "a session S", e.g. a trip or an event).

A session spec is one of::

    all                               the whole gallery (default)
    event:ID                          one event instance (events.event_id, per user)
    dates:YYYY-MM-DD..YYYY-MM-DD      images taken on those days (both ends included), in each photo's
                                      local time as its metadata says (memoire_cli.image_names)
    ids:a,b,c   or   ids:@FILE        these images: ids or ingested files' paths (FILE: separated by commas or new lines)
    folder:PREFIX                     ingested images whose file path starts with PREFIX (ingest_files.path)

:func:`parse_session` checks the syntax only; :func:`session_indices` resolves a spec against one
user's gallery (rows of ``images``, i.e. images.idx).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.bounded import MAX_LIST_BYTES, BoundedReadError, read_text_capped
from memoire_cli.errors import MemoireError, UsageError

KINDS = ("all", "event", "dates", "ids", "folder")
#: Most image ids an ``ids:`` session may name (a gallery of a lifetime; the list is read with a cap too).
MAX_SESSION_IDS = 200_000


@dataclass(frozen=True)
class Session:
    """A parsed session spec; ``text`` is its canonical form (it enters the rank fingerprint)."""

    kind: str
    event_id: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    image_ids: tuple[str, ...] = ()
    prefix: str = ""

    @property
    def text(self) -> str:
        if self.kind == "event":
            return f"event:{self.event_id}"
        if self.kind == "dates":
            return f"dates:{self.start}..{self.end}"
        if self.kind == "ids":
            return "ids:" + ",".join(self.image_ids)
        if self.kind == "folder":
            return f"folder:{self.prefix}"
        return "all"


def parse_session(text: str) -> Session:
    """A session spec (see the module docstring) → :class:`Session`; :class:`UsageError` when malformed."""
    text = (text or "").strip()
    kind, _, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind == "all" and not arg:
        return Session("all")
    if kind == "event":
        try:
            return Session("event", event_id=int(arg))
        except ValueError:
            raise UsageError(f"session {text!r}: event:ID needs an integer event id") from None
    if kind == "dates":
        first, sep, last = arg.partition("..")
        try:
            start, end = dt.date.fromisoformat(first.strip()), dt.date.fromisoformat((last if sep else first).strip())
        except ValueError:
            raise UsageError(f"session {text!r}: dates:YYYY-MM-DD..YYYY-MM-DD expected") from None
        if end < start:
            raise UsageError(f"session {text!r}: the range ends before it starts")
        return Session("dates", start=start, end=end)
    if kind == "ids":
        if arg.startswith("@"):
            path = Path(arg[1:])
            try:
                arg = read_text_capped(path, MAX_LIST_BYTES)
            except OSError as exc:
                raise UsageError(f"session ids:@{path}: cannot read it: {exc.strerror or type(exc).__name__}") from None
            except BoundedReadError as exc:
                raise UsageError(f"session ids:@{path}: {exc}") from None
        ids = tuple(dict.fromkeys(i.strip() for i in arg.replace("\n", ",").split(",") if i.strip()))
        if not ids:
            raise UsageError(f"session {text[:80]!r}: ids: needs at least one image id")
        if len(ids) > MAX_SESSION_IDS:
            raise UsageError(f"session ids: at most {MAX_SESSION_IDS:,} image ids, got {len(ids):,}")
        if max(len(i) for i in ids) > 512:
            raise UsageError("session ids: an image id is longer than 512 characters")
        return Session("ids", image_ids=ids)
    if kind == "folder":
        prefix = arg.strip().removeprefix("./")
        if not prefix:
            raise UsageError(f"session {text!r}: folder: needs a path prefix")
        return Session("folder", prefix=prefix)
    raise UsageError(f"session {text!r}: expected all, event:ID, dates:A..B, ids:a,b or ids:@FILE, folder:PREFIX")


def session_indices(ws: Any, user_id: str, session: Session) -> np.ndarray:
    """images.idx of the user's images in ``session``, ascending (may be empty)."""
    if session.kind == "all":
        rows = ws.query("SELECT idx FROM images WHERE user_id = ? ORDER BY idx", [user_id])
    elif session.kind == "event":
        rows = ws.query("SELECT idx FROM images WHERE user_id = ? AND event_id = ? ORDER BY idx", [user_id, session.event_id])
    elif session.kind == "dates":
        from memoire_cli.image_names import image_names

        idx = dict(ws.query("SELECT image_id, idx FROM images WHERE user_id = ?", [user_id]))
        days = {i: n.taken.date() for i, n in image_names(ws, [user_id]).items() if n.taken is not None}
        start, end = session.start, session.end
        assert start is not None and end is not None  # a "dates" session always has both (parse_session)
        return np.array(sorted(idx[i] for i, d in days.items() if start <= d <= end), dtype=np.int64)
    elif session.kind == "ids":
        ids, _ = resolve_images(ws, session.image_ids)
        marks = ", ".join("?" * len(ids))
        rows = ws.query(f"SELECT idx FROM images WHERE user_id = ? AND image_id IN ({marks}) ORDER BY idx", [user_id, *ids]) if ids else []
    else:
        files = ws.query("SELECT path, image_ids FROM ingest_files WHERE user_id = ? AND status = 'ingested'", [user_id])
        wanted = [i for path, ids in files if path.startswith(session.prefix) for i in json.loads(ids or "[]")]
        if not wanted:
            return np.zeros(0, np.int64)
        marks = ", ".join("?" * len(wanted))
        rows = ws.query(f"SELECT idx FROM images WHERE user_id = ? AND image_id IN ({marks}) ORDER BY idx", [user_id, *wanted])
    return np.array([r[0] for r in rows], dtype=np.int64)


def resolve_images(ws: Any, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """(image ids, names naming none) of an ``ids:`` list: image ids, or ingested files' paths
    (:func:`memoire_cli.image_names.resolve_image`)."""
    from memoire_cli.image_names import resolve_image

    marks = ", ".join("?" * len(names))
    known = {r[0] for r in ws.query(f"SELECT image_id FROM images WHERE image_id IN ({marks})", list(names))} if names else set()
    ids, unknown = [], []
    for name in names:
        if name in known:
            ids.append(name)
            continue
        try:
            ids.append(resolve_image(ws, name))
        except MemoireError:
            unknown.append(name)
    return list(dict.fromkeys(ids)), unknown


def check_session(ws: Any, users: list[str], session: Session) -> dict[str, int]:
    """Images per user in ``session``; :class:`MemoireError` when it matches none at all (or names unknown images)."""
    if session.kind == "ids":
        _, unknown = resolve_images(ws, session.image_ids)
        if unknown:
            raise MemoireError(f"session {session.text[:60]}: unknown image id(s) or file(s): {', '.join(unknown[:5])}")
    counts = {u: len(session_indices(ws, u, session)) for u in users}
    if not any(counts.values()):
        who = users[0] if len(users) == 1 else f"any of the {len(users)} users"
        raise MemoireError(f"session {session.text[:60]} matches no image of {who}")
    return counts
