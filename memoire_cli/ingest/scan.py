"""Walking a photo folder: what is there, what is new or changed since the last ingest.

* **Walk.** ``os.walk`` following symbolic links, each real folder visited once (a link back to
  an ancestor — a symlink loop — is skipped with a note). Hidden files and folders (``.name``) are
  ignored. File names that are not valid UTF-8 are kept as the operating system gives them for
  opening and stored with their undecodable bytes written as ``\\xNN`` (:func:`display_path`).
* **Kinds.** Stills: JPEG, PNG, WebP, TIFF, and HEIC/HEIF when ``pillow-heif`` is installed.
  Videos: MP4, MOV, M4V, AVI, MKV, WebM, 3GP (OpenCV). ``.xmp`` files are sidecars
  (``IMG.jpg.xmp`` first, then ``IMG.xmp``); Google Photos Takeout's JSON files
  (``IMG.jpg.json``, ``IMG.jpg.supplemental-metadata.json``) are *takeout* sidecars; any other
  ``.json`` is ignored, and anything else is *unsupported* (counted, not read).
* **Change detection.** A file's *stat key* is its size and modification time in nanoseconds and
  those of its sidecar. The stage's input digest is a hash of every (path, stat key), so an
  unchanged folder is a cached no-op; a file whose stat key is unchanged since the last ingest is
  reused without being read (as git and rsync do); any other file is read and its content hash
  (SHA-256 of the bytes) decides whether it really changed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

STILL_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".3gp"})
SIDECAR_EXTENSION = ".xmp"


def display_path(rel: str) -> str:
    """A relative path as valid UTF-8 text (undecodable bytes as ``\\xNN``), POSIX separators."""
    raw = os.fsencode(rel)
    return raw.decode("utf-8", "backslashreplace").replace(os.sep, "/")


def heif_available() -> bool:
    """Whether HEIC/HEIF stills can be read (``pillow-heif`` registered as a Pillow opener)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


@dataclass(frozen=True)
class Found:
    """A media file of the folder."""

    rel: str  # the stored (display) relative path
    path: Path  # what the operating system opens
    media: str  # still | video
    size: int
    mtime_ns: int
    sidecar: Path | None
    sidecar_rel: str | None
    stat_key: str
    takeout: Path | None = None  # Google Takeout JSON sidecar


@dataclass
class Scan:
    """Everything the walk found."""

    files: list[Found] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (display path, reason)
    unsupported: list[tuple[str, str]] = field(default_factory=list)  # (display path, reason)

    def digest(self, extra: str = "") -> str:
        h = hashlib.sha256(extra.encode())
        for f in self.files:
            h.update(f"\x1e{f.rel}\x1f{f.stat_key}".encode())
        for rel, why in self.skipped:
            h.update(f"\x1d{rel}\x1f{why}".encode())
        return h.hexdigest()[:32]


def _stat_key(st: os.stat_result, side: os.stat_result | None, takeout: os.stat_result | None = None) -> str:
    key = f"{st.st_size}:{st.st_mtime_ns}"
    key += f"|{side.st_size}:{side.st_mtime_ns}" if side is not None else ""
    return key + (f"|json {takeout.st_size}:{takeout.st_mtime_ns}" if takeout is not None else "")


def _takeout(name: str, names: dict[str, str]) -> str | None:
    """Google Takeout's JSON beside a photo: ``name.json`` or ``name.supplemental-metadata.json``."""
    for candidate in (name + ".json", name + ".supplemental-metadata.json"):
        hit = names.get(candidate.lower())
        if hit is not None:
            return hit
    return None


def _sidecar(folder: str, name: str, names: dict[str, str]) -> str | None:
    """The sidecar's file name in ``folder``: ``name.xmp`` first, then ``stem.xmp`` (any case)."""
    stem = os.path.splitext(name)[0]
    for candidate in (name + SIDECAR_EXTENSION, stem + SIDECAR_EXTENSION):
        hit = names.get(candidate.lower())
        if hit is not None:
            return hit
    return None


