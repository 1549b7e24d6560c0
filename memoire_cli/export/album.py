"""The selection as a folder: ``DIR/NAME/001_IMG_1234.jpg`` … in pick order, with the gallery.

* **Files.** Symbolic links to the originals (default; absolute targets) or copies (``--copy``,
  with their modification times). Each file's XMP sidecar goes alongside as ``<name>.xmp`` (for
  example ``001_IMG_1234.jpg.xmp``, the style digiKam and darktable read; never the stem style, which
  two album files could share): a link to the original's sidecar, or a copy of it.
* **Names.** An ordering prefix (``001_``, as wide as the count needs) keeps the pick order in any
  file browser; without it (``--no-prefix``) the original names are kept and a name taken already
  (compared case-insensitively, as on macOS and Windows volumes) gets ``-2``, ``-3`` … before its
  extension. Nothing is ever overwritten.
* **All at once.** The album is built in a hidden folder beside it and renamed into place, so an
  interrupted export leaves no half album. An existing album folder is refused unless ``--force``,
  which replaces it only if it holds nothing but what memoire wrote there (listed in its
  ``.memoire-album.json``).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from memoire_cli.errors import MemoireError, UsageError
from memoire_cli.export.picks import Pick

#: The album's list of what memoire wrote into it (what ``--force`` may replace).
ALBUM_LIST = ".memoire-album.json"
GALLERY = "index.html"


@dataclass(frozen=True)
class Entry:
    """One album file: its name, the original it stands for and the original's sidecar (if any)."""

    name: str
    pick: Pick
    sidecar: Path | None


def check_album_name(name: str) -> str:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise UsageError(f"--album must be a plain folder name (no slashes, not hidden), got {name!r}")
    return name


def album_names(picks: list[Pick], prefix: bool) -> list[str]:
    """Collision-free file names in pick order (see the module docstring)."""
    width = max(3, len(str(len(picks))))
    taken: set[str] = set()
    out: list[str] = []
    for p in picks:
        base = p.path.name
        name = f"{p.order + 1:0{width}d}_{base}" if prefix else base
        stem, ext = os.path.splitext(name)
        k = 2
        while name.casefold() in taken or (name + ".xmp").casefold() in taken:
            name = f"{stem}-{k}{ext}"
            k += 1
        taken.add(name.casefold())
        taken.add((name + ".xmp").casefold())
        out.append(name)
    return out


def prepare_destination(to: Path, album: str, force: bool, create: bool = True) -> Path:
    """The album folder ``to/album``, checked before anything is written: ``to`` a writable folder
    (created when missing, unless not ``create``: a dry run), the album absent, or (``--force``) a
    memoire album."""
    if to.exists() and not to.is_dir():
        raise MemoireError(f"export folder {to} exists and is not a folder")
    if not to.exists():
        if not create:
            return to / album
        try:
            to.mkdir(parents=True)
        except OSError as exc:
            raise MemoireError(f"cannot create export folder {to}: {exc.strerror or type(exc).__name__}") from None
    if not os.access(to, os.W_OK | os.X_OK):
        raise MemoireError(f"export folder {to} is not writable")
    dest = to / album
    if dest.exists() or dest.is_symlink():
        if not force:
            raise MemoireError(f"album folder {dest} exists: choose another --album, or --force to replace it")
        foreign = foreign_files(dest)
        if foreign:
            raise MemoireError(f"album folder {dest} holds files memoire did not write ({foreign[0]}"
                               f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}): not replaced, even with --force")
    return dest


def foreign_files(dest: Path) -> list[str]:
    """Entries of an existing album folder that its ``.memoire-album.json`` does not list (all, without one)."""
    if not dest.is_dir() or dest.is_symlink():
        return [dest.name]
    try:
        listed = set(json.loads((dest / ALBUM_LIST).read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    return sorted(n for n in os.listdir(dest) if n != ALBUM_LIST and n not in listed)


def build_album(dest: Path, entries: list[Entry], copy: bool, gallery_html: str | None) -> list[str]:
    """Write the album (see the module docstring); returns the names written. Raises
    :class:`~memoire_cli.errors.MemoireError` (one line) when the file system refuses."""
    staging = dest.parent / f".{dest.name}.memoire-{os.getpid()}.tmp"
    old = dest.parent / f".{dest.name}.memoire-{os.getpid()}.old"
    for leftover in (staging, old):
        shutil.rmtree(leftover, ignore_errors=True)
    written: list[str] = []
    moved_aside = done = False
    try:
        staging.mkdir()
        for e in entries:
            _place(e.pick.path, staging / e.name, copy)
            written.append(e.name)
            if e.sidecar is not None:
                _place(e.sidecar, staging / f"{e.name}.xmp", copy)
                written.append(f"{e.name}.xmp")
        if gallery_html is not None:
            (staging / GALLERY).write_text(gallery_html, encoding="utf-8")
            written.append(GALLERY)
        (staging / ALBUM_LIST).write_text(json.dumps({"files": written, "copy": copy}, indent=1) + "\n", encoding="utf-8")
        if dest.exists() or dest.is_symlink():
            os.replace(dest, old)
            moved_aside = True
        os.replace(staging, dest)
        done = True
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        symlinks_refused = not copy and exc.errno in (errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP)
        hint = "; this file system may not take symbolic links: try --copy" if symlinks_refused else ""
        raise MemoireError(f"cannot write the album {dest}: {exc.strerror or type(exc).__name__}{where}{hint}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if moved_aside and not done and not dest.exists():
            os.replace(old, dest)  # the replaced album comes back
        elif old.is_symlink():
            old.unlink()
        else:
            shutil.rmtree(old, ignore_errors=True)
    return written


def _place(src: Path, dst: Path, copy: bool) -> None:
    if copy:
        shutil.copy2(src, dst)
    else:
        os.symlink(os.path.abspath(src), dst)
