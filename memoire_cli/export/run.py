"""`memoire export` end to end: the picks → XMP sidecars of the originals → the album and its gallery.

Order: the album's destination is checked first (nothing is written when it would be refused),
then the sidecars are written (so the album's copied sidecars carry the new values), then the
album is built. Per-file failures (a photo gone, a sidecar that is not XMP or cannot be written)
are reported one line each and skipped; the run then ends with exit code 1 after doing the rest.
``dry_run`` prints what would change and writes nothing at all.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from memoire_cli import __version__
from memoire_cli.errors import MemoireError


@dataclass(frozen=True)
class ExportOptions:
    """What `memoire export` does (the command takes its defaults from here)."""

    to: Path | None = None  # the folder the album goes in (None: no album)
    album: str = "memoire-picks"
    copy: bool = False
    prefix: bool = True
    force: bool = False
    write_xmp: bool = False
    overwrite: bool = False
    label: str | None = "Green"
    gallery: bool = True
    dry_run: bool = False


def run_export(ws: Any, user_id: str, opts: ExportOptions, console: Any) -> dict[str, Any]:
    """Do the export (see the module docstring); returns the manifest, raises MemoireError after
    reporting per-file failures."""
    from memoire_cli.export.album import Entry, album_names, build_album, prepare_destination
    from memoire_cli.export.picks import load_selection
    from memoire_cli.export.sidecars import locate, write_sidecars
    from memoire_cli.workspace import utcnow

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, emoji=False)

    selection = load_selection(ws, user_id)
    if not selection.picks:
        raise MemoireError(f"user {user_id}'s ranking has no picks (the session matched no image)")
    verb = "would " if opts.dry_run else ""
    dest = None
    if opts.to is not None:
        dest = prepare_destination(opts.to, opts.album, opts.force, create=not opts.dry_run)
    failures: list[str] = []

    sidecars: list[Any] = []
    if opts.write_xmp:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
        backup_dir = ws.root / "backups" / f"export-{stamp}"
        sidecars = write_sidecars(selection.picks, opts.label, opts.overwrite, opts.dry_run, backup_dir)
        for s in sidecars:
            if s.action == "failed":
                failures.append(s.rel)
                say(f"export: error: {s.rel}: {s.error}; skipped")
            elif s.action != "unchanged" or opts.dry_run:
                changes = "; ".join(c.describe() for c in s.changes if c.action != "unchanged") or "nothing to change"
                action = {"created": "create", "updated": "update", "unchanged": "leave"}[s.action] if opts.dry_run else s.action
                say(f"export: {verb}{action} {s.rel}: {changes}")
            kept = [c for c in s.changes if c.action == "kept"]
            if kept and not opts.dry_run and s.action == "unchanged":
                say(f"export: {s.rel}: " + "; ".join(c.describe() for c in kept))
        backups = [s.backup for s in sidecars if s.backup is not None]
        if backups:
            say(f"export: the previous versions of {len(backups)} sidecar(s) are in {backup_dir}")

    n_files = 0
    album_path = None
    if opts.to is not None:
        present = [p for p in selection.picks if p.path.is_file()]
        for p in selection.picks:
            if p not in present and not any(s.pick is p and s.action == "failed" for s in sidecars):
                failures.append(p.rel)
                say(f"export: error: {p.rel}: the photo is gone (moved or deleted since ingest); not in the album")
        names = album_names(present, opts.prefix)
        entries = []
        for p, name in zip(present, names):
            side, exists = locate(p.path)
            entries.append(Entry(name, p, side if exists else None))
        album_path = opts.to / opts.album
        if album_path.resolve().is_relative_to(selection.folder.resolve()):
            say(f"export: warning: the album {album_path} is inside the photo folder {selection.folder}: "
                "a later `memoire ingest` of the folder will find its files again (as duplicates)")
        how = "copies" if opts.copy else "symbolic links"
        if opts.dry_run:
            say(f"export: would write the album {album_path} ({len(entries)} files as {how}"
                f"{', with index.html' if opts.gallery else ''}):")
            for e in entries:
                say(f"  {e.name} ← {e.pick.rel} ({e.pick.stars}★){' + sidecar' if e.sidecar else ''}")
        else:
            html = None
            if opts.gallery:
                from memoire_cli.export.gallery import render, thumbnails

                html = render(replace(selection, picks=present), names,
                              thumbnails(ws, user_id, present), opts.album)
            build_album(dest, entries, opts.copy, html)  # type: ignore[arg-type]
            n_files = len(entries)
            say(f"export: album {album_path}: {len(entries)} files as {how}"
                f"{' and index.html' if opts.gallery else ''}")

    counts = {a: sum(1 for s in sidecars if s.action == a) for a in ("created", "updated", "unchanged", "failed")}
    if failures:
        raise MemoireError(f"{len(failures)} file(s) not exported (see above); the rest was {'planned' if opts.dry_run else 'done'}")
    return {
        "memoire": __version__, "stage": "export", "workspace": str(ws.root), "user": user_id,
        "session": selection.session, "picks": len(selection.picks), "dry_run": opts.dry_run,
        "album": str(album_path) if album_path is not None else None, "files": n_files,
        "gallery": str(album_path / "index.html") if album_path is not None and opts.gallery and not opts.dry_run else None,
        "sidecars": counts if opts.write_xmp else None,
    }