def scan_folder(root: Path, heif: bool, exclude: tuple[Path, ...] = ()) -> Scan:
    """Walk ``root`` (see the module docstring); never raises for what is inside it.

    Folders in ``exclude`` (the workspace, when it lies inside the photo folder) are not entered.
    """
    out = Scan()
    seen: set[tuple[int, int]] = set()
    for path in exclude:
        try:
            st = os.stat(path)
        except OSError:
            continue
        seen.add((st.st_dev, st.st_ino))
    root_str = os.fspath(root)
    st = os.stat(root_str)
    seen.add((st.st_dev, st.st_ino))
    for folder, dirs, names in os.walk(root_str, followlinks=True, onerror=None):
        rel_folder = os.path.relpath(folder, root_str)
        keep = []
        for d in sorted(dirs):
            if d.startswith("."):
                continue
            full = os.path.join(folder, d)
            try:
                dst = os.stat(full)
            except OSError as exc:
                out.skipped.append((display_path(os.path.normpath(os.path.join(rel_folder, d))), f"unreadable folder ({exc.strerror})"))
                continue
            if (dst.st_dev, dst.st_ino) in seen:
                if not any(os.path.samefile(full, x) for x in exclude if os.path.exists(x)):
                    out.skipped.append((display_path(os.path.normpath(os.path.join(rel_folder, d))), "symlink loop (folder already visited)"))
                continue
            seen.add((dst.st_dev, dst.st_ino))
            keep.append(d)
        dirs[:] = keep
        lower = {n.lower(): n for n in names}
        for name in sorted(names):
            if name.startswith("."):
                continue
            ext = os.path.splitext(name)[1].lower()
            rel = display_path(os.path.normpath(os.path.join(rel_folder, name)))
            if ext in (SIDECAR_EXTENSION, ".json"):
                continue
            if ext in STILL_EXTENSIONS or (heif and ext in HEIF_EXTENSIONS):
                media = "still"
            elif ext in VIDEO_EXTENSIONS:
                media = "video"
            else:
                out.unsupported.append((rel, "HEIC/HEIF: install pillow-heif to read it" if ext in HEIF_EXTENSIONS
                                        else "not a photo or video format memoire reads"))
                continue
            full = os.path.join(folder, name)
            try:
                fst = os.stat(full)
            except OSError as exc:
                reason = "symlink loop" if exc.errno == 40 else "broken symlink" if os.path.islink(full) else exc.strerror
                out.skipped.append((rel, f"cannot open ({reason})"))
                continue
            if not os.path.isfile(full):
                out.skipped.append((rel, "not a regular file"))
                continue
            side_name = _sidecar(folder, name, lower)
            side_st = take_st = None
            if side_name is not None:
                try:
                    side_st = os.stat(os.path.join(folder, side_name))
                except OSError:
                    side_name = None
            take_name = _takeout(name, lower)
            if take_name is not None:
                try:
                    take_st = os.stat(os.path.join(folder, take_name))
                except OSError:
                    take_name = None
            out.files.append(Found(
                rel=rel, path=Path(full), media=media, size=fst.st_size, mtime_ns=fst.st_mtime_ns,
                sidecar=Path(folder, side_name) if side_name else None,
                sidecar_rel=display_path(os.path.normpath(os.path.join(rel_folder, side_name))) if side_name else None,
                stat_key=_stat_key(fst, side_st, take_st), takeout=Path(folder, take_name) if take_name else None))
    out.files.sort(key=lambda f: f.rel)
    return out


def current_stat_key(found: Found) -> str | None:
    """The stat key now (None if the file vanished): compared with the scan's to notice edits mid-run."""
    try:
        st = os.stat(found.path)
        side = os.stat(found.sidecar) if found.sidecar is not None else None
        take = os.stat(found.takeout) if found.takeout is not None else None
    except OSError:
        return None
    return _stat_key(st, side, take)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()[:32]
