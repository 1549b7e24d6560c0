"""Reading the folder's files for one ingest run, reusing what the last run read where nothing changed.

Per media file (:class:`~memoire_cli.ingest.scan.Found`), against the register of the last run
(``ingest_files``):

* same stat key as registered → its stored metadata and, when the pixel buffer's size is unchanged,
  its pixels (rows of the previous ``users/{user_id}/images``) are reused without opening it;
* otherwise it is read once into memory (stills; videos are hashed in chunks and decoded by
  OpenCV), its content hash taken from those bytes, and its metadata parsed; pixels are decoded
  unless the content hash and orientation are those of the previous run (a sidecar edit);
* a file whose stat key changed while it was read keeps the version read, with a note: the next
  run sees the new stat key and reads it again;
* a file with the content of one already read in this run is a *duplicate* of it (not ingested
  twice); a file that cannot be read is *skipped* with its reason.

Every file ends up as a :class:`FileResult`; change kinds against the register are ``added``,
``changed`` (new content), ``retagged`` (same content, new metadata), ``removed``, ``duplicate`` and
``skipped``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from memoire_cli.bounded import MAX_SIDECAR_BYTES, MAX_TAKEOUT_BYTES, BoundedReadError, read_capped
from memoire_cli.errors import first_line
from memoire_cli.ingest.enrol import FaceCandidate, face_candidates
from memoire_cli.ingest.frames import Frame, FrameStore
from memoire_cli.ingest.media import (
    MediaError,
    Metadata,
    apply_takeout,
    decode_still,
    read_metadata,
    read_video_metadata,
    sample_video,
)
from memoire_cli.ingest.scan import Found, current_stat_key, sha256_file
from memoire_cli.phash import phash

#: Stills larger than this many bytes are not read (no photo format needs it; a guard against odd files).
MAX_STILL_BYTES = 512 * 1024 * 1024


@dataclass
class Registered:
    """A row of the previous run's ``ingest_files``."""

    stat_key: str
    content_hash: str | None
    status: str
    detail: str | None
    meta: Metadata | None
    image_ids: list[str]
    reusable: bool = True  # False: read the file again whatever its stat key (--force, another code version)


@dataclass
class FileResult:
    found: Found
    status: str  # ingested | duplicate | skipped
    change: str | None  # added | changed | retagged | duplicate | skipped | None (unchanged)
    content_hash: str | None = None
    meta: Metadata | None = None
    frames: list[Frame] = field(default_factory=list)  # (h, w, 3) upright, ≤ size, kept on disk
    frame_index: list[int] = field(default_factory=list)  # video: index in the clip
    phashes: list[int] = field(default_factory=list)  # per frame
    faces: list[FaceCandidate] = field(default_factory=list)  # stills: named face regions, scored and cut
    detail: str | None = None
    duplicate_of: str | None = None

    def image_ids(self, user_id: str) -> list[str]:
        """Stills: ``{user}/{hash}``; video frames: ``{user}/{hash}.f{k}`` (k: kept frame number)."""
        if self.content_hash is None:
            return []
        base = f"{user_id}/{self.content_hash[:16]}"
        if self.found.media == "still":
            return [base]
        return [f"{base}.f{k}" for k in range(len(self.frame_index))]


def load_register(rows: list[tuple]) -> dict[str, Registered]:
    """``ingest_files`` rows (path, stat_key, content_hash, status, detail, metadata, image_ids) → register."""
    out: dict[str, Registered] = {}
    for path, stat_key, content_hash, status, detail, metadata, image_ids in rows:
        meta = Metadata.from_json(json.loads(metadata)) if metadata else None
        out[path] = Registered(stat_key, content_hash, status, detail, meta, json.loads(image_ids) if image_ids else [])
    return out


def read_file(found: Found, prev: Registered | None, old_pixels: Any, old_rows: dict[str, tuple[int, int, int]], size: int,
              max_pixels: int, store: FrameStore, anchor_size: int) -> FileResult:
    """One file's :class:`FileResult` (no duplicate detection: that needs the whole run).

    ``old_pixels``: the previous run's image array (None when absent or of another size);
    ``old_rows``: image_id → (idx, width, height) of the previous run's ``images``. Frames go to
    ``store``; their perceptual hashes and (stills) enrolment candidates are computed here, while
    the pixels are in memory.
    """
    try:
        result = _read_file(found, prev, old_pixels, old_rows, size, max_pixels)
        if result.status == "ingested" and result.meta is not None:
            arrays = result.frames
            result.phashes = [phash(f) for f in arrays]  # type: ignore[arg-type]
            if found.media == "still":
                result.faces = face_candidates(arrays[0], result.meta.regions, anchor_size)  # type: ignore[arg-type]
            result.frames = [store.put(f) for f in arrays]  # type: ignore[arg-type]
    except MemoryError:
        return FileResult(found, "skipped", "skipped", detail="cannot read (out of memory)")
    except Exception as exc:  # noqa: BLE001 - one bad file (a reader's bug on odd bytes) never aborts the run
        return FileResult(found, "skipped", "skipped", detail=f"cannot read ({type(exc).__name__}: {first_line(exc, 120)})")
    return result


def _why(exc: BaseException) -> str:
    """A short reason for a read that failed: the operating system's words, or the cap's."""
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return first_line(exc, 120)


