"""Writing the picks' stars, colour label and pick flag into the original photos' XMP sidecars.

* **Which sidecar.** The one beside the photo now, found as `memoire ingest` finds it
  (:mod:`memoire_cli.ingest.scan`): ``IMG.jpg.xmp`` first, then ``IMG.xmp``, any case. Without one,
  a new sidecar is named as the folder's other sidecars are (``IMG.xmp`` when most of them use the
  stem and no other photo there shares it, else ``IMG.jpg.xmp``, digiKam's and darktable's style).
* **What.** For each pick: ``xmp:Rating`` = its stars (:func:`memoire_cli.export.picks.stars_for`),
  the colour label as ``xmp:Label`` and ``digiKam:ColorLabel``, and ``digiKam:PickLabel`` = 3
  (accepted); merged as :mod:`memoire_cli.export.xmp_write` says (the owner's values win unless
  ``--overwrite``). For a photo without a sidecar, the rating and label ingest read from the photo
  itself (embedded XMP, EXIF) are the owner's too: a new sidecar then leaves them out, so they stay.
* **Safely.** Before a sidecar is changed its bytes are copied to the workspace,
  ``backups/export-<UTC time>/<path in the folder>``; each sidecar is replaced atomically
  (:func:`~memoire_cli.export.xmp_write.write_atomic`), so an interrupted export leaves every sidecar
  either as it was or fully written. A sidecar that is not an XMP packet, or cannot be read or
  written, is reported in one line and skipped; the others go on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from memoire_cli.export.picks import Pick
from memoire_cli.export.xmp_write import (
    COLOUR_LABEL,
    DIGIKAM_COLOURS,
    LABEL,
    LABEL_ALIASES,
    PICK_LABEL,
    RATING,
    Change,
    SidecarError,
    merge,
    write_atomic,
)

SIDECAR_EXTENSION = ".xmp"
#: The colour labels `--label` accepts: the names darktable and Lightroom's default label set share.
LABELS = ("Red", "Yellow", "Green", "Blue", "Purple")
#: digiKam:PickLabel's "accepted".
ACCEPTED = "3"


@dataclass
class SidecarResult:
    """One photo's sidecar: ``created``, ``updated``, ``unchanged`` (nothing to change or all kept) or ``failed``."""

    pick: Pick
    path: Path | None
    action: str
    changes: list[Change] = field(default_factory=list)
    error: str | None = None
    backup: Path | None = None

    @property
    def rel(self) -> str:
        """The sidecar relative to the ingested folder (the photo's, when there is no sidecar)."""
        return self.pick.rel if self.path is None else _rel(self.pick, self.path)


def _rel(pick: Pick, path: Path) -> str:
    """A file beside ``pick``'s photo, named relative to the ingested folder."""
    parent = pick.rel.rsplit("/", 1)[0] + "/" if "/" in pick.rel else ""
    return parent + path.name


def values_for(pick: Pick, label: str | None) -> dict[str, str]:
    """The properties written for a pick (``label`` None: no colour label)."""
    values = {RATING.key: str(pick.stars)}
    if label is not None:
        number = LABEL_ALIASES.get(label) or next(k for k, v in DIGIKAM_COLOURS.items() if v == label)
        values[LABEL.key] = label
        values[COLOUR_LABEL.key] = str(number)
    values[PICK_LABEL.key] = ACCEPTED
    return values


def locate(photo: Path) -> tuple[Path, bool]:
    """(the photo's sidecar, whether it exists): see the module docstring."""
    folder = photo.parent
    try:
        names = {n.lower(): n for n in os.listdir(folder)}
    except OSError:
        names = {}
    stem = os.path.splitext(photo.name)[0]
    for candidate in (photo.name + SIDECAR_EXTENSION, stem + SIDECAR_EXTENSION):
        hit = names.get(candidate.lower())
        if hit is not None and (folder / hit).is_file():
            return folder / hit, True
    sidecars = [n for n in names.values() if n.lower().endswith(SIDECAR_EXTENSION)]
    full = sum(1 for n in sidecars if os.path.splitext(n[: -len(SIDECAR_EXTENSION)])[1])
    stem_style = len(sidecars) - full > full
    shared = any(os.path.splitext(n)[0].lower() == stem.lower() and n != photo.name and not n.lower().endswith(SIDECAR_EXTENSION)
                 for n in names.values())
    return folder / ((stem if stem_style and not shared else photo.name) + SIDECAR_EXTENSION), False


def write_sidecars(picks: list[Pick], label: str | None, overwrite: bool, dry_run: bool,
                   backup_dir: Path) -> list[SidecarResult]:
    """Merge each pick's values into its sidecar (see the module docstring); never raises for one file."""
    out: list[SidecarResult] = []
    for pick in picks:
        if not pick.path.is_file():
            out.append(SidecarResult(pick, None, "failed", error="the photo is gone (moved or deleted since ingest)"))
            continue
        path, exists = locate(pick.path)
        try:
            data = path.read_bytes() if exists else None
        except OSError as exc:
            out.append(SidecarResult(pick, path, "failed", error=f"cannot read ({exc.strerror or type(exc).__name__})"))
            continue
        try:
            result = merge(data, values_for(pick, label), overwrite, inherited=pick.known if data is None else None)
        except SidecarError as exc:
            out.append(SidecarResult(pick, path, "failed", error=str(exc)))
            continue
        action = ("created" if result.created else "updated") if result.changed else "unchanged"
        entry = SidecarResult(pick, path, action, result.changes)
        if result.changed and not dry_run:
            try:
                if data is not None:
                    entry.backup = backup_dir / Path(*_rel(pick, path).split("/"))
                    entry.backup.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(entry.backup, data)
                write_atomic(path, result.data)  # type: ignore[arg-type]
            except OSError as exc:
                entry.action, entry.error = "failed", f"cannot write ({exc.strerror or type(exc).__name__})"
        out.append(entry)
    return out
