"""`memoire ingest`: Read a real photo directory (EXIF, XMP faces and keywords, ratings) into a workspace."""

from __future__ import annotations

from memoire_cli.cli import WorkspaceOpt, not_built

HELP = """Read a real photo directory (EXIF, XMP faces and keywords, ratings) into a workspace."""


def command(workspace: WorkspaceOpt = None) -> None:
    not_built("ingest")