def _read_file(found: Found, prev: Registered | None, old_pixels: Any, old_rows: dict[str, tuple[int, int, int]], size: int,
               max_pixels: int) -> FileResult:
    can_reuse_pixels = (prev is not None and prev.reusable and old_pixels is not None and bool(prev.image_ids)
                        and all(i in old_rows for i in prev.image_ids))

    def old_frames() -> list[np.ndarray]:
        assert prev is not None
        rows = [old_rows[i] for i in prev.image_ids]
        return [np.ascontiguousarray(np.asarray(old_pixels[idx])[:h, :w]) for idx, w, h in rows]

    if prev is not None and prev.reusable and prev.stat_key == found.stat_key:
        if prev.status == "skipped":
            return FileResult(found, "skipped", "skipped", prev.content_hash, detail=prev.detail)
        if prev.status == "ingested" and prev.meta is not None and can_reuse_pixels:
            frames = old_frames()
            index = list(prev.meta.video.get("frame_index", [])) if prev.meta.video else [0]
            return FileResult(found, "ingested", None, prev.content_hash, prev.meta, frames, index)
    notes: list[str] = []
    try:
        sidecar = read_capped(found.sidecar, MAX_SIDECAR_BYTES) if found.sidecar is not None else None
    except (OSError, BoundedReadError) as exc:
        sidecar = None
        notes.append(f"sidecar {found.sidecar_rel} not read ({_why(exc)}); ignored")
    try:
        takeout = read_capped(found.takeout, MAX_TAKEOUT_BYTES) if found.takeout is not None else None
    except (OSError, BoundedReadError) as exc:
        takeout = None
        notes.append(f"takeout JSON not read ({_why(exc)}); ignored")
    try:
        if found.media == "still":
            if found.size > MAX_STILL_BYTES:
                raise MediaError(f"{found.size:,} bytes: too large for a still")
            data = read_capped(found.path, MAX_STILL_BYTES)
            content_hash = _sha(data)
            meta, im = read_metadata(data, sidecar, max_pixels)
            same = prev is not None and prev.content_hash == content_hash and prev.meta is not None and prev.meta.orientation == meta.orientation
            if same and can_reuse_pixels:
                frames = old_frames()
            else:
                frames = [decode_still(im, meta.orientation, size)]
            index = [0]
        else:
            content_hash = sha256_file(found.path)
            meta = read_video_metadata(found.path, sidecar)
            frames, index, facts = sample_video(found.path, size)
            meta.width, meta.height = facts["width"], facts["height"]
            meta.video = {**facts, "frame_index": index}
    except MediaError as exc:
        return FileResult(found, "skipped", "skipped", detail=str(exc))
    except (OSError, BoundedReadError) as exc:
        return FileResult(found, "skipped", "skipped", detail=f"cannot read ({_why(exc)})")
    apply_takeout(meta, takeout)
    meta.problems.extend(notes)
    now = current_stat_key(found)
    if now != found.stat_key:
        meta.problems.append("changed while being read: the version read is ingested, the next run reads it again")
    if prev is None or prev.status != "ingested":
        change = "added"
    elif prev.content_hash != content_hash:
        change = "changed"
    elif prev.meta is not None and _same_metadata(prev.meta, meta):
        change = None  # touched, not changed
    else:
        change = "retagged"
    return FileResult(found, "ingested", change, content_hash, meta, frames, index)


def _same_metadata(a: Metadata, b: Metadata) -> bool:
    """Whether two readings say the same (problems aside), compared as their JSON."""
    ja, jb = a.to_json(), b.to_json()
    for d in (ja, jb):
        d.pop("problems", None)
    return json.dumps(ja, sort_keys=True, default=str) == json.dumps(jb, sort_keys=True, default=str)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()[:32]


def mark_duplicates(results: list[FileResult]) -> None:
    """A file whose content hash was already ingested earlier in path order becomes its duplicate."""
    first: dict[str, FileResult] = {}
    for r in results:
        if r.status != "ingested" or r.content_hash is None:
            continue
        hit = first.get(r.content_hash)
        if hit is None:
            first[r.content_hash] = r
            continue
        r.status, r.change, r.duplicate_of = "duplicate", "duplicate", hit.found.rel
        r.detail = f"same content as {hit.found.rel}"
        r.frames = []


def register_row(r: FileResult, user_id: str) -> dict[str, Any]:
    ids = r.image_ids(user_id) if r.status == "ingested" else []
    meta = r.meta.to_json() if r.meta is not None else None
    if meta is not None and r.found.media == "video" and r.meta is not None and r.meta.video is not None:
        meta["video"] = {**r.meta.video, "frame_index": list(r.frame_index)}
    problems = "; ".join(r.meta.problems) if r.meta is not None and r.meta.problems else None
    return {
        "path": r.found.rel, "sidecar": r.found.sidecar_rel, "media": r.found.media, "size": r.found.size,
        "stat_key": r.found.stat_key, "content_hash": r.content_hash, "status": r.status,
        "detail": r.detail if r.status != "ingested" else problems,
        "image_ids": json.dumps(ids), "metadata": json.dumps(meta, sort_keys=True, default=str) if meta is not None else None,
    }


def read_reference(path: Path, size: int, max_pixels: int) -> tuple[np.ndarray, Metadata]:
    """A reference photo named in the relations file (outside or inside the folder): pixels and metadata."""
    try:
        data = read_capped(path, MAX_STILL_BYTES)
    except BoundedReadError as exc:
        raise MediaError(str(exc)) from None
    side = None
    for candidate in (path.with_name(path.name + ".xmp"), path.with_suffix(".xmp")):
        if candidate.is_file():
            try:
                side = read_capped(candidate, MAX_SIDECAR_BYTES)
            except BoundedReadError as exc:
                raise MediaError(f"sidecar {candidate.name}: {exc}") from None
            break
    meta, im = read_metadata(data, side, max_pixels)
    return decode_still(im, meta.orientation, size), meta
