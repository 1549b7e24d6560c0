"""`memoire export`: Act on the picks of `memoire rank`: an album folder with a gallery, stars and labels in the sidecars."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoire_cli.cli import WorkspaceOpt
from memoire_cli.export.run import ExportOptions  # light: no heavy imports, the defaults' one source

HELP = """Act on the picks of `memoire rank` on an ingested photo folder.

--to DIR: the picks as the folder DIR/ALBUM — files named in pick order (001_IMG_1234.jpg …) as
symbolic links to the originals, or copies with --copy; each file's XMP sidecar beside it
(NAME.xmp); index.html, a self-contained gallery of the picks (embedded thumbnails, rank, stars,
reasons). An existing album folder is refused unless --force (which replaces only a folder memoire
wrote).

--write-xmp: stars, a colour label and a pick flag written into the ORIGINAL photos' XMP sidecars
(IMG.jpg.xmp or IMG.xmp, as the folder has them; created when missing), which digiKam, Lightroom
and darktable read: xmp:Rating (of k picks, the first ⌈k/3⌉ 5 stars, the next ⌈k/3⌉ 4, the rest 3),
xmp:Label and digiKam:ColorLabel (--label, default Green), digiKam:PickLabel 3 (accepted). Merged
into what the sidecar holds (nothing else changes); a value the owner set (in the sidecar, or in
the photo itself when it has none) is kept unless --overwrite; each previous sidecar is copied to WORKSPACE/backups/export-TIME/ first and each is
replaced atomically. A re-run of `memoire ingest` reads them back: the stars become the ratings
that `memoire eval` takes as the owner's ground truth, and the pick flags favourites.

--dry-run prints what would change and writes nothing. A sidecar that is not XMP, or a photo gone
since ingest, is reported in one line and skipped; the rest is done and the exit code is 1.
Reads the workspace from --workspace, $MEMOIRE_WORKSPACE or a manifest on stdin (memoire rank | memoire export …).
"""

_D = ExportOptions()


def command(
    workspace: WorkspaceOpt = None,
    to: Annotated[Path | None, typer.Option("--to", help="Folder to write the album in (created when missing).", show_default=False)] = None,
    album: Annotated[str, typer.Option("--album", help="Name of the album folder inside --to.")] = _D.album,
    copy: Annotated[bool, typer.Option("--copy", help="Copy the photos (and sidecars) instead of linking to them.")] = _D.copy,
    prefix: Annotated[bool, typer.Option("--prefix/--no-prefix", help="Name album files 001_NAME … in pick order (else: original names, clashes get -2, -3 …).")] = _D.prefix,
    gallery: Annotated[bool, typer.Option("--gallery/--no-gallery", help="Write index.html (the picks' gallery) in the album.")] = _D.gallery,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing album folder that memoire wrote.")] = _D.force,
    write_xmp: Annotated[bool, typer.Option("--write-xmp", help="Write stars, colour label and pick flag into the originals' XMP sidecars.")] = _D.write_xmp,
    label: Annotated[str, typer.Option("--label", help="Colour label of the picks: Red, Yellow, Green, Blue, Purple, or none.")] = _D.label or "none",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace ratings, labels and flags the owner set (they are kept by default).")] = _D.overwrite,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would change; write nothing.")] = _D.dry_run,
    user: Annotated[str | None, typer.Option("--user", help="Whose picks (default: the only ranked user).", show_default=False)] = None,
) -> None:
    from memoire_cli.console import emit_json, stderr_console
    from memoire_cli.errors import UsageError
    from memoire_cli.export.album import check_album_name
    from memoire_cli.export.picks import choose_user
    from memoire_cli.export.run import run_export
    from memoire_cli.export.sidecars import LABELS
    from memoire_cli.manifest import resolve_workspace
    from memoire_cli.workspace import Workspace

    if to is None and not write_xmp:
        raise UsageError("nothing to do: give --to DIR (an album) and/or --write-xmp (the originals' sidecars)")
    check_album_name(album)
    labels = {n.lower(): n for n in LABELS}
    if label.lower() not in (*labels, "none"):
        raise UsageError(f"--label must be one of {', '.join(LABELS)} or none, got {label!r}")
    opts = ExportOptions(to=to, album=album, copy=copy, prefix=prefix, force=force, write_xmp=write_xmp,
                         overwrite=overwrite, label=labels.get(label.lower()), gallery=gallery, dry_run=dry_run)
    ws = Workspace.open(resolve_workspace(workspace), "export")
    manifest = run_export(ws, choose_user(ws, user), opts, stderr_console())
    emit_json(manifest)
